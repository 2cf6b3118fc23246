"""Drift of generated objects wherever they are, `check --fix` that settles, and prunes that are said."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, require_tool, run

# ---------------------------------------------------------------------------------------------
# kpt prunes are reported


def test_one_off_eval_reports_each_pruned_tenant_with_its_files(tmp_path: Path, fn_exec: Path) -> None:
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg / "base")
    first = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--", "tenants=a,b,c,d"])
    assert first.returncode == 0, first.stderr.decode()
    results = tmp_path / "results"
    second = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--results-dir", results, "--", "tenants=a,b"])
    assert second.returncode == 0, second.stderr.decode()
    assert sorted({p.parent.name for p in (pkg / "overlays").rglob("*.yaml")}) == ["a", "b"]
    shown = second.stdout.decode() + second.stderr.decode()
    infos: list[dict[str, Any]] = [
        r
        for item in yaml.safe_load((results / "results.yaml").read_text())["items"]
        for r in item.get("results", [])
    ]
    for tenant in "cd":
        files = [f"overlays/{tenant}/{name}" for name in GENERATED_FILES]
        want = f"removed the generated files of tenant '{tenant}' (no longer in the spec): {', '.join(files)}"
        assert want in shown, shown
        assert [r["severity"] for r in infos if r["message"] == want] == ["info"], infos
    assert len(infos) == 2, infos
    # nothing pruned, nothing said
    third = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--results-dir", results, "--", "tenants=a,b"])
    assert third.returncode == 0
    assert "removed" not in third.stdout.decode() + third.stderr.decode()


GENERATED_FILES = ("namespace.yaml", "raycluster_raycluster.yaml", "virtualservice_ray-dashboard.yaml")
