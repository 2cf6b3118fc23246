"""The isolation layers under the real kpt: the gateway's objects in a folder of their own,
render twice changes nothing, a removed tenant loses its policy, a user's file there is kept."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEFAULT_ISOLATION_FILES, TESTDATA, kptfile, require_tool, run

CASE = TESTDATA / "overlays" / "isolation"  # base/ and a spec with every layer
GATEWAY_FILES = (
    "requestauthentication_ray-tenants.yaml",
    "authorizationpolicy_ray-tenant-mlops.yaml",
    "authorizationpolicy_ray-tenant-research.yaml",
)


def package(tmp_path: Path, fn_exec: Path) -> Path:
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(CASE / "base", pkg / "base")
    shutil.copy(CASE / "tenants.yaml", pkg / "tenants.yaml")
    (pkg / "Kptfile").write_text(kptfile(fn_exec, "isolation"))
    return pkg


def render(pkg: Path) -> None:
    result = run(["kpt", "fn", "render", "--allow-exec", pkg])
    assert result.returncode == 0, result.stderr.decode()


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def edit_spec(pkg: Path, change: Any) -> None:
    spec = yaml.safe_load((pkg / "tenants.yaml").read_text())
    change(spec["spec"])
    (pkg / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def test_gateway_objects_get_their_own_folder_and_render_twice_is_a_no_op(
    tmp_path: Path, fn_exec: Path
) -> None:
    pkg = package(tmp_path, fn_exec)
    render(pkg)
    files = tree(pkg)
    assert sorted(f for f in files if f.startswith("overlays/_gateway/")) == sorted(
        f"overlays/_gateway/{f}" for f in GATEWAY_FILES
    )
    policy = yaml.safe_load(files["overlays/_gateway/authorizationpolicy_ray-tenant-mlops.yaml"])
    assert policy["metadata"]["namespace"] == "asm-ingress"
    assert policy["metadata"]["labels"]["fn.ray-tenants.dev/tenant"] == "mlops"
    shared = yaml.safe_load(files["overlays/_gateway/requestauthentication_ray-tenants.yaml"])
    assert shared["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "ray-tenants"}
    for tenant in ("mlops", "research"):
        for name in (*DEFAULT_ISOLATION_FILES, "resourcequota_ray-tenant.yaml"):
            assert f"overlays/{tenant}/{name}" in files
    render(pkg)
    assert tree(pkg) == files


def test_removing_a_tenant_prunes_its_policy_and_the_shared_objects_go_last(
    tmp_path: Path, fn_exec: Path
) -> None:
    pkg = package(tmp_path, fn_exec)
    render(pkg)
    mine = pkg / "overlays" / "_gateway" / "notes.yaml"  # a user's file: never the function's
    mine.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  namespace: asm-ingress\n")
    edit_spec(pkg, lambda spec: spec["tenants"].pop())
    render(pkg)
    gateway = sorted(p.name for p in (pkg / "overlays" / "_gateway").iterdir())
    assert gateway == sorted(["notes.yaml", GATEWAY_FILES[0], GATEWAY_FILES[1]])
    assert not list((pkg / "overlays" / "research").glob("*"))
    # without the JWT rule no tenant needs the gateway objects: all of the function's go
    edit_spec(pkg, lambda spec: spec["access"].pop("gateway"))
    render(pkg)
    assert sorted(p.name for p in (pkg / "overlays" / "_gateway").iterdir()) == ["notes.yaml"]
    assert (pkg / "overlays" / "mlops" / "networkpolicy_ray-tenant-ray-pods.yaml").is_file()


def test_the_check_finds_no_drift_in_the_rendered_package_and_a_stale_policy(
    tmp_path: Path, fn_exec: Path
) -> None:
    pkg = package(tmp_path, fn_exec)
    render(pkg)
    check = ["ray-tenants", "check", "--select", "drift", "."]
    done = run(check, cwd=pkg)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    edit_spec(pkg, lambda spec: spec["tenants"].pop())  # not rendered: its policy is stale now
    done = run(check, cwd=pkg)
    assert done.returncode == 1
    assert "authorizationpolicy_ray-tenant-research.yaml" in done.stdout.decode()
