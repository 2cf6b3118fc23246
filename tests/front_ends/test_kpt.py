"""The function under the real kpt: render twice, prune, eval with k=v, failures that write nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DEFAULT_ISOLATION_FILES, REPO, kptfile, require_tool, run

BASE_KUSTOMIZATION = """\
# a kustomization without metadata.name: not the function's, passed through
resources:
  - raycluster.yaml
  - virtualservice.yaml
"""


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a package by relative path, with its exact bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def package(tmp_path: Path, fn_exec: Path) -> Path:
    """The shipped example as a kpt package whose pipeline runs the function."""
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg / "base")
    (pkg / "base" / "kustomization.yaml").write_text(BASE_KUSTOMIZATION)
    shutil.copy(REPO / "overlays" / "tenants.yaml", pkg / "tenants.yaml")
    (pkg / "Kptfile").write_text(kptfile(fn_exec, "ray-tenants-example"))
    return pkg


def render(pkg: Path) -> None:
    result = run(["kpt", "fn", "render", "--allow-exec", pkg])
    assert result.returncode == 0, result.stderr.decode()


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_render_writes_each_tenant_and_keeps_bases_byte_for_byte(package: Path) -> None:
    before = tree(package)
    render(package)
    after = tree(package)
    # bases, their comments, the Kptfile, the spec and the kustomization: all unchanged
    for path, content in before.items():
        assert after[path] == content, f"{path} changed"
    generated = sorted(set(after) - set(before))
    assert generated == sorted(
        f"overlays/{t}/{f}"
        for t in ("mlops", "research")
        for f in (
            "namespace.yaml",
            "raycluster_raycluster.yaml",
            "virtualservice_ray-dashboard.yaml",
            *DEFAULT_ISOLATION_FILES,
        )
    )
    vs = load(package / "overlays/research/virtualservice_ray-dashboard.yaml")
    assert vs["metadata"] == {
        "name": "ray-dashboard",
        "namespace": "research",
        "labels": {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "research"},
    }
    http = vs["spec"]["http"]
    assert http[0]["match"] == [{"uri": {"exact": "/research"}}]
    assert http[0]["redirect"] == {"uri": "/research/"}
    assert http[1]["match"] == [{"uri": {"prefix": "/research/"}}]
    assert http[1]["rewrite"] == {"uri": "/"}
    assert http[1]["route"][0]["destination"] == {
        "host": "raycluster-head-svc.research.svc.cluster.local",
        "port": {"number": 8265},
    }
    ray = load(package / "overlays/research/raycluster_raycluster.yaml")
    assert ray["spec"]["workerGroupSpecs"][1]["maxReplicas"] == 8
    assert (
        load(package / "overlays/mlops/raycluster_raycluster.yaml")["spec"]["workerGroupSpecs"][1][
            "maxReplicas"
        ]
        == 4
    )


def test_second_render_changes_nothing(package: Path) -> None:
    render(package)
    first = tree(package)
    render(package)
    assert tree(package) == first


def test_removing_a_tenant_prunes_exactly_its_files(package: Path) -> None:
    render(package)
    keep = package / "overlays" / "research" / "notes.yaml"
    keep.write_text(
        "# a file of the team's own\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: research\n"
    )
    before = tree(package)
    spec = load(package / "tenants.yaml")
    spec["spec"]["tenants"] = [t for t in spec["spec"]["tenants"] if t["name"] != "research"]
    (package / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    render(package)
    after = tree(package)
    removed = sorted(set(before) - set(after))
    assert removed == sorted(
        f"overlays/research/{f}"
        for f in (
            "namespace.yaml",
            "raycluster_raycluster.yaml",
            "virtualservice_ray-dashboard.yaml",
            *DEFAULT_ISOLATION_FILES,
        )
    )
    assert after["overlays/research/notes.yaml"] == before["overlays/research/notes.yaml"]
    for path in after:
        if path.startswith("overlays/mlops/") or path.startswith("base/"):
            assert after[path] == before[path]


def test_bad_spec_fails_render_and_writes_nothing(package: Path) -> None:
    render(package)
    before = tree(package)
    text = (package / "tenants.yaml").read_text().replace("- name: research", "- name: Research_Team")
    (package / "tenants.yaml").write_text(text)
    before["tenants.yaml"] = text.encode()
    result = run(["kpt", "fn", "render", "--allow-exec", package])
    assert result.returncode != 0
    assert "spec.tenants[1].name" in result.stderr.decode()
    assert "'Research_Team' is not a namespace name" in result.stderr.decode()
    assert tree(package) == before


def test_eval_with_key_value_config(tmp_path: Path, fn_exec: Path) -> None:
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg)
    result = run(
        ["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--", "tenants=a,b", "provider=gke", "mode=required"]
    )
    assert result.returncode == 0, result.stderr.decode()
    namespaces = sorted(load(p)["metadata"]["name"] for p in pkg.glob("overlays/*/namespace.yaml"))
    assert namespaces == ["a", "b"]
    vs = load(pkg / "overlays/b/virtualservice_ray-dashboard.yaml")
    assert vs["spec"]["http"][1]["match"] == [{"uri": {"prefix": "/b/"}}]


def test_eval_reports_config_errors_against_data_keys(tmp_path: Path, fn_exec: Path) -> None:
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg)
    before = tree(pkg)
    result = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--", "tenants=a,a", "colour=red"])
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "data.tenants: duplicate tenant 'a'" in err
    assert "data.colour: unknown field 'colour'" in err
    assert tree(pkg) == before
