"""The overlay folders on disk: each generated object as its file holds it, written by the writer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from krm_fn import writer, yamlio
from krm_fn.items import is_own_base_kustomization, path_of, without_placement
from krm_fn.overlays.patches import style_like


def dump_file(obj: Mapping[str, Any]) -> str:
    """One generated object as its file holds it: no placement annotations, patches in block style."""
    clean = without_placement(obj)
    return yamlio.dump_node(yamlio.to_node(clean, like=style_like(clean)))


def write_folder(items: Sequence[Mapping[str, Any]], out_dir: str) -> list[str]:
    """Write the generated items under `out_dir` and prune what ray-tenants generated there before.

    Each item goes to its path annotation (relative to the current folder), one per file, through
    the standalone writer (krm_fn.writer): only the function's own files are replaced or removed,
    each whole, and nothing is written when any target is not its to write (FnError).
    A base folder's kustomization the expansion generated goes to its own path beside the bases.
    Returns one line per change, e.g. `wrote overlays/a/kustomization.yaml`.
    """
    wanted: dict[Path, list[Mapping[str, Any]]] = {}
    bases: dict[Path, str] = {}
    for obj in items:
        if is_own_base_kustomization(obj, path_of(obj)):
            bases[Path(path_of(obj))] = dump_file(obj)
        elif path_of(obj):
            wanted.setdefault(Path(path_of(obj)), []).append(obj)
    return writer.write_files(
        out_dir, {path: "---\n".join(map(dump_file, objs)) for path, objs in wanted.items()}, bases=bases
    )
