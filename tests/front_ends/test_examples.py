"""The example packages in examples/<name>/, rendered by the real kpt as a user would.

Each example is a kpt package whose Kptfile runs `exec: ray-tenants`. Its `.expected/diff.patch`
is what `kpt fn render --allow-exec` changes in the package: a git-style unified diff (files in
path order, `new file mode` / `deleted file mode` headers, three lines of context, no `index`
lines), which `git apply` accepts. WRITE_GOLDEN_OUTPUT=1 rewrites the expectations; review them.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, require_tool, run

EXAMPLES = REPO / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "Kptfile").is_file())
SPOT_REQUIREMENT = {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a package by relative path, with its exact bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _lines(content: bytes) -> list[str]:
    lines = content.decode().splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def package_diff(before: dict[str, bytes], after: dict[str, bytes]) -> str:
    """The change from one package tree to another, as a git-style unified diff."""
    out: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        out.append(f"diff --git a/{path} b/{path}\n")
        if old is None:
            out.append("new file mode 100644\n")
        elif new is None:
            out.append("deleted file mode 100644\n")
        out.extend(
            difflib.unified_diff(
                _lines(old or b""),
                _lines(new or b""),
                fromfile="/dev/null" if old is None else f"a/{path}",
                tofile="/dev/null" if new is None else f"b/{path}",
                n=3,
            )
        )
    return "".join(out)


def copy_example(name: str, dest: Path) -> Path:
    """The example as a user gets it (`kpt pkg get`), without its test expectation."""
    pkg = dest / name
    shutil.copytree(EXAMPLES / name, pkg, ignore=shutil.ignore_patterns(".expected"))
    return pkg


def render(pkg: Path, fn_exec: Path) -> None:
    """`kpt fn render --allow-exec` with this checkout's function first on PATH."""
    result = run(
        ["kpt", "fn", "render", "--allow-exec", pkg],
        PATH=f"{fn_exec.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()


def required_terms(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The required node selector terms of a pod spec, or [] when it has none."""
    affinity = pod.get("affinity", {}).get("nodeAffinity", {})
    terms: list[dict[str, Any]] = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {}).get(
        "nodeSelectorTerms", []
    )
    return terms


def load_all(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


@pytest.mark.parametrize("name", NAMES)
def test_example_is_a_complete_package(name: str) -> None:
    """Each example runs the function from PATH on its spec, and says what it shows."""
    kptfile = yaml.safe_load((EXAMPLES / name / "Kptfile").read_text())
    assert kptfile["pipeline"]["mutators"] == [{"exec": "ray-tenants", "configPath": "tenants.yaml"}]
    spec = yaml.safe_load((EXAMPLES / name / "tenants.yaml").read_text())
    assert spec["kind"] == "RayTenants"
    assert "kpt fn render --allow-exec" in (EXAMPLES / name / "README.md").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_render_gives_the_expected_diff_and_a_second_render_changes_nothing(
    name: str, tmp_path: Path, fn_exec: Path
) -> None:
    require_tool("kpt")
    pkg = copy_example(name, tmp_path)
    before = tree(pkg)
    render(pkg, fn_exec)
    first = tree(pkg)
    actual = package_diff(before, first)
    assert actual, "the render changed nothing: the function did not run"
    expected_file = EXAMPLES / name / ".expected" / "diff.patch"
    if os.environ.get("WRITE_GOLDEN_OUTPUT") == "1":
        expected_file.parent.mkdir(exist_ok=True)
        expected_file.write_text(actual)
    assert expected_file.exists(), f"no {expected_file}; run with WRITE_GOLDEN_OUTPUT=1 and review it"
    assert actual == expected_file.read_text()
    render(pkg, fn_exec)
    assert package_diff(first, tree(pkg)) == ""


@pytest.mark.parametrize("name", NAMES)
def test_expected_diff_applies_with_git(name: str, tmp_path: Path, fn_exec: Path) -> None:
    """The committed patch is a real patch: applied to the package, it gives the rendered tree."""
    require_tool("kpt")
    require_tool("git")
    pkg = copy_example(name, tmp_path / "rendered")
    render(pkg, fn_exec)
    patched = copy_example(name, tmp_path / "patched")
    patch = EXAMPLES / name / ".expected" / "diff.patch"
    # the ceiling keeps git from treating an enclosing repository as the root of the paths
    result = run(["git", "apply", patch], cwd=patched, GIT_CEILING_DIRECTORIES=str(tmp_path))
    assert result.returncode == 0, result.stderr.decode()
    assert tree(patched) == tree(pkg)


def test_overlays_example_builds_with_kubectl_kustomize_and_pins_every_worker(
    tmp_path: Path, fn_exec: Path
) -> None:
    require_tool("kpt")
    require_tool("kubectl")
    pkg = copy_example("overlays", tmp_path)
    render(pkg, fn_exec)
    spec = yaml.safe_load((pkg / "tenants.yaml").read_text())
    tenants = [t["name"] for t in spec["spec"]["tenants"]]
    assert tenants
    for tenant in tenants:
        folder = pkg / "overlays" / tenant
        # kubectl kustomize runs no function: the overlay must be the function's output on disk
        assert (folder / "kustomization.yaml").is_file() and (folder / "namespace.yaml").is_file()
        result = run(["kubectl", "kustomize", folder])
        assert result.returncode == 0, result.stderr.decode()
        built = load_all(result.stdout.decode())
        # with the isolation every tenant gets by default
        assert sorted(d["kind"] for d in built) == [
            "Namespace",
            "NetworkPolicy",
            "NetworkPolicy",
            "RayCluster",
            "Role",
            "RoleBinding",
            "VirtualService",
        ]
        assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in built} == {tenant}
        clusters = [d for d in built if d["kind"] == "RayCluster"]
        assert clusters
        for cluster in clusters:
            head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
            assert "affinity" not in head
            groups = cluster["spec"]["workerGroupSpecs"]
            assert groups
            for group in groups:
                where = f"{tenant}: worker group {group['groupName']!r}"
                terms = required_terms(group["template"]["spec"])
                assert terms, f"{where} has no required node affinity"
                for term in terms:
                    assert SPOT_REQUIREMENT in term.get("matchExpressions", []), where
            # research's own patch (spec.tenants[1].patches) reaches its build, and only its build
            gpu = next(g for g in groups if g["groupName"] == "gpu")
            assert gpu["maxReplicas"] == (8 if tenant == "research" else 4)
