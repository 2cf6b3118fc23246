"""kustomize's legacy exec plugin: where install-plugin puts it, what it runs, and a real
`kubectl kustomize --enable-alpha-plugins` build with it (no container engine involved)."""

from __future__ import annotations

import io
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import krm_fn
from krm_fn import plugin
from krm_fn.cli import main
from tests.conftest import DEFAULT_ISOLATION, REPO, example_bases, require_tool, run

BASES = example_bases()
EXAMPLE_CONFIG = REPO / "overlays" / "tenants.yaml"
RELATIVE = Path("fn.ray-tenants.dev/v1alpha1/raytenants/RayTenants")


def by_identity(objs: Any) -> list[Any]:
    """The objects in (kind, namespace, name) order, for comparing outputs that order them differently."""
    return sorted(
        (o for o in objs if o is not None),
        key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]),
    )


def kustomization(folder: Path, config_text: str) -> Path:
    """The example as a kustomization: the bases as resources, the tenant spec as a transformer."""
    folder.mkdir(parents=True, exist_ok=True)
    for base in BASES:
        shutil.copy(base, folder)
    (folder / "tenants.yaml").write_text(config_text)
    (folder / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [b.name for b in BASES], "transformers": ["tenants.yaml"]})
    )
    return folder


@pytest.fixture
def plugin_home(tmp_path: Path) -> Path:
    """A plugin home with the plugin installed by `ray-tenants install-plugin --dir`."""
    home = tmp_path / "plugins"
    out, err = io.StringIO(), io.StringIO()
    assert main(["install-plugin", "--dir", str(home)], out, err) == 0, err.getvalue()
    assert out.getvalue() == f"{home / RELATIVE}\n"
    return home


def test_the_plugin_is_where_kustomize_looks_and_executable(plugin_home: Path) -> None:
    installed = plugin_home / RELATIVE
    assert plugin.plugin_path(plugin_home) == installed
    assert stat.S_IMODE(installed.stat().st_mode) == 0o755
    assert [p.name for p in installed.parent.iterdir()] == ["RayTenants"]  # no temporary file left


def test_the_plugin_names_this_python_and_package_absolutely(plugin_home: Path) -> None:
    text = (plugin_home / RELATIVE).read_text()
    assert f'"exec" "{sys.executable}" "$0" "$@"' in text.splitlines()[1]
    assert repr(str(Path(krm_fn.__file__).resolve().parent.parent)) in text


def test_install_plugin_replaces_an_older_plugin(plugin_home: Path) -> None:
    (plugin_home / RELATIVE).write_text("#!/bin/sh\necho stale\n")
    assert main(["install-plugin", "--dir", str(plugin_home)], io.StringIO(), io.StringIO()) == 0
    assert "legacy-plugin" in (plugin_home / RELATIVE).read_text()


@pytest.mark.parametrize(
    ("env", "existing", "expected"),
    [
        pytest.param({"KUSTOMIZE_PLUGIN_HOME": "kph"}, [], "kph", id="plugin-home-env"),
        pytest.param(
            {"KUSTOMIZE_PLUGIN_HOME": "kph", "XDG_CONFIG_HOME": "xdg"},
            ["xdg/kustomize/plugin"],
            "xdg/kustomize/plugin",
            id="kustomize-takes-the-first-that-exists",
        ),
        pytest.param({"XDG_CONFIG_HOME": "xdg"}, [], "xdg/kustomize/plugin", id="xdg"),
        pytest.param({}, [], "home/.config/kustomize/plugin", id="xdg-default"),
        pytest.param({}, ["home/kustomize/plugin"], "home/kustomize/plugin", id="home-kustomize"),
    ],
)
def test_default_home_is_the_one_kustomize_uses(
    tmp_path: Path, env: dict[str, str], existing: list[str], expected: str
) -> None:
    for folder in existing:
        (tmp_path / folder).mkdir(parents=True)
    env = {k: str(tmp_path / v) for k, v in env.items()} | {"HOME": str(tmp_path / "home")}
    assert plugin.default_home(env) == tmp_path / expected


def test_install_plugin_defaults_to_kustomize_plugin_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUSTOMIZE_PLUGIN_HOME", str(tmp_path / "home"))
    out, err = io.StringIO(), io.StringIO()
    assert main(["install-plugin"], out, err) == 0
    assert out.getvalue() == f"{tmp_path / 'home' / RELATIVE}\n"
    assert err.getvalue() == ""  # no hint needed: kustomize looks there already


@pytest.mark.parametrize("python", ["python3", '/opt/a"b/python', "/opt/$HOME/python", "/opt/a\\b/python"])
def test_launcher_refuses_an_interpreter_it_cannot_quote(python: str) -> None:
    with pytest.raises(ValueError, match="cannot write a launcher"):
        plugin.launcher(python, "/src")


def test_launcher_handles_spaces_in_the_interpreter_path(tmp_path: Path) -> None:
    python = tmp_path / "my python" / "python"
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    script = tmp_path / "RayTenants"
    script.write_text(plugin.launcher(str(python), str(REPO)))
    script.chmod(0o755)
    proc = run([script, EXAMPLE_CONFIG], stdin=BASES[0].read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    assert [o["kind"] for o in yaml.safe_load_all(proc.stdout)] == [
        "Namespace",
        "RayCluster",
        *(kind for kind, _ in DEFAULT_ISOLATION),
    ] * 2


def test_install_plugin_reports_an_unwritable_home(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out, err = io.StringIO(), io.StringIO()
    assert main(["install-plugin", "--dir", str(blocker)], out, err) == 1
    assert out.getvalue() == ""
    assert err.getvalue().startswith("ray-tenants: install-plugin: ")


def test_legacy_plugin_prints_the_expansion_of_its_stream(plugin_home: Path, fn_exec: Path) -> None:
    stream = b"---\n".join(b.read_bytes() for b in BASES)
    proc = run([plugin_home / RELATIVE, EXAMPLE_CONFIG], stdin=stream)
    assert proc.returncode == 0, proc.stderr.decode()
    rendered = run([fn_exec, "render", "--config", EXAMPLE_CONFIG, *BASES])
    assert proc.stdout == rendered.stdout


def test_legacy_plugin_fails_with_nothing_on_stdout(plugin_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "tenants.yaml"
    config.write_text(EXAMPLE_CONFIG.read_text().replace("name: research", "name: Research_Team"))
    stream = b"---\n".join(b.read_bytes() for b in BASES)
    proc = run([plugin_home / RELATIVE, config], stdin=stream)
    assert (proc.returncode, proc.stdout) == (1, b"")
    # one line per problem, locating it by object and field (kustomize's temp file means nothing)
    assert proc.stderr.decode().splitlines() == [
        "ray-tenants: RayTenants/tenants spec.tenants[1].name: 'Research_Team' is not a namespace name "
        "(a DNS-1123 label: lowercase letters, digits, '-', at most 63)"
    ]


def test_kubectl_kustomize_builds_the_tenants_with_the_plugin(
    plugin_home: Path, fn_exec: Path, tmp_path: Path
) -> None:
    kubectl = require_tool("kubectl")
    folder = kustomization(tmp_path / "k", EXAMPLE_CONFIG.read_text())
    # kustomize runs the plugin in the kustomization's folder: a module there must not shadow ours
    (folder / "yaml.py").write_text("raise SystemExit('the kustomization folder shadowed a module')\n")
    proc = run(
        [kubectl, "kustomize", "--enable-alpha-plugins", folder], KUSTOMIZE_PLUGIN_HOME=str(plugin_home)
    )
    assert proc.returncode == 0, proc.stderr.decode()
    built = list(yaml.safe_load_all(proc.stdout))
    rendered = run([fn_exec, "render", "--config", EXAMPLE_CONFIG, *BASES])
    # the expansion (so a plugin kustomize skipped cannot pass): copies per tenant, bases replaced
    assert by_identity(built) == by_identity(yaml.safe_load_all(rendered.stdout))
    assert {(o["kind"], o["metadata"].get("namespace")) for o in built} == {
        ("Namespace", None),
        *(
            (kind, tenant)
            for kind in ("RayCluster", "VirtualService", *(k for k, _ in DEFAULT_ISOLATION))
            for tenant in ("mlops", "research")
        ),
    }


def test_kubectl_kustomize_fails_on_a_bad_tenant(plugin_home: Path, tmp_path: Path) -> None:
    kubectl = require_tool("kubectl")
    config = EXAMPLE_CONFIG.read_text().replace("name: research", "name: Research_Team")
    folder = kustomization(tmp_path / "k", config)
    proc = run(
        [kubectl, "kustomize", "--enable-alpha-plugins", folder], KUSTOMIZE_PLUGIN_HOME=str(plugin_home)
    )
    assert proc.returncode != 0
    assert proc.stdout == b""
    assert "spec.tenants[1].name: 'Research_Team' is not a namespace name" in proc.stderr.decode()


def test_kubectl_kustomize_without_the_plugin_fails_rather_than_skipping(tmp_path: Path) -> None:
    kubectl = require_tool("kubectl")
    folder = kustomization(tmp_path / "k", EXAMPLE_CONFIG.read_text())
    (tmp_path / "empty").mkdir()
    proc = run(
        [kubectl, "kustomize", "--enable-alpha-plugins", folder],
        KUSTOMIZE_PLUGIN_HOME=str(tmp_path / "empty"),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
    )
    assert proc.returncode != 0
    assert proc.stdout == b""


def test_help_lists_the_plugin_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "install-plugin" in out
    assert "legacy-plugin" in out
