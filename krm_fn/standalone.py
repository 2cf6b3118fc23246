"""Expansion of manifest files: load them, find the tenant spec, expand as a stream.

The step `render`, the kustomize legacy plugin and the check's overlay drift share: the objects
are a stream of files, never a kpt package, whatever annotations they carry.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from krm_fn.config import parse_config
from krm_fn.expand import Outcome
from krm_fn.inputs.function_config import find_tenant_spec
from krm_fn.inputs.loader import load_files, walk
from krm_fn.inputs.objects import Manifest, locate
from krm_fn.items import same_object
from krm_fn.overlays import KUSTOMIZATION_FILES, is_kustomization_file
from krm_fn.package import expand_placed
from krm_fn.results import FnError, Result


def run(
    paths: Sequence[str],
    config_file: str | None,
    output: str | None = None,
    out_dir: str | None = None,
    exclude: Sequence[str] = (),
) -> tuple[Outcome, list[Manifest]]:
    """Load, expand, and return the outcome with the loaded manifests (for locating findings).

    `exclude`: globs of paths not to read in the folders given (see `inputs.loader.walk`). YAML
    that is no Kubernetes object (Helm values, a tool's configuration) is skipped, with a note.
    """
    files, notes = walk(paths, exclude)
    loaded, problems = load_files(files)
    if problems:
        raise FnError(problems)
    # a kustomization without apiVersion is the overlays' business: kept, never printed
    foreign = [m for m in loaded if m.is_foreign and not is_kustomization_file(m.file)]
    notes.extend(m.skipped() for m in foreign)
    skipped = {id(m) for m in foreign}
    manifests = [m for m in loaded if id(m) not in skipped]
    if config_file is not None:
        config_docs, problems = load_files([config_file])
        if problems:
            raise FnError(problems)
        spec = find_tenant_spec(config_docs, config_file)
    else:
        spec = find_tenant_spec(manifests)
    try:
        config = parse_config(spec.data, spec.file)
    except FnError as exc:
        raise FnError(locate(exc.results, [spec])) from None
    if output is not None:
        config = config._replace(output=output)
    inputs = [m for m in manifests if not (isinstance(m.data, dict) and same_object(m.data, spec.data))]
    files = [m.file for m in inputs]
    if config.output == "overlays":
        if out_dir is None:
            raise FnError([Result("output: overlays writes tenant folders: pass --out DIR", file=spec.file)])
        # the overlays refer to the bases relative to themselves: one frame for both
        config = config._replace(output_dir=relative(out_dir))
        found, problems = load_files(_folder_kustomizations(files))
        if problems:
            raise FnError(problems)
        manifests.extend(found)
        inputs.extend(found)
        files = [f if f == "-" else relative(f) for f in files + [m.file for m in found]]
    elif out_dir is not None:
        raise FnError([Result("--out is for output: overlays; resources are printed", file=spec.file)])
    # a stream of files, never a kpt package, whatever annotations the objects carry
    outcome = expand_placed([m.data for m in inputs], config, spec.data, files, kpt=False)
    # findings about the spec point at the file it came from
    about_spec = [r.at(file=spec.file) if r.resource == config.ref else r for r in outcome.results]
    outcome.results = [*notes, *locate(about_spec, [*manifests, spec])]
    return outcome, manifests


def _folder_kustomizations(files: Sequence[str]) -> list[str]:
    """The kustomization files of the inputs' folders that are not inputs themselves.

    The overlays reference base folders, so their kustomizations matter even when the bases
    were named file by file.
    """
    named = {Path(f).resolve() for f in files if f != "-"}
    out: list[str] = []
    for folder in dict.fromkeys(Path(f).parent for f in files if f != "-"):
        for name in KUSTOMIZATION_FILES:
            candidate = folder / name
            if candidate.is_file():
                if candidate.resolve() not in named:
                    out.append(str(candidate))
                break  # kustomize reads the first one it finds
    return out


def relative(path: str) -> str:
    """`path` relative to the current folder, with forward slashes."""
    return Path(os.path.relpath(path)).as_posix()
