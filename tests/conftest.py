"""Shared test helpers: paths, real-tool gating, and the function as an executable."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "tests" / "testdata"
SHARED = REPO.parent / "shared"
UPSTREAM = SHARED / "upstream"
# What every tenant with a RayCluster gets by default (isolation is on unless the spec turns it
# off): kind and name of each object, and the file it gets in the tenant's folder
DEFAULT_ISOLATION = (
    ("Role", "ray-tenant-token-reader"),
    ("RoleBinding", "ray-tenant-token-reader"),
    ("NetworkPolicy", "ray-tenant-ray-pods"),
    ("NetworkPolicy", "ray-tenant-ray-head"),
)
DEFAULT_ISOLATION_FILES = tuple(f"{kind.lower()}_{name}.yaml" for kind, name in DEFAULT_ISOLATION)
REQUIRE_E2E = os.environ.get("RAY_TENANTS_REQUIRE_E2E") == "1"

# CI gates landing, so it draws the same examples every run (derandomized: a failure there is
# reproducible, never a coin toss); local runs draw new ones and keep exploring. Example counts
# are set per test module.
settings.register_profile("ci", derandomize=True, print_blob=True)
# bench/mutation.py runs the tests once per mutant: the same examples every run (a mutant's
# verdict must not be a coin toss), at the local example counts
settings.register_profile("mutation", derandomize=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "")
settings.load_profile(PROFILE if PROFILE in ("ci", "mutation") else "default")


def example_bases() -> list[Path]:
    """The shipped base files, as base/kustomization.yaml lists them."""
    listed = yaml.safe_load((REPO / "base" / "kustomization.yaml").read_text())["resources"]
    return [REPO / "base" / name for name in listed]


def require_tool(name: str, why: str = "") -> str:
    """Path of a real tool; skip the test without it, or fail when CI requires end-to-end tests."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed{': ' + why if why else ''}"
        if REQUIRE_E2E:
            pytest.fail(f"RAY_TENANTS_REQUIRE_E2E=1 but {message}")
        pytest.skip(message)
    return path


def require_upstream() -> Path:
    """../shared/upstream; skip where this checkout has none beside it, fail when CI requires it."""
    if not UPSTREAM.is_dir():
        message = f"{UPSTREAM} is absent (upstream samples are only beside the CI checkout)"
        if REQUIRE_E2E:
            pytest.fail(f"RAY_TENANTS_REQUIRE_E2E=1 but {message}")
        pytest.skip(message)
    return UPSTREAM


def run(
    cmd: Sequence[str | Path], cwd: Path | None = None, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run a real command, capturing output; never raises on a non-zero exit."""
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def fn_exec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executable that runs this checkout's function with this interpreter (for kpt exec:)."""
    path = tmp_path_factory.mktemp("bin") / "ray-tenants"
    path.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m krm_fn "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def kptfile(exec_path: Path, name: str = "pkg") -> str:
    """A kpt package's Kptfile that runs `exec_path` as its one mutator on tenants.yaml."""
    return f"""\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: {name}
  annotations:
    config.kubernetes.io/local-config: "true"
pipeline:
  mutators:
    - exec: {exec_path}
      configPath: tenants.yaml
"""
