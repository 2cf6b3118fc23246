"""Base folders without a kustomization: the overlay mode writes one, and only its own, beside the bases.

Also: a base kustomization written without apiVersion and kind counts for the check, as it does
for kustomize and for `render`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import yaml

from krm_fn import cli, writer
from krm_fn.results import FnError
from tests.conftest import kptfile, require_tool, run
from tests.overlays.test_overlays import (
    kustomize,
    render,
    render_overlays,
    resources_by_tenant,
    snapshot,
    stage,
)

OWN_LABELS = {"app.kubernetes.io/managed-by": "ray-tenants"}


def written(path: Path) -> dict[str, object]:
    obj = yaml.safe_load(path.read_text())
    assert isinstance(obj, dict)
    return obj


@pytest.fixture
def no_kustomization(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped example with its base folder's kustomization removed, as the current folder."""
    monkeypatch.chdir(stage("example", tmp_path))
    (tmp_path / "base" / "kustomization.yaml").unlink()
    return tmp_path


def test_render_writes_a_base_kustomization_listing_exactly_the_bases(no_kustomization: Path) -> None:
    changes = render_overlays().splitlines()
    assert "wrote base/kustomization.yaml" in changes
    kust = written(no_kustomization / "base" / "kustomization.yaml")
    assert kust["kind"] == "Kustomization"
    assert kust["resources"] == ["raycluster.yaml", "virtualservice.yaml"]
    assert kust["metadata"]["labels"] == OWN_LABELS  # type: ignore[index]
    # every overlay builds with the plain kustomize, to what output: resources gives
    kubectl = require_tool("kubectl")
    for tenant, objects in resources_by_tenant().items():
        assert kustomize(kubectl, f"overlays/{tenant}") == objects
    before = snapshot(no_kustomization)
    assert render_overlays() == ""  # nothing changes the second time
    assert snapshot(no_kustomization) == before


def test_the_functions_base_kustomization_follows_the_base_files(no_kustomization: Path) -> None:
    render_overlays()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "code"}, "data": {"a": "b"}}
    (no_kustomization / "base" / "code.yaml").write_text(yaml.safe_dump(cm))
    assert "wrote base/kustomization.yaml" in render_overlays().splitlines()
    kust = written(no_kustomization / "base" / "kustomization.yaml")
    assert kust["resources"] == ["code.yaml", "raycluster.yaml", "virtualservice.yaml"]


def test_a_users_base_kustomization_is_never_rewritten(no_kustomization: Path) -> None:
    mine = no_kustomization / "base" / "kustomization.yml"
    mine.write_text("resources:\n  - raycluster.yaml\n")
    code, stdout, stderr = render(
        "--config", "tenants.yaml", "--output", "overlays", "--out", "overlays", "base"
    )
    assert code == 1
    assert "does not list 'virtualservice.yaml', which holds base objects" in stderr
    assert stdout == ""
    assert mine.read_text() == "resources:\n  - raycluster.yaml\n"
    assert not (no_kustomization / "base" / "kustomization.yaml").exists()
    assert not (no_kustomization / "overlays").exists()


def test_writer_never_replaces_a_base_kustomization_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    user = tmp_path / "base" / "kustomization.yaml"
    user.write_text("resources: [raycluster.yaml]\n")
    link = tmp_path / "other" / "kustomization.yaml"
    link.parent.mkdir()
    os.symlink(user, link)
    tenant = {tmp_path / "out" / "a" / "namespace.yaml": "kind: Namespace\n"}
    for target in (user, link):
        with pytest.raises(FnError) as caught:
            writer.write_files(tmp_path / "out", tenant, bases={target: "resources: [x.yaml]\n"})
        assert "is never overwritten" in caught.value.results[0].message
        assert user.read_text() == "resources: [raycluster.yaml]\n"
        assert not (tmp_path / "out").exists()  # nothing of the set is written


def test_kpt_render_writes_the_base_kustomization(tmp_path: Path, fn_exec: Path) -> None:
    require_tool("kpt")
    pkg = stage("example", tmp_path / "pkg")
    (pkg / "base" / "kustomization.yaml").unlink()
    spec = yaml.safe_load((pkg / "tenants.yaml").read_text())
    spec["spec"]["output"] = "overlays"
    (pkg / "tenants.yaml").write_text(yaml.safe_dump(spec))
    (pkg / "Kptfile").write_text(kptfile(fn_exec))
    result = run(["kpt", "fn", "render", "--allow-exec", pkg])
    assert result.returncode == 0, result.stderr.decode()
    kust = written(pkg / "base" / "kustomization.yaml")
    assert kust["resources"] == ["raycluster.yaml", "virtualservice.yaml"]
    kubectl = require_tool("kubectl")
    assert kustomize(kubectl, pkg / "overlays" / "mlops")
    before = snapshot(pkg)
    assert run(["kpt", "fn", "render", "--allow-exec", pkg]).returncode == 0
    assert snapshot(pkg) == before


def test_check_reads_a_base_kustomization_without_apiversion_and_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stage("example", tmp_path))
    Path("base/kustomization.yaml").write_text("resources:\n  - raycluster.yaml\n  - virtualservice.yaml\n")
    spec = yaml.safe_load(Path("tenants.yaml").read_text())
    spec["spec"]["output"] = "overlays"
    Path("tenants.yaml").write_text(yaml.safe_dump(spec))
    assert render_overlays()
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", "--config", "tenants.yaml", "base", "overlays"], out, err)
    assert (code, out.getvalue()) == (0, "")
