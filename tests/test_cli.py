"""The command line as a user runs it: KRM on stdin, render, help, version, exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from krm_fn import __version__
from krm_fn.cli import main
from tests.conftest import DEFAULT_ISOLATION, REPO, run

FN = [sys.executable, "-m", "krm_fn"]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def test_version_and_help() -> None:
    result = run([*FN, "--version"])
    assert (result.returncode, result.stdout.decode().strip()) == (0, f"ray-tenants {__version__}")
    result = run([*FN, "--help"])
    assert result.returncode == 0
    assert "render" in result.stdout.decode() and "ResourceList" in result.stdout.decode()


def test_render_the_shipped_example() -> None:
    code, out, err = cli("render", "--config", str(REPO / "overlays/tenants.yaml"), str(REPO / "base"))
    assert (code, err) == (0, "")
    objs = list(yaml.safe_load_all(out))
    assert sorted((o["kind"], o["metadata"].get("namespace", "")) for o in objs) == sorted(
        [
            ("Namespace", ""),
            ("Namespace", ""),
            *(
                (kind, t)
                for t in ("mlops", "research")
                for kind in ("RayCluster", "VirtualService", *(k for k, _ in DEFAULT_ISOLATION))
            ),
        ]
    )


def test_render_finds_the_spec_among_inputs(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    for f in ("raycluster.yaml", "virtualservice.yaml"):
        (tmp_path / "base" / f).write_text((REPO / "base" / f).read_text())
    (tmp_path / "tenants.yaml").write_text((REPO / "overlays/tenants.yaml").read_text())
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")  # hidden: never read
    code, out, _ = cli("render", str(tmp_path))
    assert code == 0
    assert "RayTenants" not in out
    assert out.count("kind: RayCluster") == 2


def test_render_diagnostics_name_file_line_object_and_field(tmp_path: Path) -> None:
    (tmp_path / "vs.yaml").write_text(
        "# routes nowhere useful\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata:\n  name: dash\nspec:\n  hosts: [h]\n  gateways: [g/w]\n"
        "  http:\n  - route:\n    - destination: {host: elsewhere}\n"
    )
    (tmp_path / "ray.yaml").write_text(
        (REPO / "base/raycluster.yaml").read_text().replace("name: raycluster\n", "name: a\n", 1)
    )
    (tmp_path / "ray2.yaml").write_text(
        (REPO / "base/raycluster.yaml").read_text().replace("name: raycluster\n", "name: b\n", 1)
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "apiVersion: fn.ray-tenants.dev/v1alpha1\nkind: RayTenants\nmetadata: {name: t}\nspec:\n  tenants: [{name: x}]\n"
    )
    code, out, err = cli(
        "render",
        "--config",
        str(spec),
        str(tmp_path / "vs.yaml"),
        str(tmp_path / "ray.yaml"),
        str(tmp_path / "ray2.yaml"),
    )
    assert (code, out) == (1, "")
    assert err.startswith(
        # the line of the field itself (the destination), not of the object or document
        f"{tmp_path / 'vs.yaml'}:12: VirtualService/dash spec.http[0].route[0].destination.host: routes to 'elsewhere'"
    )


def test_render_without_a_spec_or_with_missing_paths(tmp_path: Path) -> None:
    code, out, err = cli("render", str(REPO / "base"))
    assert (code, out) == (1, "")
    assert "found 0 tenant specs (RayTenants) among the inputs; pass one with --config FILE" in err
    code, _, err = cli("render", str(tmp_path / "nope"))
    assert code == 1 and "no such file or folder" in err


def test_render_reports_bad_yaml_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: 1\nb: [\n")
    code, _, err = cli("render", "--config", str(REPO / "overlays/tenants.yaml"), str(tmp_path / "bad.yaml"))
    assert code == 1
    assert err.startswith(f"{tmp_path / 'bad.yaml'}:3: invalid YAML")


def test_krm_stdin_that_is_not_a_resource_list() -> None:
    result = run(FN, stdin=b"just: a mapping\n")
    assert result.returncode == 1
    rl = yaml.safe_load(result.stdout)
    assert rl["kind"] == "ResourceList" and rl["items"] == []
    assert "expected kind ResourceList" in rl["results"][0]["message"]
    assert "Traceback" not in result.stderr.decode()


def test_internal_error_exits_3_and_asks_for_a_report() -> None:
    code = "import krm_fn.package as p\np.expand = lambda *a, **kw: 1 / 0\nfrom krm_fn.cli import entry\nentry()\n"
    rl = b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {tenants: a}}\n"
    result = run([sys.executable, "-c", code], stdin=rl, PYTHONPATH=str(REPO))
    assert result.returncode == 3
    err = result.stderr.decode()
    assert "internal error: ZeroDivisionError" in err and "please report" in err and "Traceback" not in err


def test_main_holds_the_error_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test calling main() sees what a user sees: an exit code and a message, never an exception."""
    from krm_fn import standalone

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(standalone, "expand_placed", broken)
    code, out, err = cli("render", "--config", str(REPO / "overlays/tenants.yaml"), str(REPO / "base"))
    assert (code, out) == (3, "")
    assert "ray-tenants: internal error: KeyError: 'a bug'" in err and "please report" in err


def test_usage_errors_exit_2() -> None:
    assert cli("no-such-command")[0] == 2
    assert cli("render", "--no-such-option", str(REPO / "base"))[0] == 2
    assert cli("render")[0] == 2  # PATH is required


def test_a_closed_stdout_ends_quietly_with_141() -> None:
    """`ray-tenants render ... | head -1`: the reader went away; no traceback, no bug report."""
    proc = subprocess.Popen(
        [*FN, "render", "--config", str(REPO / "overlays/tenants.yaml"), str(REPO / "base")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes: every write meets a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert err == ""


def test_older_resource_list_versions_are_answered_in_kind() -> None:
    for version in ("config.kubernetes.io/v1alpha1", "config.kubernetes.io/v1beta1"):
        rl = (
            f"apiVersion: {version}\nkind: ResourceList\nitems: []\n"
            "functionConfig: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {tenants: a}}\n"
        )
        result = run(FN, stdin=rl.encode())
        assert result.returncode == 0, result.stderr.decode()
        out = yaml.safe_load(result.stdout)
        assert out["apiVersion"] == version
        assert [i["kind"] for i in out["items"]] == ["Namespace"]


def test_render_warns_about_a_node_pool_for_a_group_no_workload_has(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "apiVersion: fn.ray-tenants.dev/v1alpha1\nkind: RayTenants\nmetadata: {name: t}\n"
        "spec:\n  tenants: [{name: a}]\n  spot:\n    nodePools: {cpu: spot-cpu, gpuu: spot-gpu}\n"
    )
    code, out, err = cli("render", "--config", str(spec), str(REPO / "base"))
    assert code == 0 and "kind: RayCluster" in out
    assert (
        err
        == f"{spec}:7: RayTenants/t spec.spot.nodePools.gpuu: warning: no worker group is named 'gpuu'; this pool is never used "
        "(worker groups: 'cpu', 'gpu'; did you mean 'gpu'?)\n"
    )
