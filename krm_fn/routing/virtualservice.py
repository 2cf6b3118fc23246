"""Istio routing per tenant: `/<t>` redirects to `/<t>/`, which is rewritten to `/` on the head.

Istio merges VirtualServices bound to one host and gateway in an undefined order, so each tenant
owns exactly the two rules for its prefix and nothing else (the prefixes themselves are checked
for overlap in the config, by overlap.py). policy.py verifies routes against the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any, Protocol

from krm_fn import ray
from krm_fn.results import Record, ResourceRef, Result, describe
from krm_fn.routing.served import (
    Destination,
    FieldPath,
    Match,
    MatchKind,
    Redirect,
    Rewrite,
    Route,
    Rule,
    Transport,
    service_of,
)

ISTIO_GROUP = "networking.istio.io"


class RoutedTenant(Protocol):
    """What routing needs of a tenant (config.Tenant): its namespace and its URI prefix."""

    @property
    def name(self) -> str: ...
    @property
    def path_prefix(self) -> str: ...
    @property
    def exact_path(self) -> str: ...
    @property
    def host(self) -> str | None: ...


class RoutingSettings(Protocol):
    """What routing needs of the tenant spec (config.TenantsConfig): host and gateway overrides."""

    @property
    def hosts(self) -> tuple[str, ...] | None: ...
    @property
    def gateways(self) -> tuple[str, ...] | None: ...
    @property
    def cluster_domain(self) -> str: ...


class HeadTarget(Record):
    """The Ray workload a base route (VirtualService, HTTPRoute) routes to, and its dashboard port."""

    _fields = __slots__ = ("service", "port", "route", "parent_refs")

    def __init__(
        self,
        service: str,
        port: int,
        route: Mapping[str, Any],
        parent_refs: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        self.service = service
        self.port = port
        self.route = route  # the base's dashboard route (rule), the template for the tenant's rules
        # HTTPRoute: the base's parentRefs, each with its namespace (a tenant's copy lives elsewhere)
        self.parent_refs = parent_refs


def is_virtual_service(obj: Mapping[str, Any]) -> bool:
    """An Istio VirtualService (any version of networking.istio.io)."""
    api = obj.get("apiVersion")
    return obj.get("kind") == "VirtualService" and isinstance(api, str) and api.startswith(ISTIO_GROUP + "/")


def read_virtual_service(vs: Mapping[str, Any]) -> Route:
    """What a VirtualService serves: its hosts and gateways, and each http, tcp and tls rule.

    Gateways are normalised as Istio resolves them: `gw` and `./gw` are the VirtualService's own
    namespace's, the legacy `gw.ns.svc.cluster.local` is `ns/gw`. Parts of the wrong type are
    left out (the schema check reports them).
    """
    spec = _mapping(vs.get("spec"))
    namespace = _namespace(vs)
    hosts = tuple(h.lower() for h in _list(spec.get("hosts")) if isinstance(h, str))
    gateways = _gateways(spec.get("gateways"), namespace) or ("mesh",)
    rules: list[Rule] = []
    for protocol in ("http", "tcp", "tls"):
        for i, rule in enumerate(_list(spec.get(protocol))):
            read = (
                _read_rule(rule, ("spec", protocol, i), protocol, namespace)
                if isinstance(rule, Mapping)
                else None
            )
            if read is not None:
                rules.append(read)
    return Route(ResourceRef.of(vs), namespace, hosts, gateways, tuple(rules))


def normalize_gateway(name: str, namespace: str) -> str:
    """`namespace/name` of a gateway as a VirtualService in `namespace` names it (or `mesh`)."""
    if name == "mesh":
        return name
    if "/" in name:
        ns, _, rest = name.partition("/")
        return f"{namespace}/{rest}" if ns == "." else name
    if "." not in name:
        return f"{namespace}/{name}"
    short, _, domain = name.partition(".")
    return f"{domain.split('.', 1)[0]}/{short}"


def _gateways(value: object, namespace: str) -> tuple[str, ...]:
    return tuple(normalize_gateway(g, namespace) for g in _list(value) if isinstance(g, str) and g)


def _read_rule(rule: Mapping[str, Any], rpath: FieldPath, protocol: Transport, namespace: str) -> Rule | None:
    """The rule as what it serves; None for an http rule none of whose path conditions Istio accepts."""
    matches: list[Match] = []
    conditions = _list(rule.get("match")) if protocol == "http" else []
    for j, cond in enumerate(conditions):
        uri = _mapping(cond.get("uri")) if isinstance(cond, Mapping) else {}
        kind: MatchKind = next(
            (k for k in ("exact", "prefix", "regex") if isinstance(uri.get(k), str)), "any"
        )
        if not isinstance(cond, Mapping) or (kind == "any" and cond.get("uri")):
            continue  # not a condition: the schema check says what is wrong with it
        gateways = _gateways(cond.get("gateways"), namespace) or None
        where: FieldPath = (*rpath, "match", j, "uri", kind) if kind != "any" else (*rpath, "match", j)
        matches.append(
            Match(kind, str(uri.get(kind, "")), where, cond.get("ignoreUriCase") is True, gateways)
        )
    dests: list[Destination] = []
    for k, entry in enumerate(_list(rule.get("route"))):
        dests.append(
            _destination(_mapping(entry).get("destination"), (*rpath, "route", k, "destination"), namespace)
        )
    if isinstance(rule.get("mirror"), Mapping):
        dests.append(_destination(rule["mirror"], (*rpath, "mirror"), namespace, "mirror"))
    for k, entry in enumerate(_list(rule.get("mirrors"))):
        where = (*rpath, "mirrors", k, "destination")
        dests.append(_destination(_mapping(entry).get("destination"), where, namespace, "mirror"))
    redirect = rewrite = None
    if isinstance(rule.get("redirect"), Mapping):
        r = rule["redirect"]
        redirect = Redirect(r.get("uri"), r.get("authority"), (*rpath, "redirect"))
    if isinstance(rule.get("rewrite"), Mapping):
        r = rule["rewrite"]
        rewrite = Rewrite(r.get("uri"), r.get("authority"), (*rpath, "rewrite"))
    if conditions and not matches:
        return None
    return Rule(rpath, protocol, tuple(matches), tuple(dests), redirect, rewrite)


def _destination(value: object, where: FieldPath, namespace: str, role: str = "route") -> Destination:
    dest = _mapping(value)
    host = dest.get("host")
    service, ns = service_of(host, namespace)
    port = _mapping(dest.get("port")).get("number")
    return Destination(host, service, ns, port, where, "mirror" if role == "mirror" else "route")


def find_target(
    vs: Mapping[str, Any], workloads: Sequence[Mapping[str, Any]]
) -> tuple[HeadTarget | None, list[Result]]:
    """Which base Ray head service `vs` serves: the one its route names, else the only one."""
    ref = ResourceRef.of(vs)
    spec = vs.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        return None, [Result("expected a mapping", resource=ref, field="spec")]
    http = (spec or {}).get("http") or []
    if not isinstance(http, list) or not all(isinstance(r, Mapping) for r in http):
        return None, [Result("expected a list of HTTP routes", resource=ref, field="spec.http")]
    heads = {name for w in workloads if (name := ray.head_service_name(w))}
    # redirect-only rules are regenerated per tenant; what is left is the dashboard route
    routes = [(i, r) for i, r in enumerate(http) if not ("redirect" in r and "route" not in r)]
    if len(routes) > 1:
        return None, [
            Result(
                f"a base VirtualService routes one Ray dashboard, found {len(routes)} HTTP routes; "
                "move other routes to a VirtualService of their own",
                resource=ref,
                field="spec.http",
            )
        ]
    index, route = routes[0] if routes else (0, {})
    shape = _route_shape_problem(route, f"spec.http[{index}]")
    if shape:
        return None, [Result(shape[1], resource=ref, field=shape[0])]
    dest = _first_destination(route)
    host = dest.get("host") if dest else None
    where = f"spec.http[{index}].route[0].destination"
    service, problem = pick_head(
        host, host.partition(".")[0] if isinstance(host, str) else None, heads, "route's destination host"
    )
    if problem:
        return None, [Result(problem, resource=ref, field=f"{where}.host")]
    port_spec = dest.get("port") if dest else None
    port = port_spec.get("number") if isinstance(port_spec, Mapping) else None
    if port_problem(port):
        return None, [
            Result(f"expected a port number, got {port!r}", resource=ref, field=f"{where}.port.number")
        ]
    return HeadTarget(str(service), port or ray.DASHBOARD_PORT, route), []


def pick_head(written: object, service: object, heads: Set[str], field: str) -> tuple[str | None, str]:
    """The head service a base route's backend names (`service`, read from `written`), or with one
    Ray workload among the bases, its head whatever the route names; else why not, telling what
    to set the `field` to."""
    if isinstance(service, str) and service in heads:
        return service, ""
    if len(heads) == 1:
        return next(iter(heads)), ""
    named = f"routes to {written!r}, which is" if written else "names"
    what = "no Ray workload" if not heads else f"none of {', '.join(sorted(heads))}"
    return None, (
        f"{named} not the head service of a base Ray workload ({what} found); "
        f"set the {field} to `{ray.HEAD_SERVICE_PLACEHOLDER}`"
    )


def port_problem(port: object) -> bool:
    """A port that is given and is no port number."""
    return port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536)


def editable_spec(route: dict[str, Any]) -> dict[str, Any] | None:
    """A route copy's `spec`, made an empty mapping when it is missing; None when it is no mapping."""
    spec = route.get("spec")
    if spec is None:
        spec = route["spec"] = {}
    return spec if isinstance(spec, dict) else None


def route_tenant(
    vs: dict[str, Any], target: HeadTarget, tenant: RoutedTenant, config: RoutingSettings
) -> list[Result]:
    """Rewrite the tenant's copy `vs` in place to the two rules of the tenant's prefix."""
    ref = ResourceRef.of(vs)
    spec = editable_spec(vs)
    if spec is None:
        return [Result(f"expected a mapping, got {describe(vs['spec'])}", resource=ref, field="spec")]
    results: list[Result] = []
    own_host = (tenant.host,) if tenant.host is not None else None
    for key, override in (("hosts", own_host or config.hosts), ("gateways", config.gateways)):
        if override is not None:
            spec[key] = list(override)
        elif spec.get(key) and not _strings(spec[key]):
            results.append(
                Result(
                    f"expected a list of strings, got {_describe_list(spec[key])}",
                    resource=ref,
                    field=f"spec.{key}",
                )
            )
        elif not spec.get(key):
            results.append(
                Result(
                    f"no {key}: set them on the base VirtualService or in the tenant spec's routing.{key}",
                    resource=ref,
                    field=f"spec.{key}",
                )
            )
    results.extend(_export_problems(spec, tenant.name, ref))
    fqdn = f"{target.service}.{tenant.name}.svc.{config.cluster_domain}"
    base = dict(target.route)
    conditions = [m for m in base.pop("match", None) or [{}] if isinstance(m, Mapping)] or [{}]
    for key in ("redirect", "rewrite", "route", "name"):
        base.pop(key, None)
    old_rewrite = target.route.get("rewrite")
    rewrite = {**(old_rewrite if isinstance(old_rewrite, Mapping) else {}), "uri": "/"}
    route_entry = dict(_first_route(target.route))
    route_entry["destination"] = {
        **(route_entry.get("destination") or {}),
        "host": fqdn,
        "port": {"number": target.port},
    }
    if tenant.host is not None:
        # the tenant's own host, whole: no prefix to strip, no bare path to redirect (a rewrite
        # of the authority, say, is the base's and kept)
        kept = {k: v for k, v in rewrite.items() if k != "uri"}
        spec["http"] = [
            {
                "name": f"{tenant.name}-dashboard",
                "match": [{**m, "uri": {"prefix": "/"}} for m in conditions],
                **({"rewrite": kept} if kept else {}),
                **base,
                "route": [route_entry],
            }
        ]
        return results
    spec["http"] = [
        {
            "name": f"{tenant.name}-dashboard-redirect",
            "match": [{**m, "uri": {"exact": tenant.exact_path}} for m in conditions],
            "redirect": {"uri": tenant.path_prefix},
        },
        {
            "name": f"{tenant.name}-dashboard",
            "match": [{**m, "uri": {"prefix": tenant.path_prefix}} for m in conditions],
            "rewrite": rewrite,
            **base,
            "route": [route_entry],
        },
    ]
    return results


def _export_problems(spec: Mapping[str, Any], namespace: str, ref: ResourceRef) -> list[Result]:
    """A gateway in another namespace only sees the VirtualService if exportTo lets it."""
    export = spec.get("exportTo")
    if export is None:
        return []
    if not _strings(export):
        return [
            Result(
                f"expected a list of namespaces ('.', '*' or names), got {_describe_list(export)}",
                resource=ref,
                field="spec.exportTo",
            )
        ]
    if "*" in export:
        return []
    visible = {namespace if e == "." else e for e in export}
    hidden = [
        g
        for g in spec.get("gateways") or []
        if isinstance(g, str) and "/" in g and g.partition("/")[0] not in visible  # `mesh` has no "/"
    ]
    return [
        Result(
            f"exportTo {export} hides this VirtualService from gateway {g!r}; add {g.partition('/')[0]!r}",
            resource=ref,
            field="spec.exportTo",
        )
        for g in hidden
    ]


def _route_shape_problem(route: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """(field, message) where the dashboard route the tenant rules copy is not an Istio HTTPRoute."""
    match = route.get("match")
    if match is not None and not (isinstance(match, list) and all(isinstance(m, Mapping) for m in match)):
        return f"{where}.match", f"expected a list of match conditions (mappings), got {describe(match)}"
    for key in ("rewrite", "redirect"):
        value = route.get(key)
        if value is not None and not isinstance(value, Mapping):
            return f"{where}.{key}", f"expected a mapping, got {describe(value)}"
    entries = route.get("route")
    if entries is None:
        return None
    if not isinstance(entries, list):
        return f"{where}.route", f"expected a list of route destinations, got {describe(entries)}"
    if entries and not isinstance(entries[0], Mapping):
        return f"{where}.route[0]", f"expected a mapping with a destination, got {describe(entries[0])}"
    dest = entries[0].get("destination") if entries else None
    if dest is not None and not isinstance(dest, Mapping):
        return f"{where}.route[0].destination", f"expected a mapping with host and port, got {describe(dest)}"
    host = dest.get("host") if dest else None
    if host is not None and not isinstance(host, str):
        return f"{where}.route[0].destination.host", f"expected a service name, got {describe(host)}"
    port = dest.get("port") if dest else None
    if port is not None and not isinstance(port, Mapping):
        return (
            f"{where}.route[0].destination.port",
            f"expected a mapping such as {{number: 8265}}, got {describe(port)}",
        )
    return None


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _describe_list(value: object) -> str:
    """`a string`, or for a list what its first non-string entry is: `a list holding a mapping`."""
    if not isinstance(value, list):
        return describe(value)
    odd = next((v for v in value if not isinstance(v, str)), None)
    return f"a list holding {describe(odd)}"


def _first_route(route: Mapping[str, Any]) -> Mapping[str, Any]:
    entries = route.get("route")
    first = entries[0] if isinstance(entries, list) and entries else None
    return first if isinstance(first, Mapping) else {}


def _first_destination(route: Mapping[str, Any]) -> Mapping[str, Any] | None:
    dest = _first_route(route).get("destination")
    return dest if isinstance(dest, Mapping) else None


def _namespace(obj: Mapping[str, Any]) -> str:
    return str(_mapping(obj.get("metadata")).get("namespace") or "")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
