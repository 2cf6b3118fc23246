"""Golden cases: each tests/testdata/golden/<case>/ holds resources.yaml and fn-config.yaml (the
input ResourceList's items and functionConfig) and _expected.yaml, the whole output ResourceList
with its results and the exit code. WRITE_GOLDEN_OUTPUT=1 rewrites _expected.yaml; review the diff.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import yaml

from krm_fn import krm
from tests.conftest import TESTDATA

GOLDEN = TESTDATA / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def resource_list(case: Path) -> bytes:
    """The input ResourceList of a case, as kpt or kustomize would send it."""
    items = [d for d in yaml.safe_load_all((case / "resources.yaml").read_text()) if d is not None]
    config = yaml.safe_load((case / "fn-config.yaml").read_text())
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": config,
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def run_case(case: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(resource_list(case)), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    case = GOLDEN / name
    code, out, _ = run_case(case)
    actual = f"# exit code: {code}\n{out}"
    expected_file = case / "_expected.yaml"
    if os.environ.get("WRITE_GOLDEN_OUTPUT") == "1":
        expected_file.write_text(actual)
    assert expected_file.exists(), f"no {expected_file}; run with WRITE_GOLDEN_OUTPUT=1 and review it"
    assert actual == expected_file.read_text()


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("error-")])
def test_error_cases_return_input_unchanged_and_fail(name: str) -> None:
    case = GOLDEN / name
    code, out, err = run_case(case)
    rl = yaml.safe_load(out)
    inputs = yaml.safe_load(resource_list(case))
    assert code == 1
    assert rl["items"] == inputs["items"]
    errors = [r for r in rl["results"] if r["severity"] == "error"]
    assert errors
    # one stderr line per error, each naming where it is
    assert len([line for line in err.splitlines() if line.startswith("ray-tenants: ")]) >= len(errors)


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("kpt-") or c == "spot-only"])
def test_rerender_is_idempotent(name: str) -> None:
    """Feeding the output back in, as kpt does on the next render, gives the same output."""
    case = GOLDEN / name
    code, out, _ = run_case(case)
    assert code == 0
    first = yaml.safe_load(out)
    again = {**first, "functionConfig": yaml.safe_load((case / "fn-config.yaml").read_text())}
    again.pop("results", None)
    out2, err2 = io.StringIO(), io.StringIO()
    assert krm.run(io.BytesIO(yaml.safe_dump(again).encode()), out2, err2) == 0
    assert yaml.safe_load(out2.getvalue())["items"] == first["items"]
