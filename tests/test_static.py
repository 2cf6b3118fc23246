"""Style and types are checked by the test command, so they never need a reviewer."""

from __future__ import annotations

import sys

from tests.conftest import REPO, run


def test_ruff_lint() -> None:
    result = run([sys.executable, "-m", "ruff", "check", "krm_fn", "tests", "bench"], cwd=REPO)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_ruff_format() -> None:
    result = run([sys.executable, "-m", "ruff", "format", "--check", "krm_fn", "tests", "bench"], cwd=REPO)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_mypy_strict() -> None:
    result = run([sys.executable, "-m", "mypy"], cwd=REPO)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
