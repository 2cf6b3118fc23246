"""Golden cases, one convention for every front end: tests/testdata/<front end>/<case>/.

A case folder holds its inputs (every file or folder whose name does not start with `_`), its
`_fnconfig.yaml` (the functionConfig) or `_args.txt` (the command line), and `_expected.yaml` or
`_expected.txt`: the whole output, compared byte for byte. The front ends:

- krm: resources.yaml (the items) and _fnconfig.yaml through the KRM function; _expected.yaml is
  the exit code and the whole output ResourceList, results included.
- spot: resources.yaml (Ray workloads) and a spot-only _fnconfig.yaml whose `spec.spot` is given
  to the Spot engine alone (parse_spot, then apply_spot on each object); _expected.yaml is the
  items and the findings.
- check: `ray-tenants check ARGS` run in the case folder, ARGS from _args.txt (shell words) or
  else every input file; _expected.txt is the whole report: the command, the exit code, every
  stdout line and the stderr summary.
- overlays: base/ and tenants.yaml through `ray-tenants render --config tenants.yaml --output
  overlays --out overlays base` in a scratch copy; _expected.txt is the exit code, stdout, stderr
  and every file written. (These cases are also built with the real kustomize by
  tests/test_overlays.py, which proves them equal to `output: resources`.)

WRITE_GOLDEN_OUTPUT=1 rewrites every _expected file; review the diff, it is the specification.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, krm, yamlio
from krm_fn.spot import apply_spot, parse_spot
from tests.conftest import TESTDATA

WRITE_GOLDEN = os.environ.get("WRITE_GOLDEN_OUTPUT") == "1"


def inputs(case: Path) -> list[Path]:
    """The case's input files and folders: everything not named `_...`."""
    return sorted(p for p in case.iterdir() if not p.name.startswith("_"))


# --- krm ---------------------------------------------------------------------------------------


def resource_list(case: Path) -> bytes:
    """The input ResourceList of a krm case, as kpt or kustomize would send it."""
    items = [d for d in yaml.safe_load_all((case / "resources.yaml").read_text()) if d is not None]
    config = yaml.safe_load((case / "_fnconfig.yaml").read_text())
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": config,
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def run_krm(case: Path) -> tuple[int, str, str]:
    """The KRM function on a krm case: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(resource_list(case)), out, err)
    return code, out.getvalue(), err.getvalue()


def krm_output(case: Path) -> str:
    code, out, _ = run_krm(case)
    return f"# exit code: {code}\n{out}"


# --- spot --------------------------------------------------------------------------------------


def spot_settings(case: Path) -> Any:
    """The `spec.spot` of a spot case's functionConfig."""
    return yamlio.load((case / "_fnconfig.yaml").read_text())["spec"]["spot"]


def apply_case_spot(case: Path) -> dict[str, Any]:
    """Parse the case's spot settings and apply them to every input object."""
    spec, results = parse_spot(spot_settings(case))
    items = []
    for doc in yamlio.load_documents((case / "resources.yaml").read_text()):
        out, found = apply_spot(doc.data, spec)
        items.append(out)
        results.extend(found)
    return {"items": items, "results": [r.to_krm() for r in results]}


def spot_output(case: Path) -> str:
    return yamlio.dump(apply_case_spot(case))


# --- check -------------------------------------------------------------------------------------


def check_args(case: Path) -> list[str]:
    """The check's arguments: _args.txt, or else every input of the case."""
    given = case / "_args.txt"
    if given.exists():
        return shlex.split(given.read_text())
    return [p.name for p in inputs(case)]


def check_output(case: Path) -> str:
    args = check_args(case)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        # relative paths, so the report reads the same wherever the checkout is
        mp.chdir(case)
        code = cli.main(["check", *args], out, err)
    return (
        f"$ ray-tenants check {shlex.join(args)}\n"
        f"exit code: {code}\n"
        f"--- stdout\n{out.getvalue()}"
        f"--- stderr\n{err.getvalue()}"
    )


# --- overlays ----------------------------------------------------------------------------------

OVERLAYS_ARGS = ["--config", "tenants.yaml", "--output", "overlays", "--out", "overlays", "base"]


def overlays_output(case: Path) -> str:
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as mp:
        work = Path(scratch)
        for given in inputs(case):
            copy = shutil.copytree if given.is_dir() else shutil.copy
            copy(given, work / given.name)
        mp.chdir(work)
        code = cli.main(["render", *OVERLAYS_ARGS], out, err)
        written = sorted(p for p in (work / "overlays").rglob("*") if p.is_file())
        files = "".join(f"--- {p.relative_to(work).as_posix()}\n{p.read_text()}" for p in written)
    return (
        f"$ ray-tenants render {shlex.join(OVERLAYS_ARGS)}\n"
        f"exit code: {code}\n"
        f"--- stdout\n{out.getvalue()}"
        f"--- stderr\n{err.getvalue()}"
        f"{files}"
    )


# --- the one runner ----------------------------------------------------------------------------

FRONT_ENDS: dict[str, tuple[Callable[[Path], str], str]] = {
    "krm": (krm_output, "_expected.yaml"),
    "spot": (spot_output, "_expected.yaml"),
    "check": (check_output, "_expected.txt"),
    "overlays": (overlays_output, "_expected.txt"),
}


def cases(front_end: str) -> list[str]:
    return sorted(p.name for p in (TESTDATA / front_end).iterdir() if p.is_dir())


CASES = [(front_end, name) for front_end in FRONT_ENDS for name in cases(front_end)]


@pytest.mark.parametrize(("front_end", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_golden(front_end: str, name: str) -> None:
    case = TESTDATA / front_end / name
    produce, expected_name = FRONT_ENDS[front_end]
    actual = produce(case)
    expected_file = case / expected_name
    if WRITE_GOLDEN:
        expected_file.write_text(actual)
    assert expected_file.exists(), f"no {expected_file}; run with WRITE_GOLDEN_OUTPUT=1 and review it"
    assert actual == expected_file.read_text()


def test_every_case_folder_is_a_case_of_a_known_front_end() -> None:
    """A case left in a folder the runner does not know would never run."""
    runs = {"krm", "spot", "check", "overlays"}
    fixtures = {"hostile", "container", "cel"}  # inputs of other suites, not goldens
    assert {p.name for p in TESTDATA.iterdir() if p.is_dir()} == runs | fixtures
    assert set(FRONT_ENDS) == runs
    for front_end, name in CASES:
        case = TESTDATA / front_end / name
        assert inputs(case), case
        assert (case / FRONT_ENDS[front_end][1]).exists(), case


# --- what the krm and spot cases promise beyond their text -------------------------------------


KRM_CASES = cases("krm")
SPOT_CASES = cases("spot")


@pytest.mark.parametrize("name", [c for c in KRM_CASES if c.startswith("error-")])
def test_error_cases_return_input_unchanged_and_fail(name: str) -> None:
    case = TESTDATA / "krm" / name
    code, out, err = run_krm(case)
    rl = yaml.safe_load(out)
    given = yaml.safe_load(resource_list(case))
    assert code == 1
    assert rl["items"] == given["items"]
    errors = [r for r in rl["results"] if r["severity"] == "error"]
    assert errors
    # one stderr line per error, each naming where it is
    assert len([line for line in err.splitlines() if line.startswith("ray-tenants: ")]) >= len(errors)


@pytest.mark.parametrize("name", [c for c in KRM_CASES if c.startswith("kpt-") or c == "spot-only"])
def test_rerender_is_idempotent(name: str) -> None:
    """Feeding the output back in, as kpt does on the next render, gives the same output."""
    case = TESTDATA / "krm" / name
    code, out, _ = run_krm(case)
    assert code == 0
    first = yaml.safe_load(out)
    again = {**first, "functionConfig": yaml.safe_load((case / "_fnconfig.yaml").read_text())}
    again.pop("results", None)
    out2, err2 = io.StringIO(), io.StringIO()
    assert krm.run(io.BytesIO(yaml.safe_dump(again).encode()), out2, err2) == 0
    assert yaml.safe_load(out2.getvalue())["items"] == first["items"]


@pytest.mark.parametrize("name", SPOT_CASES)
def test_spot_placement_is_idempotent(name: str) -> None:
    case = TESTDATA / "spot" / name
    once = apply_case_spot(case)
    spec, _ = parse_spot(spot_settings(case))
    twice = [apply_spot(obj, spec)[0] for obj in once["items"]]
    assert yamlio.dump_all(twice) == yamlio.dump_all(once["items"])


def test_spot_cases_cover_every_provider_and_mode() -> None:
    seen = set()
    for name in SPOT_CASES:
        raw = spot_settings(TESTDATA / "spot" / name) or {}
        seen.add((raw.get("provider", "gke"), raw.get("mode", "required")))
    for provider in ("gke", "eks", "karpenter", "aks", "custom"):
        for mode in ("required", "preferred"):
            assert (provider, mode) in seen
    assert ("none", "required") in seen
