"""Standalone render: manifest files and a tenant spec in, a YAML stream of the result out.

With `output: overlays` (or `--output overlays`) it writes the tenant folders under `--out DIR`
instead, as `kpt fn render` would in a package.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from krm_fn import items as it
from krm_fn import overlays
from krm_fn.config import API_GROUP, KIND, parse_config
from krm_fn.expand import Outcome, expand
from krm_fn.manifests import Manifest, dump_stream, find_files, load_files, with_lines
from krm_fn.results import FnError, Result


def main(
    paths: Sequence[str],
    config_file: str | None,
    stdout: IO[str],
    stderr: IO[str],
    output: str | None = None,
    out_dir: str | None = None,
) -> int:
    """Render PATHs for the tenant spec; print the stream (or write the overlays), else exit 1.

    `output` overrides the spec's output mode; overlays mode writes under `out_dir` and prints
    one line per file written or removed.
    """
    try:
        outcome, manifests = run(paths, config_file, output, out_dir)
    except FnError as exc:
        outcome, manifests = Outcome([], exc.results), []
    for result in with_lines(outcome.results, manifests):
        stderr.write(result.one_line() + "\n")
    if outcome.failed:
        return 1
    if out_dir is not None and any(it.path_of(o) for o in outcome.items):
        try:
            changes = overlays.write_folder(outcome.items, _relative(out_dir))
        except FnError as exc:  # a file not ours to replace, a link, a full disk: nothing written
            for result in exc.results:
                stderr.write(result.one_line() + "\n")
            return 1
        for change in changes:
            stdout.write(change + "\n")
        return 0
    # kustomize's build instructions travel with manifests but are not objects to apply
    kustomizations = {id(m.data) for m in manifests if overlays.is_kustomization_file(m.file)}
    stdout.write(dump_stream([o for o in outcome.items if id(o) not in kustomizations], manifests))
    return 0


def run(
    paths: Sequence[str],
    config_file: str | None,
    output: str | None = None,
    out_dir: str | None = None,
) -> tuple[Outcome, list[Manifest]]:
    """Load, expand, and return the outcome with the loaded manifests (for locating findings)."""
    manifests, problems = load_files(find_files(paths))
    if problems:
        raise FnError(problems)
    if config_file is not None:
        config_docs, problems = load_files([config_file])
        if problems:
            raise FnError(problems)
        specs = [m for m in config_docs if _is_tenant_spec(m.data) or len(config_docs) == 1]
        if len(specs) != 1:
            raise FnError(
                [
                    Result(
                        f"expected one tenant spec ({KIND}) in the file, found {len(specs)}",
                        file=config_file,
                    )
                ]
            )
    else:
        specs = [m for m in manifests if _is_tenant_spec(m.data)]
        if len(specs) != 1:
            raise FnError(
                [
                    Result(
                        f"found {len(specs)} tenant specs ({KIND}) among the inputs; pass one with --config FILE"
                    )
                ]
            )
    spec = specs[0]
    config = parse_config(spec.data, spec.file)
    if output is not None:
        config = dataclasses.replace(config, output=output)
    inputs = [m for m in manifests if not (isinstance(m.data, dict) and it.same_object(m.data, spec.data))]
    files = [m.file for m in inputs]
    if config.output == "overlays":
        if out_dir is None:
            raise FnError([Result("output: overlays writes tenant folders: pass --out DIR", file=spec.file)])
        # the overlays refer to the bases relative to themselves: one frame for both
        config = dataclasses.replace(config, output_dir=_relative(out_dir))
        found, problems = load_files(_folder_kustomizations(files))
        if problems:
            raise FnError(problems)
        manifests.extend(found)
        inputs.extend(found)
        files = [f if f == "-" else _relative(f) for f in files + [m.file for m in found]]
    elif out_dir is not None:
        raise FnError([Result("--out is for output: overlays; resources are printed", file=spec.file)])
    # a stream of files, never a kpt package, whatever annotations the objects carry
    outcome = expand([m.data for m in inputs], config, spec.data, files, kpt=False)
    # findings about the spec point at the file it came from
    outcome.results = [r.at(file=spec.file) if r.resource == config.ref else r for r in outcome.results]
    return outcome, manifests


def _folder_kustomizations(files: Sequence[str]) -> list[str]:
    """The kustomization files of the inputs' folders that are not inputs themselves.

    The overlays reference base folders, so their kustomizations matter even when the bases
    were named file by file.
    """
    named = {Path(f).resolve() for f in files if f != "-"}
    out: list[str] = []
    for folder in dict.fromkeys(Path(f).parent for f in files if f != "-"):
        for name in overlays.KUSTOMIZATION_FILES:
            candidate = folder / name
            if candidate.is_file():
                if candidate.resolve() not in named:
                    out.append(str(candidate))
                break  # kustomize reads the first one it finds
    return out


def _relative(path: str) -> str:
    """`path` relative to the current folder, with forward slashes."""
    return Path(os.path.relpath(path)).as_posix()


def _is_tenant_spec(obj: Any) -> bool:
    api = obj.get("apiVersion") if isinstance(obj, dict) else None
    return isinstance(api, str) and api.split("/")[0] == API_GROUP and obj.get("kind") == KIND
