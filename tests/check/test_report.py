"""The check's report as a user reads it: one line per finding, in file and line order, one locator."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.conftest import REPO, run

FN = [sys.executable, "-m", "krm_fn"]


def repository(tmp_path: Path) -> Path:
    """A copy of this repository's layout: base/ and overlays/ (the spec and its overlay folders)."""
    repo = tmp_path / "repo"
    for folder in ("base", "overlays"):
        shutil.copytree(REPO / folder, repo / folder)
    return repo


def report(repo: Path, *args: str) -> tuple[int, list[str], str]:
    """`ray-tenants ARGS` run in `repo`: the exit code, the stdout lines and stderr."""
    result = run([*FN, *args], cwd=repo)
    return result.returncode, result.stdout.decode().splitlines(), result.stderr.decode()


def test_each_finding_once_sorted_by_file_and_line_with_the_spec_among_the_inputs(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    (repo / "broken").mkdir()
    (repo / "broken" / "bad.yaml").write_text("a: [\n")
    raycluster = repo / "base" / "raycluster.yaml"
    worker = "            - name: ray-worker\n"
    text = raycluster.read_text().replace(worker, worker + "              imagePullPolicyy: Always\n", 1)
    raycluster.write_text(text)
    code, lines, err = report(repo, "check", "overlays", "broken", "base")
    typo = next(i for i, line in enumerate(text.splitlines(), 1) if "imagePullPolicyy" in line)
    assert code == 1
    assert [line.split(": ")[0] for line in lines] == [f"base/raycluster.yaml:{typo}", "broken/bad.yaml:2"]
    assert len(lines) == len(set(lines))
    assert "ray-tenants check: 2 errors" in err
