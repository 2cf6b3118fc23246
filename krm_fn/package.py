"""Placement into files: where the generated items go, a step of the front ends after the expansion.

kpt annotates every item with its file and writes the output back into the package: the bases
stay, each copy gets a file of its own, `<outputDir>/<tenant>/<kind>_<name>.yaml`. The overlay
mode places its kustomizations there too, in kpt and standalone alike. kustomize passes a stream,
where the copies replace the bases and carry no files. The items say which (`all_placed`).
Ownership in a package is decided here too (`package_roles`): the expansion is handed the roles,
and knows no file names.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from krm_fn.config import TenantsConfig, parse_config
from krm_fn.expand import Outcome, Roles, expand, item_files, members
from krm_fn.items import (
    GATEWAY_FOLDER,
    generated_file_name,
    inside,
    is_own_base_kustomization,
    meta,
    owner_in_package,
    owner_tenant,
    path_of,
    placed,
    tenant_folder,
)
from krm_fn.results import ResourceRef, Result


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


def place(outcome: Outcome, output_dir: str) -> Outcome:
    """Give every generated item of the outcome its file in `<output_dir>/<tenant>/`, in order."""
    used: dict[str, int] = {}
    for obj in outcome.items:
        tenant = outcome.generated.get(id(obj))
        if tenant is None:
            continue
        path = f"{output_dir}/{tenant}/{generated_file_name(obj)}".removeprefix("./")
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
    roles = package_roles(items, config, function_config, sources) if kpt else None
    outcome = expand(items, config, function_config, sources, roles=roles)
    if kpt or config.output == "overlays":
        place(outcome, config.output_dir)
    if roles is not None and not outcome.failed:
        outcome.results.extend(pruned(items, roles.owned, outcome.items, config, function_config))
    return outcome


def pruned(
    items: Sequence[Any],
    owned: frozenset[int],
    outputs: Sequence[Any],
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None = None,
) -> list[Result]:
    """One info result per tenant whose generated files kpt deletes: their items are not output again.

    A one-off `kpt fn eval --exec ray-tenants -- tenants=a,b` prunes every other tenant's files;
    the result says so, naming them, where kpt shows it.
    """
    kept = {path_of(o) for o in outputs if isinstance(o, Mapping)}
    files: dict[str, set[str]] = {}
    for obj in items:
        if isinstance(obj, Mapping) and id(obj) in owned and (path := path_of(obj)) not in kept:
            files.setdefault(str(owner_in_package(obj, config.output_dir)), set()).add(path)
    tenants = {t.name for t in config.tenants}
    config_file = path_of(function_config) if function_config else ""
    return [
        Result(
            f"removed the generated files of tenant {tenant!r} "
            f"({'no longer in the spec' if tenant not in tenants else 'the spec no longer generates them'}): "
            f"{', '.join(sorted(paths))}",
            severity="info",
            resource=config.ref,
            file=config_file,
        )
        for tenant, paths in sorted(files.items())
    ]


def expand_package(items: Sequence[Any], fn_config: Mapping[str, Any] | None, file: str) -> Outcome:
    """The KRM processor: expand the items for the tenant spec `fn_config` (from `file`), placed."""
    config = parse_config(fn_config, file)
    return expand_placed(items, config, fn_config, kpt=all_placed(items))


def package_roles(
    items: Sequence[Any],
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None = None,
    sources: Sequence[str] | None = None,
) -> Roles:
    """What each item of a kpt package is to the expansion: owned, passed through, or a base.

    What the function owns is what it writes: labelled AND in `<outputDir>/<tenant>/` (kpt deletes
    the file of every item dropped, so a labelled file elsewhere stays the user's, and is said so).
    The bases stay in their files beside the copies.
    """
    objs = [o for o in items if isinstance(o, Mapping)]
    owned = frozenset(
        id(o)
        for o in objs
        if owner_in_package(o, config.output_dir) is not None or is_own_base_kustomization(o, path_of(o))
    )
    config_file = path_of(function_config) if function_config else ""
    tenant_folders = {GATEWAY_FOLDER, *(t.name for t in config.tenants)} | {
        owner for o in objs if (owner := owner_in_package(o, config.output_dir)) is not None
    }
    passed: dict[int, Result | None] = {}
    for obj, file in members(items, item_files(items, sources)):
        if not (isinstance(obj, Mapping) and inside(file, config.output_dir)):
            continue
        # the output folder is the function's: what a user keeps in a tenant's folder there is
        # passed through, never copied. An object directly in it means outputDir is where the
        # bases are; with `outputDir: .` every folder is in it, so only tenants' folders count
        # (a tenant of the spec, or one the function generated for before)
        folder = tenant_folder(file, config.output_dir)
        wrong = folder is None or (config.output_dir == "." and folder not in tenant_folders)
        passed[id(obj)] = _output_dir_holds(obj, file, config).at(file=config_file) if wrong else None
    return Roles(
        owned=owned,
        passed=passed,
        bases_stay=True,
        results=tuple(_labelled_elsewhere(objs, owned, config)),
    )


def _labelled_elsewhere(
    objs: Sequence[Mapping[str, Any]], owned: frozenset[int], config: TenantsConfig
) -> list[Result]:
    """Items labelled as generated that lie outside their tenant's folder: kept, and said so."""
    return [
        Result(
            f"labelled as generated for tenant {tenant!r} but not in "
            f"{posixpath.join(config.output_dir, tenant).removeprefix('./')}/: kept as it is, "
            "neither regenerated, pruned nor copied",
            severity="warning",
            resource=ResourceRef.of(o),
            file=path_of(o),
        )
        for o in objs
        if id(o) not in owned and (tenant := owner_tenant(o)) is not None
    ]


def _output_dir_holds(obj: Mapping[str, Any], file: str, config: TenantsConfig) -> Result:
    return Result(
        f"outputDir {config.output_dir!r} holds the base {obj.get('kind')}/{meta(obj).get('name')} "
        f"({file}): the function owns that folder and would never copy it; put the generated copies "
        "in a folder of their own beside the bases (e.g. outputDir: overlays)",
        resource=config.ref,
        field="spec.outputDir",
    )
