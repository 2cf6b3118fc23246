"""The tenant spec (functionConfig): schema check, defaults and validation in one pass.

Accepts the typed `RayTenants` kind and the plain `ConfigMap` that `kpt fn eval -- k=v` sends;
the ConfigMap form is converted to the typed shape once, here, and its findings are pointed back
at the `data` key they came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from krm_fn import ray
from krm_fn.isolation.settings import AccessSpec, TenantAccess, parse_access, parse_tenant_access
from krm_fn.results import FnError, Record, ResourceRef, Result, describe
from krm_fn.routing.overlap import Claim, find_overlaps
from krm_fn.spot import SpotSpec, parse_spot

API_GROUP = "fn.ray-tenants.dev"
API_VERSION = f"{API_GROUP}/v1alpha1"
KIND = "RayTenants"
OUTPUT_MODES = ("resources", "overlays")
PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# where each ConfigMap key lands in the typed shape
CONFIGMAP_KEYS: dict[str, str] = {
    "tenants": "spec.tenants",
    "provider": "spec.spot.provider",
    "mode": "spec.spot.mode",
    "nodePools": "spec.spot.nodePools",
    "taintKey": "spec.spot.taintKey",
    "hosts": "spec.routing.hosts",
    "gateways": "spec.routing.gateways",
    "hostTemplate": "spec.routing.hostTemplate",
    "output": "spec.output",
    "outputDir": "spec.outputDir",
    "rayAuth": "spec.access.rayAuth",
    "networkPolicy": "spec.access.networkPolicy.enabled",
}
MANAGED_BY = "app.kubernetes.io/managed-by"
TENANT_LABEL = f"{API_GROUP}/tenant"
# Gateway API: the label on each tenant Namespace that a listener's `allowedRoutes.namespaces.from:
# Selector` selects (spec.routing.namespaceLabel changes it)
ROUTE_LABEL = (f"{API_GROUP}/gateway-access", "true")
TENANT_PLACEHOLDER = "{tenant}"  # in spec.routing.hostTemplate
PARENT_REF_FIELDS = ("group", "kind", "namespace", "name", "sectionName", "port")


# patterns are compiled on first use (functools.cache): a call compiles only those it needs
@functools.cache
def _prefix_pattern() -> re.Pattern[str]:
    """Path prefixes are plain URL path segments: no lookalike unicode, no regex or query characters."""
    return re.compile(r"^/(?:[A-Za-z0-9._~-]+/)+$")


class TenantPatch(Record):
    """RFC 6902 operations for the tenant's copies of one base object."""

    _fields = __slots__ = ("kind", "name", "ops", "field")

    def __init__(self, kind: str, name: str, ops: tuple[dict[str, Any], ...], field: str) -> None:
        self.kind = kind
        self.name = name
        self.ops = ops
        self.field = field  # where it sits in the functionConfig, for findings


class Tenant(Record):
    """One team namespace and its Ray cluster."""

    _fields = __slots__ = (
        "name",
        "path_prefix",
        "namespace_labels",
        "patches",
        "spot",
        "field",
        "access",
        "host",
    )

    def __init__(
        self,
        name: str,
        path_prefix: str,
        namespace_labels: Mapping[str, str] = MappingProxyType({}),
        patches: tuple[TenantPatch, ...] = (),
        spot: bool = True,
        field: str = "spec.tenants[0]",
        access: TenantAccess | None = None,
        host: str | None = None,
    ) -> None:
        self.name = name
        self.path_prefix = path_prefix  # "/" for a tenant with a host of its own
        self.namespace_labels = namespace_labels
        self.patches = patches
        self.spot = spot
        self.field = field
        # who may use the tenant and its quota (krm_fn.isolation.settings)
        self.access = access if access is not None else TenantAccess(groups=(name,))
        # host mode: the tenant's own hostname, served at "/" (None: a path prefix on the shared hosts)
        self.host = host

    @property
    def exact_path(self) -> str:
        return self.path_prefix.rstrip("/")


class TenantsConfig(Record):
    """The validated tenant spec."""

    _fields = __slots__ = (
        "tenants",
        "hosts",
        "gateways",
        "cluster_domain",
        "spot",
        "output",
        "output_dir",
        "kind_scopes",
        "ref",
        "warnings",
        "access",
        "parent_refs",
        "route_label",
    )

    def __init__(
        self,
        tenants: tuple[Tenant, ...] = (),
        hosts: tuple[str, ...] | None = None,
        gateways: tuple[str, ...] | None = None,
        cluster_domain: str = "cluster.local",
        spot: SpotSpec = SpotSpec(),  # noqa: B008  # immutable, as every default here
        output: str = "resources",
        output_dir: str = "overlays",
        kind_scopes: Mapping[tuple[str, str], bool] = MappingProxyType({}),
        ref: ResourceRef = ResourceRef(API_VERSION, KIND, ""),  # noqa: B008
        warnings: tuple[Result, ...] = (),
        access: AccessSpec = AccessSpec(),  # noqa: B008
        parent_refs: tuple[Mapping[str, Any], ...] | None = None,
        route_label: tuple[str, str] = ROUTE_LABEL,
    ) -> None:
        self.tenants = tenants
        self.hosts = hosts
        self.gateways = gateways
        self.cluster_domain = cluster_domain
        self.spot = spot
        self.output = output
        self.output_dir = output_dir
        # ("group", "Kind") -> namespaced, for kinds neither built in nor declared by a CRD input
        self.kind_scopes = kind_scopes
        self.ref = ref
        # the spec's warnings (it has no errors, or it would not exist): reported with the expansion
        self.warnings = warnings
        # spec.access and spec.quota (krm_fn.isolation.settings)
        self.access = access
        # Gateway API: parentRefs of every tenant HTTPRoute (None: the base's), and the Namespace
        # label (key, value) its listener selects
        self.parent_refs = parent_refs
        self.route_label = route_label


class _Checker:
    """Collects findings while walking the raw config; every problem is reported together."""

    def __init__(self) -> None:
        self.results: list[Result] = []

    def error(self, path: str, message: str) -> None:
        self.results.append(Result(message, field=path))

    def mapping(self, value: object, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {describe(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.error(
                    f"{path}.{key}" if path else str(key),
                    f"unknown field {key!r}; expected one of: {', '.join(allowed)}",
                )
        return value

    def string(self, value: object, path: str, default: str | None = None) -> str | None:
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {describe(value)}")
            return default
        return value

    def strings(self, value: object, path: str) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            self.error(path, f"expected a list of strings, got {describe(value)}")
            return None
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.error(f"{path}[{i}]", f"expected a non-empty string, got {describe(item)}")
            else:
                out.append(item)
        return tuple(out)


def parse_config(obj: object, file: str = "") -> TenantsConfig:
    """Turn a functionConfig into a TenantsConfig, or raise FnError with every problem in it."""
    if not isinstance(obj, Mapping) or not obj:
        raise FnError(
            [
                Result(
                    f"missing functionConfig: expect {KIND} ({API_VERSION}) or ConfigMap (v1)",
                    file=file,
                )
            ]
        )
    ref = ResourceRef.of(obj)
    api, kind = obj.get("apiVersion"), obj.get("kind")
    translate: Callable[[str], str] = _identity
    if kind == KIND and isinstance(api, str) and api.split("/")[0] == API_GROUP:
        if api != API_VERSION:
            raise _at(
                ref,
                file,
                [Result(f"unsupported apiVersion {api!r}; expect {API_VERSION}", field="apiVersion")],
            )
        checker = _Checker()
        checker.mapping(
            obj,
            "",  # pragma: no mutate (equivalent: "" and None are both no path, at the top)
            ("apiVersion", "kind", "metadata", "spec"),
        )
        raw_spec = obj.get("spec")
    elif kind == "ConfigMap" and api == "v1":
        checker = _Checker()
        raw_spec = _configmap_to_spec(obj.get("data"), checker)
        translate = _configmap_field
    else:
        raise _at(
            ref,
            file,
            [
                Result(
                    f"unknown functionConfig {kind}.{api}: expect {KIND}.{API_VERSION} or ConfigMap.v1",
                    field="kind",
                )
            ],
        )
    config = _parse_spec(raw_spec, checker, ref)
    found = [_retarget(r, translate).at(ref, file) for r in checker.results]
    if any(r.is_error for r in found):
        raise FnError(found)
    return config._replace(warnings=tuple(found))


def _parse_spec(raw: object, c: _Checker, ref: ResourceRef) -> TenantsConfig:
    spec = c.mapping(
        raw, "spec", ("tenants", "routing", "spot", "output", "outputDir", "kindScopes", "access", "quota")
    )
    routing = c.mapping(
        spec.get("routing"),
        "spec.routing",
        ("hosts", "gateways", "clusterDomain", "parentRefs", "namespaceLabel", "hostTemplate"),
    )
    hosts = c.strings(routing.get("hosts"), "spec.routing.hosts")
    gateways = c.strings(routing.get("gateways"), "spec.routing.gateways")
    domain = c.string(routing.get("clusterDomain"), "spec.routing.clusterDomain", "cluster.local") or ""
    if not ray.dns1123_subdomain().match(domain):
        c.error("spec.routing.clusterDomain", f"{domain!r} is not a DNS name")
    output = c.string(spec.get("output"), "spec.output") or "resources"
    if output not in OUTPUT_MODES:
        c.error("spec.output", f"expected one of {', '.join(OUTPUT_MODES)}, got {output!r}")
    output_dir = c.string(spec.get("outputDir"), "spec.outputDir", "overlays") or ""
    if not _relative_dir(output_dir):
        c.error("spec.outputDir", f"expected a relative folder inside the package, got {output_dir!r}")
    kind_scopes = _kind_scopes(spec.get("kindScopes"), c)
    spot, spot_results = parse_spot(spec.get("spot"))
    c.results.extend(spot_results)
    access, access_results = parse_access(spec)
    c.results.extend(access_results)
    host_template = _host_template(routing.get("hostTemplate"), c)
    tenants = _parse_tenants(spec.get("tenants"), c, access, host_template)
    _check_hosts(tenants, hosts, c)
    parent_refs = _parent_refs(routing.get("parentRefs"), c)
    route_label = _route_label(routing.get("namespaceLabel"), c, tenants)
    return TenantsConfig(
        tenants=tenants,
        hosts=hosts,
        gateways=gateways,
        cluster_domain=domain,
        spot=spot,
        output=output,
        output_dir=output_dir.strip("/").removeprefix("./"),  # "" and "/" are errors above
        kind_scopes=kind_scopes,
        ref=ref,
        access=access,
        parent_refs=parent_refs,
        route_label=route_label,
    )


def _kind_scopes(raw: object, c: _Checker) -> dict[tuple[str, str], bool]:
    """`spec.kindScopes`: `group/Kind: Namespaced` or `Cluster`, in the words of a CRD's `scope`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        c.error(
            "spec.kindScopes",
            f"expected a mapping of group/Kind to Namespaced or Cluster, got {describe(raw)}",
        )
        return {}
    out: dict[tuple[str, str], bool] = {}
    for key, scope in raw.items():
        path = f"spec.kindScopes.{key}"
        group, _, kind = str(key).rpartition("/")
        if not isinstance(key, str) or not group or not kind or "/" in group:
            c.error(
                path, f"expected a key of the form group/Kind (e.g. kueue.x-k8s.io/LocalQueue), got {key!r}"
            )
        elif scope not in ("Namespaced", "Cluster"):
            c.error(
                path,
                f"expected Namespaced or Cluster, got {repr(scope) if isinstance(scope, str) else describe(scope)}",
            )
        else:
            out[(group, kind)] = scope == "Namespaced"
    return out


def _parse_tenants(
    raw: object, c: _Checker, access: AccessSpec, host_template: str | None = None
) -> tuple[Tenant, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.error("spec.tenants", f"expected a list of tenants, got {describe(raw)}")
        return ()
    tenants: list[Tenant] = []
    names: dict[str, str] = {}
    for i, item in enumerate(raw):
        path = f"spec.tenants[{i}]"
        t = c.mapping(
            item,
            path,
            ("name", "pathPrefix", "namespaceLabels", "patches", "spot", "groups", "quota", "host"),
        )
        if not isinstance(item, Mapping):
            continue
        name = c.string(t.get("name"), f"{path}.name")
        if name is None:
            if "name" not in t:
                c.error(f"{path}.name", "required: the tenant's namespace name")
            continue
        problem = _namespace_problem(name)
        if problem:
            c.error(f"{path}.name", problem)
        elif name in names:
            c.error(f"{path}.name", f"duplicate tenant {name!r} (also {names[name]})")
            continue
        names.setdefault(name, f"{path}.name")
        prefix = c.string(t.get("pathPrefix"), f"{path}.pathPrefix", f"/{name}/") or ""
        host = _tenant_host(t, path, name, host_template, c)
        if host is not None:
            prefix = "/"  # host mode: the tenant's own host, whole
        elif prefix == "/":
            c.error(
                f"{path}.pathPrefix",
                "'/' is a catch-all: it would take every other tenant's traffic",
            )
        elif not _prefix_pattern().match(prefix):
            c.error(
                f"{path}.pathPrefix",
                f"{prefix!r} must start and end with '/' and hold only ASCII letters, digits and "
                f"'.', '_', '~', '-' between slashes{_lookalikes(prefix)}",
            )
        spot = t.get("spot", True)
        if not isinstance(spot, bool):
            c.error(f"{path}.spot", f"expected true or false, got {describe(spot)}")
        tenant_access, access_results = parse_tenant_access(t, path, name, access)
        c.results.extend(access_results)
        tenants.append(
            Tenant(
                name=name,
                path_prefix=prefix,
                namespace_labels=_labels(t.get("namespaceLabels"), f"{path}.namespaceLabels", c),
                patches=_patches(t.get("patches"), f"{path}.patches", c),
                spot=spot is not False,
                field=path,
                access=tenant_access,
                host=host,
            )
        )
    _check_prefixes([t for t in tenants if t.host is None], c)
    return tuple(tenants)


def _check_prefixes(tenants: list[Tenant], c: _Checker) -> None:
    """Tenants share hosts and gateways, where Istio's order between VirtualServices is undefined."""
    valid = [t for t in tenants if _prefix_pattern().match(t.path_prefix)]
    for overlap in find_overlaps(Claim(t.path_prefix, t) for t in valid):
        earlier, later = overlap.earlier.owner, overlap.later.owner
        c.error(
            f"{later.field}.pathPrefix",
            f"{later.path_prefix!r} {overlap.phrase} {earlier.path_prefix!r} of tenant {earlier.name!r} "
            f"({earlier.field}): prefixes on one host must not overlap",
        )


def _labels(raw: object, path: str, c: _Checker) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        c.error(path, f"expected a mapping of label names to values, got {describe(raw)}")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not ray.is_label_key(key):
            c.error(f"{path}.{key}", f"{key!r} is not a valid label name")
        elif key in (MANAGED_BY, TENANT_LABEL):
            c.error(f"{path}.{key}", f"{key!r} is set by ray-tenants itself")
        elif not isinstance(value, str) or not ray.is_label_value(value):
            c.error(
                f"{path}.{key}",
                f"{value!r} is not a valid label value (a string of up to 63 characters)",
            )
        else:
            out[key] = value
    return out


def _patches(raw: object, path: str, c: _Checker) -> tuple[TenantPatch, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.error(path, f"expected a list of {{target, patch}}, got {describe(raw)}")
        return ()
    out = []
    for i, item in enumerate(raw):
        p = f"{path}[{i}]"
        entry = c.mapping(item, p, ("target", "patch"))
        target = c.mapping(entry.get("target"), f"{p}.target", ("kind", "name"))
        kind = c.string(target.get("kind"), f"{p}.target.kind")
        name = c.string(target.get("name"), f"{p}.target.name")
        if isinstance(item, Mapping) and (not kind or not name):
            c.error(f"{p}.target", "required: kind and name of the base object to patch")
        ops = entry.get("patch")
        if not isinstance(ops, list) or not ops:
            if isinstance(item, Mapping):
                c.error(
                    f"{p}.patch",
                    "expected a non-empty list of RFC 6902 operations, got "
                    + ("an empty list" if ops == [] else describe(ops)),
                )
            continue
        problems = [(j, _op_problem(op)) for j, op in enumerate(ops)]
        for j, problem in problems:
            if problem:
                c.error(f"{p}.patch[{j}]", problem)
        if kind and name and not any(problem for _, problem in problems):
            out.append(TenantPatch(kind, name, tuple(dict(op) for op in ops), p))
    return tuple(out)


def _op_problem(op: object) -> str | None:
    if not isinstance(op, Mapping):
        return f"expected an operation {{op, path, ...}}, got {describe(op)}"
    kind = op.get("op")
    if kind not in PATCH_OPS:
        return f"op must be one of {', '.join(PATCH_OPS)}, got {kind!r}"
    for key in ("path", *(("from",) if kind in ("move", "copy") else ())):
        value = op.get(key)
        if not isinstance(value, str) or (value and not value.startswith("/")):
            return f"{key} must be a JSON pointer such as /spec/replicas, got {value!r}"
    if kind in ("add", "replace", "test") and "value" not in op:
        return f"{kind} needs a value"
    return None


def _configmap_to_spec(data: object, c: _Checker) -> dict[str, Any]:
    """The flat `data` strings of a ConfigMap in the typed spec shape."""
    data = c.mapping(data, "data", tuple(CONFIGMAP_KEYS))
    spec: dict[str, Any] = {}
    spot: dict[str, Any] = {}
    routing: dict[str, Any] = {}
    access: dict[str, Any] = {}
    for key, value in data.items():
        if key not in CONFIGMAP_KEYS:
            continue
        if not isinstance(value, str):
            c.error(f"data.{key}", f"expected a string, got {describe(value)}")
            continue
        items = [v.strip() for v in value.split(",") if v.strip()]
        if key == "tenants":
            spec["tenants"] = [{"name": n} for n in items]
        elif key in ("hosts", "gateways"):
            routing[key] = items
        elif key == "hostTemplate":
            routing[key] = value.strip()
        elif key == "nodePools":
            pools: dict[str, str] = {}
            for pair in items:
                group, sep, pool = pair.partition("=")
                if not sep or not group.strip() or not pool.strip():
                    c.error(
                        "data.nodePools",
                        f"expected group=pool pairs separated by commas, got {pair!r}",
                    )
                else:
                    pools[group.strip()] = pool.strip()
            spot["nodePools"] = pools
        elif key in ("provider", "mode", "taintKey"):
            spot[key] = value.strip()
        elif key == "rayAuth":
            access["rayAuth"] = value.strip()
        elif key == "networkPolicy":
            word = value.strip().lower()
            access["networkPolicy"] = {"enabled": {"true": True, "false": False}.get(word, value.strip())}
        else:
            spec[key] = value.strip()
    if spot:
        spec["spot"] = spot
    if routing:
        spec["routing"] = routing
    if access:
        spec["access"] = access
    return spec


def _configmap_field(path: str) -> str:
    for key, typed in CONFIGMAP_KEYS.items():
        if path == typed or path.startswith((typed + ".", typed + "[")):
            return f"data.{key}"
    return "data" if path.startswith("spec") else path


def _retarget(result: Result, translate: Callable[[str], str]) -> Result:
    return Result(result.message, result.severity, field=translate(result.field))


def _at(ref: ResourceRef, file: str, results: list[Result]) -> FnError:
    return FnError(r.at(ref, file) for r in results)


def _namespace_problem(name: str) -> str | None:
    if not ray.dns1123_label().match(name) or len(name) > 63:
        return (
            f"{name!r} is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)"
            f"{_lookalikes(name)}"
        )
    if name in RESERVED_NAMESPACES or name.startswith("kube-"):
        return f"{name!r} is a system namespace; a tenant needs its own"
    return None


def _lookalikes(text: str) -> str:
    """Name the non-ASCII characters of `text`: a Cyrillic o (U+043E) reads like a Latin one in a message."""
    import unicodedata  # only on this error path

    odd = dict.fromkeys(ch for ch in text if not ch.isascii())
    if not odd:
        return ""
    named = ", ".join(f"{ch!r} U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in odd)
    return f"; it contains non-ASCII characters: {named}"


def _relative_dir(path: str) -> bool:
    parts = path.strip().split("/")
    return bool(path.strip()) and not path.startswith("/") and ".." not in parts


def _identity(path: str) -> str:
    return path


# --- routers: host per tenant, Gateway API ------------------------------------------------------


def _host_template(raw: object, c: _Checker) -> str | None:
    """`spec.routing.hostTemplate`: a hostname with `{tenant}` where each tenant's name goes."""
    template = c.string(raw, "spec.routing.hostTemplate")
    if template is not None and (TENANT_PLACEHOLDER not in template or "*" in template):
        c.error(
            "spec.routing.hostTemplate",
            f"expected a hostname holding {TENANT_PLACEHOLDER} (e.g. {TENANT_PLACEHOLDER}.ray.example.com), "
            f"got {template!r}",
        )
        return None
    return template


def _tenant_host(t: Mapping[str, Any], path: str, name: str, template: str | None, c: _Checker) -> str | None:
    """The tenant's own host (`tenants[].host`, else the host template's), or None in path mode."""
    if "host" in t:
        host, where = c.string(t.get("host"), f"{path}.host"), f"{path}.host"
    elif template is not None:
        host, where = template.replace(TENANT_PLACEHOLDER, name), "spec.routing.hostTemplate"
    else:
        return None
    if host is None:
        return None
    if "pathPrefix" in t:
        c.error(
            f"{path}.pathPrefix",
            f"tenant {name!r} has a host of its own ({host!r}, from {where}), served at '/': "
            "a path prefix does not apply",
        )
    if not (len(host) <= 253 and ray.dns1123_subdomain().match(host)):
        for_whom = f" for tenant {name!r}" if where != f"{path}.host" else ""
        c.error(
            where,
            f"{host!r}{for_whom} is not a DNS name (lowercase letters, digits, '-' and '.', at most 253; "
            f"one exact host per tenant, no wildcard){_lookalikes(host)}",
        )
    return host


def _check_hosts(tenants: tuple[Tenant, ...], shared: tuple[str, ...] | None, c: _Checker) -> None:
    """A tenant's host is its own: no other tenant's, and not a shared host where path tenants are."""
    owners: dict[str, Tenant] = {}
    for t in tenants:
        if t.host is None:
            continue
        where = f"{t.field}.host"
        other = owners.setdefault(t.host.lower(), t)
        if other is not t:
            c.error(
                where,
                f"host {t.host!r} is also tenant {other.name!r}'s ({other.field}): each tenant needs its own",
            )
        elif shared and t.host.lower() in {h.lower() for h in shared}:
            c.error(
                where,
                f"host {t.host!r} is a shared host (spec.routing.hosts) where tenants are path prefixes",
            )


def _parent_refs(raw: object, c: _Checker) -> tuple[dict[str, Any], ...] | None:
    """`spec.routing.parentRefs`: the Gateways (and listeners) every tenant HTTPRoute attaches to."""
    if raw is None:
        return None
    path = "spec.routing.parentRefs"
    if not isinstance(raw, list) or not raw:
        c.error(
            path, f"expected a non-empty list of parent references {{namespace, name}}, got {describe(raw)}"
        )
        return None
    out = []
    for i, item in enumerate(raw):
        p = f"{path}[{i}]"
        ref = c.mapping(item, p, PARENT_REF_FIELDS)
        if not isinstance(item, Mapping):
            continue
        for key in ("name", "namespace"):
            if not isinstance(ref.get(key), str) or not ref[key]:
                c.error(
                    f"{p}.{key}",
                    "required: the Gateway's name"
                    if key == "name"
                    else "required: the Gateway's namespace (without it each tenant's copy would look "
                    "for the Gateway in its own namespace)",
                )
        for key in ("group", "kind", "sectionName"):
            c.string(ref.get(key), f"{p}.{key}")
        port = ref.get("port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
            c.error(f"{p}.port", f"expected a port number, got {describe(port)}")
        out.append(dict(ref))
    return tuple(out)


def _route_label(raw: object, c: _Checker, tenants: tuple[Tenant, ...]) -> tuple[str, str]:
    """`spec.routing.namespaceLabel: {key, value}`: what a listener's namespace selector matches.

    A tenant's own namespaceLabels may repeat it, not give it another value.
    """
    label = c.mapping(raw, "spec.routing.namespaceLabel", ("key", "value"))
    key = c.string(label.get("key"), "spec.routing.namespaceLabel.key", ROUTE_LABEL[0]) or ""
    value = c.string(label.get("value"), "spec.routing.namespaceLabel.value", ROUTE_LABEL[1]) or ""
    if not ray.is_label_key(key) or key in (MANAGED_BY, TENANT_LABEL):
        c.error("spec.routing.namespaceLabel.key", f"{key!r} is not a label name of your own")
    if not ray.is_label_value(value):
        c.error("spec.routing.namespaceLabel.value", f"{value!r} is not a valid label value")
    for t in tenants:
        if t.namespace_labels.get(key, value) != value:
            c.error(
                f"{t.field}.namespaceLabels.{key}",
                f"{key!r} is the label Gateway listeners select tenant namespaces by "
                f"(spec.routing.namespaceLabel), with the value {value!r}",
            )
    return key, value
