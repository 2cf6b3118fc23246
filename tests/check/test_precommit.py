"""The pre-commit hooks, parametrised from .pre-commit-hooks.yaml and run with the real framework."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli
from tests.conftest import DEFAULT_ISOLATION_FILES, REPO, TESTDATA, require_tool, run

HOOKS: list[dict[str, Any]] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
IDS = [h["id"] for h in HOOKS]
# paths each hook must run for, and paths it must not run for
RUNS_FOR = [
    "base/raycluster.yaml",
    "overlays/tenants.yml",
    "deploy/mlops/virtualservice.yaml",
    "Kptfile",
    "pkg/Kptfile",
]
SKIPS = ["README.md", "krm_fn/cli.py", "docs/check.md", "Kptfile.bak", "values.yaml.orig", "notes/yaml.txt"]
GIT = ["git", "-c", "user.name=ray-tenants developers", "-c", "user.email=dev@ray-tenants.dev"]


def hook(hook_id: str) -> dict[str, Any]:
    return next(h for h in HOOKS if h["id"] == hook_id)


def test_hook_ids_are_the_documented_ones() -> None:
    assert IDS == ["ray-tenants-check", "ray-tenants-render"]


@pytest.mark.parametrize("hook_id", IDS)
def test_hook_definition(hook_id: str) -> None:
    h = hook(hook_id)
    assert h["language"] == "python"
    assert h["entry"].split()[:2] == ["ray-tenants", "check"]
    # cross-file checks need every file in one process, whatever was staged
    assert h["require_serial"] is True and h["pass_filenames"] is False
    assert h["name"] and h["description"]


@pytest.mark.parametrize("hook_id", IDS)
@pytest.mark.parametrize("path", RUNS_FOR)
def test_files_pattern_matches_manifests(hook_id: str, path: str) -> None:
    assert re.search(hook(hook_id)["files"], path), path


@pytest.mark.parametrize("hook_id", IDS)
@pytest.mark.parametrize("path", SKIPS)
def test_files_pattern_skips_other_files(hook_id: str, path: str) -> None:
    assert not re.search(hook(hook_id)["files"], path), path


# ---------------------------------------------------------------------------------------------
# pre-commit try-repo in temporary git repositories


def git_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run([*GIT, "-C", str(path), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(path), "commit", "-qm", "manifests", "--allow-empty"], check=True)
    return path


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This checkout's files committed as-is to a stable repository: pre-commit installs it once.

    try-repo on a working tree with changes makes a new shadow commit per call, so every call
    would reinstall the package; a fixed path and commit share one cached environment.
    """
    dest = tmp_path_factory.mktemp("hook-repo") / "ray-tenants"
    ignore = shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", ".*_cache", "build", "dist")
    shutil.copytree(REPO, dest, ignore=ignore)
    git_repo(dest)
    rev = subprocess.run(
        ["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return dest, rev.stdout.strip()


@pytest.fixture(scope="session")
def pre_commit_env(tmp_path_factory: pytest.TempPathFactory, hook_repo: tuple[Path, str]) -> dict[str, str]:
    """Environment for try-repo: a session-wide wheelhouse, so each hook install is local.

    try-repo installs the hook into a throwaway store on every call (PRE_COMMIT_HOME does not
    cache it), which costs about a minute of index traffic per call; from this wheelhouse it
    costs seconds. The wheelhouse itself is built once from the package index.
    """
    require_tool("pre-commit", "the hooks are tested with the real framework")
    wheels = tmp_path_factory.mktemp("wheelhouse")
    for cmd in (
        ["wheel", "-w", str(wheels), str(hook_repo[0])],
        ["download", "-d", str(wheels), "setuptools", "wheel"],
    ):
        proc = run([sys.executable, "-m", "pip", "-q", *cmd])
        assert proc.returncode == 0, proc.stderr.decode()
    return {
        "PIP_FIND_LINKS": str(wheels),
        "PIP_NO_INDEX": "1",
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
    }


def try_repo(
    hook_repo: tuple[Path, str], env: dict[str, str], workdir: Path, hook_id: str
) -> subprocess.CompletedProcess[bytes]:
    pre_commit = require_tool("pre-commit", "the hooks are tested with the real framework")
    repo, rev = hook_repo
    return subprocess.run(
        [pre_commit, "try-repo", str(repo), hook_id, "--ref", rev, "--all-files", "--color", "never"],
        cwd=workdir,
        capture_output=True,
        env={**os.environ, **env},
        timeout=600,
        check=False,
    )


def good_repo(tmp: Path) -> Path:
    repo = tmp / "user-repo"
    shutil.copytree(TESTDATA / "check" / "good", repo / "deploy")
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    return repo


def tenant_repo(tmp: Path) -> Path:
    """This repository's layout: base/ and overlays/tenants.yaml, a Kptfile (tenants off Spot)."""
    repo = tmp / "user-repo"
    shutil.copytree(REPO / "base", repo / "base")
    spec: dict[str, Any] = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    for tenant in spec["spec"]["tenants"]:
        tenant["spot"] = False
    (repo / "overlays").mkdir()
    (repo / "overlays" / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (repo / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: user-repo\n")
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    return repo


def test_check_hook_passes_on_good_manifests(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]
) -> None:
    repo = git_repo(good_repo(tmp_path))
    proc = try_repo(hook_repo, pre_commit_env, repo, "ray-tenants-check")
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert "ray-tenants check" in proc.stdout.decode() and "Passed" in proc.stdout.decode()


def test_check_hook_fails_with_the_message_on_bad_manifests(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]
) -> None:
    repo = good_repo(tmp_path)
    shutil.copy(TESTDATA / "check" / "overlap" / "overlap.yaml", repo / "deploy" / "overlap.yaml")
    git_repo(repo)
    proc = try_repo(hook_repo, pre_commit_env, repo, "ray-tenants-check")
    output = proc.stdout.decode()
    assert proc.returncode == 1, output
    assert (
        "deploy/overlap.yaml:30: VirtualService/team-a-ml/ray-dashboard spec.http[1].match[0].uri.prefix: "
        "prefix '/team-a/ml/' is nested in '/team-a/'" in output
    )


def test_render_hook_regenerates_then_passes(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]
) -> None:
    repo = git_repo(tenant_repo(tmp_path))
    first = try_repo(hook_repo, pre_commit_env, repo, "ray-tenants-render")
    output = first.stdout.decode()
    assert first.returncode == 1, output
    made = 6 + 2 * len(DEFAULT_ISOLATION_FILES)
    assert output.count("wrote overlays/") == made and f"regenerated {made} files" in output
    assert (repo / "overlays" / "research" / "raycluster_raycluster.yaml").is_file()
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    second = try_repo(hook_repo, pre_commit_env, repo, "ray-tenants-render")
    assert second.returncode == 0, second.stdout.decode()
    # and the check agrees with what was generated
    code = cli.main(["check", str(repo)], io.StringIO(), io.StringIO())
    assert code == 0


@pytest.mark.parametrize("hook_id", IDS)
def test_both_hooks_pass_beside_a_helm_chart(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str], hook_id: str
) -> None:
    repo = good_repo(tmp_path)
    chart = repo / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicaCount: 1\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n"
        "  {{- toYaml .Values | nindent 2 }}\n"
    )
    git_repo(repo)
    proc = try_repo(hook_repo, pre_commit_env, repo, hook_id)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
