"""Route policy: does a VirtualService route a tenant's dashboard the way `route_tenant` writes it?

A tenant owns the two rules of its prefix (an exact redirect from `/<t>` to `/<t>/`, and the
`/`-ended prefix rewritten to `/` on the head service in its own namespace) and nothing else, and
no two tenants' prefixes overlap on one host and gateway. The generator is virtualservice.py;
this module verifies any VirtualService against the same rules, generated or written by hand.

Findings are field paths from the VirtualService's root with a message: the caller knows where
the object came from and turns them into located results.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

from krm_fn import ray
from krm_fn.results import Record, ResourceRef
from krm_fn.routing.overlap import Claim, FieldPath, Overlap, find_overlaps
from krm_fn.routing.virtualservice import is_virtual_service

# namespace -> head services of the Ray workloads known there -> the ports their dashboards are
# routed on (the base VirtualService's port when the function generated the routes, else 8265)
Heads = Mapping[str, Mapping[str, Set[int]]]


class RouteFinding(Record):
    """A problem in a VirtualService: the field (path from the object root) and what is wrong."""

    _fields = __slots__ = ("path", "message")

    def __init__(self, path: FieldPath, message: str) -> None:
        self.path = path
        self.message = message


class RouteOverlap(Record):
    """A prefix of the VirtualService `index` (in the list given) overlapping another's."""

    _fields = __slots__ = ("index", "finding")

    def __init__(self, index: int, finding: RouteFinding) -> None:
        self.index = index
        self.finding = finding


def is_tenant_route(vs: Mapping[str, Any], heads: Heads, generated: bool = False) -> bool:
    """A VirtualService that serves a Ray dashboard: `generated` by the function, or routing to a head."""
    if not is_virtual_service(vs):
        return False
    if generated:
        return True
    namespace = _namespace(vs)
    for dest in _destinations(vs):
        service, ns = service_of(dest.get("host"), namespace)
        if service and (service in heads.get(ns, {}) or ray.is_head_service_name(service)):
            return True
    return False


def check_route(vs: Mapping[str, Any], heads: Heads) -> list[RouteFinding]:
    """The two rules of a tenant's prefix: exact redirect, `/`-ended prefix rewritten to `/`."""
    namespace = _namespace(vs)
    http = _list(_mapping(vs.get("spec")).get("http"))
    out: list[RouteFinding] = []
    redirects = {
        (str(_mapping(m.get("uri")).get("exact")), str(_mapping(r.get("redirect")).get("uri")))
        for r in http
        if isinstance(r, Mapping)
        for m in _list(r.get("match"))
        if isinstance(m, Mapping) and "exact" in _mapping(m.get("uri"))
    }
    for i, rule in enumerate(http):
        if not isinstance(rule, Mapping):
            continue
        rpath: FieldPath = ("spec", "http", i)
        matches = [m for m in _list(rule.get("match")) if isinstance(m, Mapping)]
        if "route" in rule and not any(_mapping(m.get("uri")) for m in matches):
            out.append(
                RouteFinding(
                    (*rpath, "match"),
                    "this rule matches every path on its hosts; a tenant owns only its prefix "
                    "(Istio orders VirtualServices on one host arbitrarily)",
                )
            )
            continue
        for j, match in enumerate(matches):
            prefix = _mapping(match.get("uri")).get("prefix")
            if not isinstance(prefix, str):
                continue
            mpath: FieldPath = (*rpath, "match", j, "uri", "prefix")
            if prefix == "/":
                out.append(RouteFinding(mpath, "prefix '/' catches every other tenant's traffic"))
                continue
            if not prefix.endswith("/"):
                out.append(
                    RouteFinding(
                        mpath,
                        f"prefix {prefix!r} does not end in '/': it also matches {prefix + '-2/'!r} "
                        f"and sends '//api' upstream; use {prefix + '/'!r} with an exact redirect from {prefix!r}",
                    )
                )
                continue
            exact = prefix.rstrip("/")
            if (exact, prefix) not in redirects:
                out.append(
                    RouteFinding(
                        rpath,
                        f"no redirect from {exact!r} to {prefix!r}: add a rule with "
                        f"`match: [{{uri: {{exact: {exact}}}}}]` and `redirect: {{uri: {prefix}}}` "
                        "(without it the dashboard at the bare path is a 404)",
                    )
                )
            rewrite = _mapping(rule.get("rewrite")).get("uri")
            if rewrite != "/":
                out.append(
                    RouteFinding(
                        (*rpath, "rewrite", "uri") if rewrite is not None else rpath,
                        f"expected `rewrite: {{uri: /}}` on prefix {prefix!r}, got {rewrite!r}: "
                        "the Ray dashboard and Jobs API answer at '/'",
                    )
                )
            out.extend(_check_destinations(rule, rpath, namespace, heads))
    return out


def _check_destinations(
    rule: Mapping[str, Any], rpath: FieldPath, namespace: str, heads: Heads
) -> list[RouteFinding]:
    """Each destination of a tenant's prefix rule is a head service of its namespace, on the dashboard port."""
    out = []
    for k, entry in enumerate(_list(rule.get("route"))):
        dest = _mapping(_mapping(entry).get("destination"))
        dpath: FieldPath = (*rpath, "route", k, "destination")
        host = dest.get("host")
        service, ns = service_of(host, namespace)
        if namespace and ns != namespace:
            out.append(
                RouteFinding(
                    (*dpath, "host"),
                    f"routes to {host!r} in namespace {ns!r}; a tenant's route must stay in its own "
                    f"namespace {namespace!r}",
                )
            )
            continue
        known = heads.get(ns, {})
        if not service or (service not in known if known else not ray.is_head_service_name(service)):
            what = f"one of {', '.join(sorted(known))}" if known else f"a `{ray.HEAD_SERVICE_PLACEHOLDER}`"
            out.append(
                RouteFinding(
                    (*dpath, "host"),
                    f"routes to {host!r}, which is not the head service of a Ray workload in "
                    f"{namespace or 'its namespace'!s}; expected {what}",
                )
            )
        port = _mapping(dest.get("port")).get("number")
        ports = known.get(service) or {ray.DASHBOARD_PORT}
        if port not in ports:
            out.append(
                RouteFinding(
                    (*dpath, "port", "number") if port is not None else dpath,
                    f"expected the dashboard port {' or '.join(map(str, sorted(ports)))}, got {port!r}",
                )
            )
    return out


def route_overlaps(routes: Sequence[Mapping[str, Any]]) -> list[RouteOverlap]:
    """No two routes' prefixes overlap on one host and gateway (Istio merges them in an undefined order).

    One finding per pair of VirtualServices, on the later one's prefix (in the order given).
    """
    by_key: dict[tuple[str, str], list[Claim[int]]] = {}
    for index, vs in enumerate(routes):
        for host, gateway, path, prefix in prefix_claims(vs):
            by_key.setdefault((host, gateway), []).append(Claim(prefix, index, path))
    out: list[RouteOverlap] = []
    reported: set[frozenset[int]] = set()
    for (host, gateway), claims in sorted(by_key.items()):
        for overlap in find_overlaps(claims):
            pair = frozenset((overlap.earlier.owner, overlap.later.owner))
            if pair in reported:
                continue
            reported.add(pair)
            out.append(_overlap_finding(overlap, routes, host, gateway))
    return out


def _overlap_finding(
    overlap: Overlap[int], routes: Sequence[Mapping[str, Any]], host: str, gateway: str
) -> RouteOverlap:
    other = ResourceRef.of(routes[overlap.earlier.owner]).label()
    message = (
        f"prefix {overlap.later.prefix!r} {overlap.phrase} {overlap.earlier.prefix!r} of {other} on host "
        f"{host!r} and gateway {gateway!r}: Istio merges them in an undefined order"
    )
    return RouteOverlap(overlap.later.owner, RouteFinding(overlap.later.path, message))


def prefix_claims(vs: Mapping[str, Any]) -> Iterator[tuple[str, str, FieldPath, str]]:
    """(host, gateway, field path, prefix) for each URI prefix a VirtualService routes.

    A gateway without a namespace is the VirtualService's own; no gateways means the mesh.
    """
    spec = _mapping(vs.get("spec"))
    namespace = _namespace(vs)
    gateways = [g for g in _list(spec.get("gateways")) if isinstance(g, str)] or ["mesh"]
    for i, rule in enumerate(_list(spec.get("http"))):
        for j, match in enumerate(_list(_mapping(rule).get("match"))):
            prefix = _mapping(_mapping(match).get("uri")).get("prefix")
            if not isinstance(prefix, str):
                continue
            for host in _list(spec.get("hosts")):
                for gateway in gateways:
                    full = gateway if "/" in gateway or gateway == "mesh" else f"{namespace}/{gateway}"
                    yield str(host), full, ("spec", "http", i, "match", j, "uri", "prefix"), prefix


def service_of(host: object, namespace: str) -> tuple[str, str]:
    """(service, namespace) of a destination host; short names resolve in the VirtualService's."""
    if not isinstance(host, str) or not host:
        return "", namespace
    parts = host.split(".")
    return parts[0], parts[1] if len(parts) > 1 else namespace


def _destinations(vs: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for rule in _list(_mapping(vs.get("spec")).get("http")):
        for entry in _list(_mapping(rule).get("route")):
            yield _mapping(_mapping(entry).get("destination"))


def _namespace(vs: Mapping[str, Any]) -> str:
    return str(_mapping(vs.get("metadata")).get("namespace") or "")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
