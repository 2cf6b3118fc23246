"""The kpt validator: a ResourceList in (a `RayTenantsCheck` functionConfig), the same items and
the findings out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from krm_fn.check.checker import check
from krm_fn.check.options import CHECKS, Options
from krm_fn.config import API_VERSION
from krm_fn.expand import Outcome
from krm_fn.inputs.function_config import is_tenant_spec
from krm_fn.inputs.loader import from_items
from krm_fn.inputs.objects import Manifest
from krm_fn.results import FnError, ResourceRef, Result, describe

CHECK_FIELDS = ("kubernetesVersion", "strict", "select")
# kpt passes a validator no files of its own: a CRD is one of the package's
ADD_CRD = "add its CustomResourceDefinition to the package"


def parse_options(fn_config: Mapping[str, Any], file: str = "") -> Options:
    """Options from the functionConfig's spec; every problem in it reported together."""
    ref = ResourceRef.of(fn_config)
    problems: list[Result] = []
    if fn_config.get("apiVersion") != API_VERSION:
        problems.append(
            Result(
                f"unsupported apiVersion {fn_config.get('apiVersion')!r}; expect {API_VERSION}",
                field="apiVersion",
            )
        )
    spec = fn_config.get("spec") or {}
    if not isinstance(spec, Mapping):
        spec = {}
        problems.append(Result(f"expected a mapping, got {describe(fn_config.get('spec'))}", field="spec"))
    problems.extend(
        Result(f"unknown field {k!r}; expected one of: {', '.join(CHECK_FIELDS)}", field=f"spec.{k}")
        for k in spec
        if k not in CHECK_FIELDS
    )
    version = spec.get("kubernetesVersion")
    if version is not None and not isinstance(version, str):
        problems.append(
            Result(
                f"expected a string such as '1.32', got {describe(version)}", field="spec.kubernetesVersion"
            )
        )
        version = None
    strict = spec.get("strict", True)
    if not isinstance(strict, bool):
        problems.append(Result(f"expected true or false, got {describe(strict)}", field="spec.strict"))
        strict = True
    select = spec.get("select", list(CHECKS))
    if not isinstance(select, list) or not select or any(s not in CHECKS for s in select):
        problems.append(
            Result(f"expected a list of {', '.join(CHECKS)}, got {select!r}", field="spec.select")
        )
        select = list(CHECKS)
    if problems:
        raise FnError(r.at(ref, file) for r in problems)
    return Options(kubernetes_version=version, strict=strict, select=frozenset(select), add_crd=ADD_CRD)


def validate_items(items: Sequence[Any], fn_config: Mapping[str, Any] | None, file: str = "") -> Outcome:
    """Check the items; the outcome holds them unchanged, with the findings as results.

    With no functionConfig (`exec: ray-tenants check` without configPath) every check runs with
    its defaults; a tenant spec as the functionConfig is the spec the package is checked against.
    """
    if not fn_config:
        options = Options(add_crd=ADD_CRD)
    elif is_tenant_spec(fn_config):
        options = Options(config=Manifest(fn_config, file), add_crd=ADD_CRD)
    else:
        options = parse_options(fn_config, file)
    found = check(from_items(items), options)
    return Outcome(list(items), found.results)
