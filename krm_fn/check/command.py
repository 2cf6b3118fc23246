"""`ray-tenants check PATH...`: the check for people, pre-commit and CI (its parser is in cli)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from krm_fn.check.checker import check
from krm_fn.check.options import CHECKS, Options, exclude_words
from krm_fn.check.report import exit_code, findings, summary, write_lines
from krm_fn.inputs.function_config import find_tenant_spec, is_tenant_spec
from krm_fn.inputs.loader import load_files, load_paths
from krm_fn.inputs.objects import Manifest
from krm_fn.results import FnError, Result


def main(
    paths: Sequence[str],
    stdout: IO[str],
    stderr: IO[str],
    *,
    config: str | None = None,
    crds: Sequence[str] = (),
    kubernetes_version: str | None = None,
    strict: bool = True,
    select: str = ",".join(CHECKS),
    fix: bool = False,
    verbose: bool = False,
    exclude: Sequence[str] = (),
) -> int:
    """`ray-tenants check PATH...`: print one line per finding; return the exit code."""
    selected = frozenset(s.strip() for s in select.split(",") if s.strip())
    unknown = selected - set(CHECKS)
    if unknown or not selected:
        stderr.write(f"ray-tenants check: --select takes {', '.join(CHECKS)}; got {select!r}\n")
        return 2
    if fix and "-" in paths:
        stderr.write(
            "ray-tenants check: --fix rewrites files and cannot write back to stdin (-): "
            "give the files or folders instead\n"
        )
        return 2
    docs, problems = load_paths(paths, exclude)
    crd_docs, crd_problems = load_paths(crds, exclude)
    problems.extend(crd_problems)
    config_doc = _config(config, problems)
    root = _root(config, docs, paths)
    options = Options(
        kubernetes_version=kubernetes_version,
        strict=strict,
        select=selected,
        crds=crd_docs,
        config=config_doc,
        root=root,
        regenerate=_regenerate(config, paths, root, exclude),
        fix=fix,
        paths=paths,
        config_file=config,
        exclude=exclude,
    )
    outcome = check(docs, options)
    results = findings([*problems, *outcome.results])
    write_lines(results, stdout, verbose)
    # what --fix wrote, one line per file, as formatters say it; and exit 1, as they do
    for change in outcome.written:
        stdout.write(change + "\n")
    if any(r.severity != "info" for r in results) or outcome.written:
        files = len({d.file for d in docs} | {r.file for r in problems if r.file and r.severity != "info"})
        stderr.write(f"ray-tenants check: {summary(results, files, outcome.written)}\n")
    return max(exit_code(results), 1 if outcome.written else 0)


def _config(file: str | None, problems: list[Result]) -> Manifest | None:
    if file is None:
        return None
    docs, bad = load_files([file])
    problems.extend(bad)
    if bad:
        return None
    try:
        return find_tenant_spec(docs, file)
    except FnError as exc:
        problems.extend(exc.results)
        return None


def _root(config_file: str | None, docs: Sequence[Manifest], paths: Sequence[str]) -> Path:
    """The folder the spec's outputDir is relative to.

    The Kptfile's folder above the spec; else the current folder (where pre-commit and `render
    --out` work) when every path is inside it; else the folder the paths have in common.
    """
    spec_file = config_file or next((d.file for d in docs if is_tenant_spec(d.data)), None)
    if spec_file and spec_file != "-":
        for folder in Path(spec_file).resolve().parents:
            if (folder / "Kptfile").is_file():
                return folder
    cwd = Path.cwd().resolve()
    given = [Path(p).resolve() for p in [*paths, *([config_file] if config_file else [])] if p != "-"]
    if all(p == cwd or cwd in p.parents for p in given):
        return cwd
    common = Path(os.path.commonpath([str(p if p.is_dir() else p.parent) for p in given]))
    return common


def _regenerate(config: str | None, paths: Sequence[str], root: Path, exclude: Sequence[str]) -> str:
    if (root / "Kptfile").is_file():
        return f"kpt fn render {shlex.quote(str(root))}"
    words = ["ray-tenants", "check", "--select", "drift", "--fix"]
    if config:
        words += ["--config", config]
    return shlex.join([*words, *exclude_words(exclude), *paths])
