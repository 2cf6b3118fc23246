"""Under the real kpt: a tenant's own Ray workloads pinned, and `exec: ray-tenants check` as a validator."""

from __future__ import annotations

import copy
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli
from tests.conftest import REPO, kptfile, require_tool, run
from tests.test_own_workloads import SPEC, pinned, ray_job


def validator(fn_exec: Path, mutator: bool = True) -> str:
    """A Kptfile whose validators run `<fn> check` with no functionConfig (after the mutator)."""
    text = kptfile(fn_exec)
    if not mutator:
        text = text.split("pipeline:")[0] + "pipeline:\n"
    return text + f"  validators:\n    - exec: {fn_exec} check\n"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """The example bases, a spec with an opted-out tenant, and users' RayJobs in tenant folders."""
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg / "base")
    (pkg / "tenants.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    for tenant, name in (("team-b", "train"), ("lab", "notebook")):
        folder = pkg / "overlays" / tenant
        folder.mkdir(parents=True)
        (folder / "rayjob.yaml").write_text(yaml.safe_dump(ray_job(name=name), sort_keys=False))
    return pkg


def render(pkg: Path) -> tuple[int, str]:
    result = run(["kpt", "fn", "render", "--allow-exec", pkg])
    return result.returncode, result.stdout.decode() + result.stderr.decode()


def test_render_pins_a_users_workload_in_a_tenant_folder(package: Path, fn_exec: Path) -> None:
    (package / "Kptfile").write_text(kptfile(fn_exec))
    lab = (package / "overlays" / "lab" / "rayjob.yaml").read_bytes()
    code, output = render(package)
    assert code == 0, output
    job = yaml.safe_load((package / "overlays" / "team-b" / "rayjob.yaml").read_text())
    assert pinned(job)
    assert job["metadata"] == {"name": "train"}
    # tenant lab says spot: false: its file is left as it was; and no tenant got a copy of either job
    assert (package / "overlays" / "lab" / "rayjob.yaml").read_bytes() == lab
    team_a = sorted(p.name for p in (package / "overlays" / "team-a").iterdir())
    assert "raycluster_raycluster.yaml" in team_a
    assert [n for n in team_a if n.startswith("rayjob")] == []
    before = {p: p.read_bytes() for p in package.rglob("*.yaml")}
    assert render(package)[0] == 0
    assert {p: p.read_bytes() for p in package.rglob("*.yaml")} == before


def test_exec_check_validates_without_a_function_config(package: Path, fn_exec: Path) -> None:
    (package / "Kptfile").write_text(validator(fn_exec))
    code, output = render(package)
    assert code == 0, output
    assert f'[PASS] "{fn_exec} check"' in output
    # kpt passes no files: the advice for a missing CRD is to add it to the package
    assert "add its CustomResourceDefinition to the package to validate the rest" in output
    assert "--crd" not in output


def test_exec_check_fails_on_an_unpinned_workload(package: Path, fn_exec: Path) -> None:
    (package / "Kptfile").write_text(kptfile(fn_exec))
    assert render(package)[0] == 0
    job = package / "overlays" / "team-b" / "rayjob.yaml"
    job.write_text(yaml.safe_dump(ray_job(name="train"), sort_keys=False))
    unpinned = job.read_bytes()
    (package / "Kptfile").write_text(validator(fn_exec, mutator=False))
    code, output = render(package)
    assert code == 1, output
    assert f'[FAIL] "{fn_exec} check"' in output
    assert "spec.rayClusterSpec.workerGroupSpecs[0].template.spec.affinity" in output
    assert "worker group 'cpu' is not pinned to Spot" in output
    assert "RayJob/train" in output
    assert job.read_bytes() == unpinned  # a validator changes nothing


def validate(items: list[dict[str, Any]], fn_config: dict[str, Any] | None, mp: pytest.MonkeyPatch) -> str:
    """`ray-tenants check` as kpt runs a validator, in-process: the messages of its results."""
    rl: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if fn_config is not None:
        rl["functionConfig"] = fn_config
    mp.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(rl).encode())))
    out = io.StringIO()
    cli.main(["check"], out, io.StringIO())
    return "\n".join(r["message"] for r in yaml.safe_load(out.getvalue()).get("results", []))


def test_a_tenant_spec_as_the_validators_function_config_is_the_spec_checked_against(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = ray_job("lab", "notebook")  # tenant lab says spot: false
    job["metadata"]["annotations"] = {"config.kubernetes.io/path": "jobs/notebook.yaml"}
    assert "is not pinned to Spot" in validate([copy.deepcopy(job)], None, monkeypatch)
    assert "is not pinned to Spot" not in validate([copy.deepcopy(job)], SPEC, monkeypatch)
