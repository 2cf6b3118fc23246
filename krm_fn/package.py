"""Placement into files: where the generated items go, a step of the front ends after the expansion.

kpt annotates every item with its file and writes the output back into the package: the bases
stay, each copy gets a file of its own, `<outputDir>/<tenant>/<kind>_<name>.yaml`. The overlay
mode places its kustomizations there too, in kpt and standalone alike. kustomize passes a stream,
where the copies replace the bases and carry no files. The items say which (`all_placed`); the
expansion is told, and knows no file names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from krm_fn.config import TenantsConfig, parse_config
from krm_fn.expand import Outcome, expand
from krm_fn.items import INDEX_ANNOTATIONS, PATH_ANNOTATIONS, meta, path_of

# one Namespace and one kustomization per tenant folder
SINGLE_FILE_KINDS = ("namespace", "kustomization")


def all_placed(objs: Iterable[Any]) -> bool:
    """True when there are items and every one carries a kpt path: they are a kpt package's files.

    kpt annotates every item it reads; kustomize passes a path annotation on only where the user
    wrote one, so one annotated item says nothing about who is running the function.
    """
    seen = False
    for obj in objs:
        if not (isinstance(obj, Mapping) and path_of(obj)):
            return False
        seen = True
    return seen


def placed(obj: dict[str, Any], path: str, index: int) -> dict[str, Any]:
    """Give a generated item its file and index in the package (both kpt annotation styles)."""
    notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
    for key in PATH_ANNOTATIONS:
        notes[key] = path
    for key in INDEX_ANNOTATIONS:
        notes[key] = str(index)
    return obj


def place(outcome: Outcome, output_dir: str) -> Outcome:
    """Give every generated item of the outcome its file in `<output_dir>/<tenant>/`, in order."""
    used: dict[str, int] = {}
    for obj in outcome.items:
        tenant = outcome.generated.get(id(obj))
        if tenant is None:
            continue
        kind = str(obj.get("kind", "")).lower()
        name = kind if kind in SINGLE_FILE_KINDS else f"{kind}_{meta(obj).get('name')}"
        path = f"{output_dir}/{tenant}/{name}.yaml".removeprefix("./")
        index = used.get(path, 0)
        used[path] = index + 1
        placed(obj, path, index)
    return outcome


def expand_placed(
    items: Sequence[Any],
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None = None,
    sources: Sequence[str] | None = None,
    *,
    kpt: bool,
) -> Outcome:
    """The expansion, its generated items placed where files are written (a kpt package, overlays)."""
    outcome = expand(items, config, function_config, sources, kpt=kpt)
    if kpt or config.output == "overlays":
        place(outcome, config.output_dir)
    return outcome


def expand_package(items: Sequence[Any], fn_config: Mapping[str, Any] | None, file: str) -> Outcome:
    """The KRM processor: expand the items for the tenant spec `fn_config` (from `file`), placed."""
    config = parse_config(fn_config, file)
    return expand_placed(items, config, fn_config, kpt=all_placed(items))
