"""The tenant spec among the inputs, and which processor a functionConfig asks for.

As kyaml's framework maps kinds to processors, one table decides what a functionConfig is: the
tenant spec (`RayTenants`, or the `ConfigMap` that `kpt fn eval -- k=v` sends) asks for the
expansion, a `RayTenantsCheck` for the check's kpt validator. Processors are named by module
path and imported only when chosen: the check's schemas cost more to import than a whole
one-tenant expansion takes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from krm_fn.config import API_GROUP, KIND
from krm_fn.inputs.objects import Manifest
from krm_fn.results import FnError, Result

if TYPE_CHECKING:
    from krm_fn.expand import Outcome

CHECK_KIND = "RayTenantsCheck"
EXPANSION = "krm_fn.package:expand_package"
VALIDATOR = "krm_fn.check.validator:validate_items"
# (API group, kind) -> "module:function" taking (items, functionConfig, its file) to an Outcome
PROCESSORS: Mapping[tuple[str, str], str] = {
    (API_GROUP, KIND): EXPANSION,
    ("", "ConfigMap"): EXPANSION,
    (API_GROUP, CHECK_KIND): VALIDATOR,
}

Processor = Callable[[Sequence[Any], Mapping[str, Any] | None, str], "Outcome"]


def group_kind(obj: object) -> tuple[str, str] | None:
    """The API group (empty for the core group) and kind of an object, None if either is no string."""
    if not isinstance(obj, Mapping):
        return None
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return None
    return (api.rpartition("/")[0], kind)


def processor_name(fn_config: object) -> str:
    """The processor the functionConfig asks for; the expansion, whose parser reports what is wrong,
    for anything the table does not know."""
    key = group_kind(fn_config)
    return PROCESSORS.get(key, EXPANSION) if key is not None else EXPANSION


def processor(fn_config: object) -> Processor:
    """The processor function for a functionConfig, its module imported now."""
    return _load(processor_name(fn_config))


def check_processor() -> Processor:
    """The check's kpt validator, whatever the functionConfig (`exec: ray-tenants check`)."""
    return _load(VALIDATOR)


def _load(name: str) -> Processor:
    module, _, function = name.partition(":")
    return cast(Processor, getattr(importlib.import_module(module), function))


def is_tenant_spec(obj: object) -> bool:
    """A RayTenants object (the tenant spec)."""
    return group_kind(obj) == (API_GROUP, KIND)


def tenant_specs(manifests: Sequence[Manifest]) -> list[Manifest]:
    """The tenant specs among the manifests, in input order."""
    return [m for m in manifests if is_tenant_spec(m.data)]


def find_tenant_spec(manifests: Sequence[Manifest], file: str | None = None) -> Manifest:
    """The one tenant spec: among the inputs, or in `file` (whose manifests these are).

    A file holding a single object is taken as the spec whatever it is, so its parser says what
    is wrong with it. Raises FnError unless there is exactly one.
    """
    specs = tenant_specs(manifests)
    if file is not None:
        specs = specs or (list(manifests) if len(manifests) == 1 else [])
        if len(specs) != 1:
            raise FnError(
                [Result(f"expected one tenant spec ({KIND}) in the file, found {len(specs)}", file=file)]
            )
    elif len(specs) != 1:
        raise FnError(
            [
                Result(
                    f"found {len(specs)} tenant specs ({KIND}) among the inputs; pass one with --config FILE"
                )
            ]
        )
    return specs[0]
