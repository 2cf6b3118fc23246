"""Route policy: does a route serve a tenant's dashboard the way `route_tenant` writes it, and nothing else?

A tenant owns the two rules of its prefix (an exact redirect from `/<t>` to `/<t>/`, and the
`/`-ended prefix rewritten to `/` on the head service in its own namespace) and nothing else, and
no two tenants' paths overlap on one host and gateway. The generator is virtualservice.py; this
module verifies any route against the same rules, generated or written by hand, patched by a
tenant or not.

The rules read `served.Route` records, never a router's own fields: `route_of` turns an object
into one (a VirtualService by `virtualservice.read_virtual_service`), so every router is verified
by the same rules.

Findings are field paths from the route's root with a message: the caller knows where the object
came from and turns them into located results.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Mapping, Sequence, Set
from typing import Any

from krm_fn import ray
from krm_fn.results import Record
from krm_fn.routing.httproute import is_http_route, parent_key, read_http_route
from krm_fn.routing.overlap import PHRASES, Claim, ClaimKind, Overlap, Relation, find_overlaps
from krm_fn.routing.routers import Settings, route_copy, tenant_site
from krm_fn.routing.served import FieldPath, Match, Route, Rule
from krm_fn.routing.virtualservice import (
    HeadTarget,
    RoutedTenant,
    is_virtual_service,
    normalize_gateway,
    read_virtual_service,
)

# namespace -> head services of the Ray workloads known there -> the ports their dashboards are
# routed on (the base VirtualService's port when the function generated the routes, else 8265)
Heads = Mapping[str, Mapping[str, Set[int]]]
_INVERSE: dict[Relation, Relation] = {"same": "same", "nested": "contains", "contains": "nested"}


class RouteFinding(Record):
    """A problem in a route: the field (path from the object root), what is wrong, how bad."""

    _fields = __slots__ = ("path", "message", "severity")

    def __init__(self, path: FieldPath, message: str, severity: str = "error") -> None:
        self.path = path
        self.message = message
        self.severity = severity


class RouteOverlap(Record):
    """A finding on the route `index` (in the list given): an overlap with another's, or its own."""

    _fields = __slots__ = ("index", "finding")

    def __init__(self, index: int, finding: RouteFinding) -> None:
        self.index = index
        self.finding = finding


class Expected(Record):
    """What the tenant spec says a tenant's route serves: its prefix, on these hosts and gateways."""

    _fields = __slots__ = ("prefix", "hosts", "gateways")

    def __init__(self, prefix: str, hosts: tuple[str, ...], gateways: tuple[str, ...]) -> None:
        self.prefix = prefix
        self.hosts = hosts  # lower case
        self.gateways = gateways  # `namespace/name`


class Directory(Record):
    """Which routes are where, so a finding can name the other route: by namespace and by host."""

    _fields = __slots__ = ("namespaces", "hosts")

    def __init__(
        self, namespaces: Mapping[str, tuple[str, ...]], hosts: Mapping[str, tuple[str, ...]]
    ) -> None:
        self.namespaces = namespaces
        self.hosts = hosts

    @classmethod
    def of(cls, routes: Sequence[Route], tenant: Sequence[bool]) -> Directory:
        namespaces: dict[str, tuple[str, ...]] = {}
        hosts: dict[str, tuple[str, ...]] = {}
        for route, mine in zip(
            routes,
            tenant,
            strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
        ):
            if mine:
                namespaces[route.namespace] = (*namespaces.get(route.namespace, ()), route.label)
            for host in route.hosts:
                hosts[host] = (*hosts.get(host, ()), route.label)
        return cls(namespaces, hosts)


EMPTY = Directory({}, {})


def route_of(obj: Mapping[str, Any]) -> Route | None:
    """What a routing object serves, or None when `obj` is not one the policy knows."""
    if is_virtual_service(obj):
        return read_virtual_service(obj)
    if is_http_route(obj):
        return read_http_route(obj)
    return None


def is_tenant_route(vs: Mapping[str, Any], heads: Heads, generated: bool = False) -> bool:
    """A route that serves a Ray dashboard: `generated` by the function, or sending anything to a head."""
    route = route_of(vs)
    if route is None:
        return False
    if generated:
        return True
    return any(
        d.service and (d.service in heads.get(d.namespace, {}) or ray.is_head_service_name(d.service))
        for rule in route.rules
        for d in rule.destinations
    )


def check_route(vs: Mapping[str, Any], heads: Heads, expected: Expected | None = None) -> list[RouteFinding]:
    """The rules of a tenant's route, on one object (see `check_served`)."""
    route = route_of(vs)
    return [] if route is None else check_served(route, heads, expected)


def check_served(
    route: Route, heads: Heads, expected: Expected | None = None, directory: Directory = EMPTY
) -> list[RouteFinding]:
    """A tenant's route: HTTP rules only, each an exact redirect or a `/`-ended prefix rewritten to
    `/`, no regex and no rule for every path, every destination (routes and mirrors, in every
    rule) a head service in its own namespace, redirects on its own hosts. With `expected`, also
    only that prefix, on those hosts and gateways."""
    out: list[RouteFinding] = []
    if expected is not None:
        out.extend(_check_expected_place(route, expected))
    http = [r for r in route.rules if r.protocol == "http"]
    # (path, where to, whether the exact match ignores case)
    redirects = {
        (m.value, r.redirect.uri, m.ignore_case)
        for r in http
        if r.redirect
        for m in r.matches
        if m.kind == "exact"
    }
    for rule in route.rules:
        if rule.protocol != "http":
            out.append(
                RouteFinding(
                    rule.path,
                    f"a {rule.protocol} rule takes whole connections on its gateway, not a path: a "
                    "tenant's route serves HTTP under its own prefix only",
                )
            )
            out.extend(_check_destinations(rule, route, heads, directory, heads_only=False))
            continue
        found = _check_http_rule(rule, route, redirects, expected, directory)
        out.extend(found)
        # a rule refused for taking every path is refused whatever it routes to, but its
        # destinations are still checked for leaving the namespace
        refused = any(f.path == (*rule.path, "match") for f in found)
        out.extend(_check_destinations(rule, route, heads, directory, heads_only=not refused))
    return out


def _check_expected_place(route: Route, expected: Expected) -> list[RouteFinding]:
    out = []
    for host in route.hosts:
        if host not in expected.hosts:
            out.append(
                RouteFinding(
                    route.path_of_hosts,
                    f"serves host {host!r}; a tenant's route serves only the configured hosts "
                    f"({', '.join(expected.hosts) or 'none'})",
                )
            )
    for gateway in route.gateways:
        if gateway not in expected.gateways:
            out.append(
                RouteFinding(
                    route.path_of_gateways,
                    f"bound to gateway {gateway!r}; a tenant's route is bound only to the configured "
                    f"gateways ({', '.join(expected.gateways) or 'mesh'})",
                )
            )
    return out


def _check_http_rule(
    rule: Rule,
    route: Route,
    redirects: Set[tuple[str, object, bool]],
    expected: Expected | None,
    directory: Directory,
) -> list[RouteFinding]:
    out: list[RouteFinding] = []
    rpath = rule.path
    whole_host = _owns_its_hosts(route, expected, directory)
    if whole_host and (not rule.matches or any(m.kind == "any" for m in rule.matches)):
        out.extend(_check_whole_host(rule))
        if rule.redirect is not None:
            out.extend(_check_redirect(rule, route, expected, directory))
        return out
    if not rule.matches or any(m.kind == "any" for m in rule.matches):
        return [
            RouteFinding(
                (*rpath, "match"),
                "this rule matches every path on its hosts; a tenant owns only its prefix "
                "(Istio orders VirtualServices on one host arbitrarily)",
            )
        ]
    for match in rule.matches:
        if match.kind == "regex":
            out.append(
                RouteFinding(
                    match.path,
                    f"regex {match.value!r}: a tenant's route matches only its own prefix (`exact` "
                    "and `prefix`); a regex can take any tenant's paths",
                )
            )
        elif match.kind == "exact":
            if expected is not None and not _same(match.value, expected.prefix.rstrip("/"), match):
                out.append(
                    RouteFinding(
                        match.path,
                        f"exact path {match.value!r} is not the tenant's own {expected.prefix.rstrip('/')!r}",
                    )
                )
        else:
            out.extend(_check_prefix(match, rule, redirects, expected, whole_host))
    if rule.redirect is not None:
        out.extend(_check_redirect(rule, route, expected, directory))
    return out


def _check_prefix(
    match: Match,
    rule: Rule,
    redirects: Set[tuple[str, object, bool]],
    expected: Expected | None,
    whole_host: bool,
) -> list[RouteFinding]:
    """A prefix rule: `/`-ended, not `/`, with its exact redirect, rewritten to `/`; or, on a
    host of the tenant's own, `/` as it is."""
    prefix, rpath = match.value, rule.path
    if match.kind == "path-prefix":  # whole segments: `/t` is `/t/` and `/t` itself
        prefix = prefix.rstrip("/") + "/"
    if prefix == "/":
        if whole_host:
            return _check_whole_host(rule)
        return [RouteFinding(match.path, "prefix '/' catches every other tenant's traffic")]
    if not prefix.endswith("/"):
        return [
            RouteFinding(
                match.path,
                f"prefix {prefix!r} does not end in '/': it also matches {prefix + '-2/'!r} "
                f"and sends '//api' upstream; use {prefix + '/'!r} with an exact redirect from {prefix!r}",
            )
        ]
    out = []
    if expected is not None and not _same(prefix, expected.prefix, match):
        out.append(RouteFinding(match.path, f"prefix {prefix!r} is not the tenant's own {expected.prefix!r}"))
    exact = prefix.rstrip("/")
    if not any(_redirects(r, exact, prefix, match.ignore_case) for r in redirects):
        how = (
            f"an `Exact` match on {exact} and a `RequestRedirect` filter with `ReplaceFullPath: {prefix}` "
            "(without it the dashboard at the bare path loads without its assets)"
            if match.kind == "path-prefix"
            else f"`match: [{{uri: {{exact: {exact}}}}}]` and `redirect: {{uri: {prefix}}}` "
            "(without it the dashboard at the bare path is a 404)"
        )
        out.append(RouteFinding(rpath, f"no redirect from {exact!r} to {prefix!r}: add a rule with {how}"))
    rewrite = rule.rewrite.uri if rule.rewrite is not None else None
    if rewrite != "/":
        want = (
            "a `URLRewrite` filter with `ReplacePrefixMatch: /`"
            if match.kind == "path-prefix"
            else "`rewrite: {uri: /}`"
        )
        out.append(
            RouteFinding(
                (*rule.rewrite.path, *rule.rewrite.uri_field)
                if rule.rewrite is not None and rewrite is not None
                else rpath,
                f"expected {want} on prefix {prefix!r}, got {rewrite!r}: "
                "the Ray dashboard and Jobs API answer at '/'",
            )
        )
    return out


def _owns_its_hosts(route: Route, expected: Expected | None, directory: Directory) -> bool:
    """Host mode: the route serves hosts of its own, where `/` is the tenant's whole dashboard.

    With the tenant spec, when it gives the tenant a host; in a stream, when no other route
    serves any of the route's hosts (the overlap rule reports any that does).
    """
    if expected is not None:
        return expected.prefix == "/"
    return (
        bool(route.hosts)
        and "*" not in route.hosts
        and all(directory.hosts.get(h) == (route.label,) for h in route.hosts)
    )


def _check_whole_host(rule: Rule) -> list[RouteFinding]:
    """A tenant's own host is served as requested: `/` to the head, the path unchanged."""
    rewrite = rule.rewrite.uri if rule.rewrite is not None else None
    if rule.rewrite is None or rewrite in (None, "/"):
        return []
    return [
        RouteFinding(
            (*rule.rewrite.path, *rule.rewrite.uri_field),
            f"rewrites the path to {rewrite!r}: on a host of its own the tenant's dashboard is served "
            "at '/' with the path as requested",
        )
    ]


def _check_redirect(
    rule: Rule, route: Route, expected: Expected | None, directory: Directory
) -> list[RouteFinding]:
    """A tenant's redirect stays on its own hosts (and, with the spec, goes to its own prefix)."""
    assert rule.redirect is not None
    out = []
    authority = rule.redirect.authority
    if authority is not None and str(authority).lower() not in route.hosts:
        served = [label for label in directory.hosts.get(str(authority).lower(), ()) if label != route.label]
        by = f"; {', '.join(served)} serves it" if served else ""
        out.append(
            RouteFinding(
                (*rule.redirect.path, *rule.redirect.authority_field),
                f"redirects to host {authority!r}, which this route does not serve "
                f"({', '.join(route.hosts) or 'no hosts'}): a tenant's redirect stays on its own hosts{by}",
            )
        )
    uri = rule.redirect.uri
    if expected is not None and uri != expected.prefix:
        out.append(
            RouteFinding(
                (*rule.redirect.path, *rule.redirect.uri_field),
                f"redirects to {uri!r}; a tenant's redirect goes to its own prefix {expected.prefix!r}",
            )
        )
    return out


def _redirects(
    redirect: tuple[str, object, bool], exact: str, prefix: str, prefix_ignores_case: bool
) -> bool:
    """Whether an exact-path redirect sends `exact` to a path the prefix rule `prefix` serves."""
    path, to, exact_ignores_case = redirect
    return _equal(path, exact, exact_ignores_case) and _equal(str(to), prefix, prefix_ignores_case)


def _same(value: str, own: str, match: Match) -> bool:
    return _equal(value, own, match.ignore_case)


def _equal(a: str, b: str, ignore_case: bool) -> bool:
    return a.lower() == b.lower() if ignore_case else a == b


def _check_destinations(
    rule: Rule, route: Route, heads: Heads, directory: Directory, heads_only: bool
) -> list[RouteFinding]:
    """Each destination of every rule is in the route's namespace; with `heads_only`, those it
    routes to (not mirrors) are a head service there, on the dashboard port."""
    out = []
    namespace = route.namespace
    for dest in rule.destinations:
        host, service, ns = dest.host, dest.service, dest.namespace
        if namespace and ns != namespace:
            verb = "mirrors requests to" if dest.role == "mirror" else "routes to"
            theirs = directory.namespaces.get(ns)
            whose = f" (the namespace of {', '.join(theirs)})" if theirs else ""
            out.append(
                RouteFinding(
                    (*dest.path, *dest.host_field),
                    f"{verb} {host!r} in namespace {ns!r}{whose}; a tenant's route must stay in its own "
                    f"namespace {namespace!r}",
                )
            )
            continue
        if dest.role == "mirror" or not heads_only:
            continue
        known = heads.get(ns, {})
        if not service or (service not in known if known else not ray.is_head_service_name(service)):
            what = f"one of {', '.join(sorted(known))}" if known else f"a `{ray.HEAD_SERVICE_PLACEHOLDER}`"
            out.append(
                RouteFinding(
                    (*dest.path, *dest.host_field),
                    f"routes to {host!r}, which is not the head service of a Ray workload in "
                    f"{namespace or 'its namespace'!s}; expected {what}",
                )
            )
        ports = known.get(service) or {ray.DASHBOARD_PORT}
        if dest.port not in ports:
            out.append(
                RouteFinding(
                    (*dest.path, *dest.port_field) if dest.port is not None else dest.path,
                    f"expected the dashboard port {' or '.join(map(str, sorted(ports)))}, got {dest.port!r}",
                )
            )
    return out


def check_routes(
    objs: Sequence[Mapping[str, Any]], heads: Heads, tenant: Sequence[bool]
) -> list[RouteOverlap]:
    """Every finding on a stream's routes: each tenant route's own (`check_served`), then overlaps.

    `tenant[i]` says whether `objs[i]` is a tenant's route (generated, or routing to a Ray head);
    the others are only checked for taking a tenant's paths. Objects that are no route are skipped.
    """
    index, served, flags = _read_routes(objs, tenant)
    directory = Directory.of(served, flags)
    out = [
        RouteOverlap(i, finding)
        for i, route, mine in zip(
            index,
            served,
            flags,
            strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
        )
        if mine
        for finding in check_served(route, heads, None, directory)
    ]
    out.extend(RouteOverlap(index[o.index], o.finding) for o in served_overlaps(served, flags))
    return out


def route_overlaps(
    routes: Sequence[Mapping[str, Any]], tenant: Sequence[bool] | None = None
) -> list[RouteOverlap]:
    """No two routes' paths overlap on one host and gateway (see `served_overlaps`); objects that
    are no route take no part. Every route is a tenant's unless `tenant` says otherwise."""
    index, served, flags = _read_routes(routes, tenant or [True] * len(routes))
    return [RouteOverlap(index[o.index], o.finding) for o in served_overlaps(served, flags)]


def _read_routes(
    objs: Sequence[Mapping[str, Any]], tenant: Sequence[bool]
) -> tuple[list[int], list[Route], list[bool]]:
    """The objects that are routes: their positions, what they serve, whether each is a tenant's."""
    read = [(i, r) for i, o in enumerate(objs) if (r := route_of(o)) is not None]
    return [i for i, _ in read], [r for _, r in read], [tenant[i] for i, _ in read]


def served_overlaps(routes: Sequence[Route], tenant: Sequence[bool]) -> list[RouteOverlap]:
    """No two routes' paths overlap on one host and gateway (Istio merges them in an undefined order).

    Exact paths, prefixes, regexes (by their literal start) and rules for every path are compared,
    case-insensitively where a rule ignores case (overlap.py). One finding per pair of routes: an
    error on the later one's path when both are tenants' routes; a warning on the other one's
    when only one is (a route that serves no Ray dashboard takes a tenant's traffic); nothing
    between two routes that are no tenant's.
    """
    by_key: dict[tuple[str, str], list[Claim[int]]] = {}
    for index, route in enumerate(routes):
        for rule in route.rules:
            if rule.protocol != "http":
                continue
            for match in rule.matches or (_every_path(rule),):
                for kind, value in _claim_parts(match):
                    claim = Claim(value, index, match.path, kind, match.ignore_case)
                    for host in route.hosts:
                        for gateway in match.gateways or route.gateways:
                            by_key.setdefault((host, gateway), []).append(claim)
    # a route without hostnames (an HTTPRoute's `*`) serves every host of its gateway
    for (host, gateway), claims in list(by_key.items()):
        if host == "*":
            for (other, on), theirs in by_key.items():
                if on == gateway and other != "*":
                    theirs.extend(claims)
                    theirs.sort(key=lambda c: c.owner)  # in input order, as the claims were made
    # one finding per pair of routes: the first overlap found, or a prefix against a prefix where
    # they have one (the plainest to read)
    chosen: dict[frozenset[int], tuple[Overlap[int], str, str]] = {}
    for (host, gateway), claims in sorted(by_key.items()):
        for overlap in find_overlaps(claims):
            earlier, later = overlap.earlier.owner, overlap.later.owner
            pair = frozenset((earlier, later))
            if not (tenant[earlier] or tenant[later]):
                continue
            if pair not in chosen or (_both_prefixes(overlap) and not _both_prefixes(chosen[pair][0])):
                chosen[pair] = (overlap, host, gateway)
    return [_overlap_finding(o, routes, tenant, host, gateway) for o, host, gateway in chosen.values()]


def _every_path(rule: Rule) -> Match:
    """The condition of a rule without matches: every path (its claim is the empty prefix)."""
    return Match(
        "any",
        "",  # pragma: no mutate (equivalent: an `any` match claims every path whatever its value)
        (*rule.path, "match"),
    )


def _both_prefixes(overlap: Overlap[int]) -> bool:
    return overlap.earlier.kind == overlap.later.kind == "prefix"


def _claim_parts(match: Match) -> list[tuple[ClaimKind, str]]:
    """The overlap claims of one match: a whole-segment prefix is its path and its `/`-ended prefix."""
    if match.kind == "any":
        return [("prefix", "")]
    if match.kind == "path-prefix":
        bare = match.value.rstrip("/")
        return [("exact", bare or "/"), ("prefix", bare + "/")]
    return [(match.kind, match.value)]


def _overlap_finding(
    overlap: Overlap[int], routes: Sequence[Route], tenant: Sequence[bool], host: str, gateway: str
) -> RouteOverlap:
    subject, other, relation = overlap.later, overlap.earlier, overlap.relation
    if tenant[subject.owner] and not tenant[other.owner]:
        subject, other, relation = other, subject, _INVERSE[relation]
    plain = {subject.kind, other.kind} <= {"prefix", "exact"} and "" not in (subject.prefix, other.prefix)
    phrase = PHRASES[relation] if plain else "overlaps"
    if overlap.folded:
        phrase += " (ignoring case)"
    them = _describe(other, bare=plain and subject.kind == other.kind == "prefix")
    message = (
        f"{_describe(subject)} {phrase} {them} of {routes[other.owner].label} on host {host!r} and "
        f"gateway {gateway!r}: {_order(routes[subject.owner], routes[other.owner])}"
    )
    if tenant[subject.owner]:
        return RouteOverlap(subject.owner, RouteFinding(subject.path, message))
    message += ", so this route, which serves no Ray dashboard, can take a tenant's traffic"
    return RouteOverlap(subject.owner, RouteFinding(subject.path, message, "warning"))


def _order(a: Route, b: Route) -> str:
    """Why an overlap is a hijack, in the words of the routers involved."""
    if a.ref.kind == b.ref.kind == "HTTPRoute":
        return "the Gateway API gives the more specific match, then the oldest route, the request"
    return "Istio merges them in an undefined order"


def _describe(claim: Claim[int], bare: bool = False) -> str:
    if claim.kind == "prefix" and not claim.prefix:
        return "a rule for every path"
    if bare:
        return repr(claim.prefix)
    word = {"prefix": "prefix", "exact": "exact path", "regex": "regex"}[claim.kind]
    return f"{word} {claim.prefix!r}"


# --- a tenant's copy, before and after its patches --------------------------------------------


def expected_route(base: Mapping[str, Any], tenant: RoutedTenant, config: Settings) -> Expected:
    """What a tenant's copy of `base` serves: its prefix (or its own host), on the spec's hosts and
    gateways (an HTTPRoute's hostnames and parentRefs), else the base's."""
    spec = _mapping(base.get("spec"))
    site = tenant_site(tenant, config)
    if is_http_route(base):
        hosts = site.hosts if site.hosts is not None else _strings(spec.get("hostnames"))
        own = _namespace_of(base)
        parents = config.parent_refs if config.parent_refs is not None else _list(spec.get("parentRefs"))
        gateways = tuple(parent_key(p, own or tenant.name) for p in parents if isinstance(p, Mapping))
        return Expected(site.prefix, tuple(h.lower() for h in hosts) or ("*",), gateways)
    hosts = site.hosts if site.hosts is not None else _strings(spec.get("hosts"))
    gateways = config.gateways if config.gateways is not None else _strings(spec.get("gateways"))
    return Expected(
        site.prefix,
        tuple(h.lower() for h in hosts),
        tuple(normalize_gateway(g, tenant.name) for g in gateways) or ("mesh",),
    )


def verify_copy(
    copy: Mapping[str, Any],
    base: Mapping[str, Any],
    target: HeadTarget,
    tenant: RoutedTenant,
    config: Settings,
) -> list[RouteFinding]:
    """A tenant's routed copy of `base` against the route policy, as the check verifies it."""
    heads = {tenant.name: {target.service: frozenset({target.port})}}
    return check_route(copy, heads, expected_route(base, tenant, config))


def patch_findings(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    base: Mapping[str, Any],
    target: HeadTarget,
    tenant: RoutedTenant,
    config: Settings,
) -> list[RouteFinding]:
    """What a tenant's patch (turning its copy `before` into `after`) does to the route: a change
    the route generation would drop, or a rule the route policy refuses that was not there before."""
    out: list[RouteFinding] = []
    old, new = _mapping(before.get("spec")), _mapping(after.get("spec"))
    http_route = is_http_route(base)
    rules = "rules" if http_route else "http"
    if old.get(rules) != new.get(rules):
        what = (
            "rules (the redirect and the dashboard rule)"
            if http_route
            else "http rules (the redirect and the dashboard route)"
        )
        out.append(
            RouteFinding(
                ("spec", rules),
                f"the function writes each tenant's {what} from the base's route, so this change would "
                "be lost; change the base's route instead",
            )
        )
    site = tenant_site(tenant, config)
    overrides = (
        (("hostnames", "hosts", site.hosts), ("parentRefs", "parentRefs", config.parent_refs))
        if http_route
        else (("hosts", "hosts", site.hosts), ("gateways", "gateways", config.gateways))
    )
    for key, setting, override in overrides:
        if override is not None and old.get(key) != new.get(key):
            source = (
                "the tenant's host"
                if key in ("hosts", "hostnames") and tenant.host
                else f"the tenant spec's routing.{setting}"
            )
            out.append(
                RouteFinding(
                    ("spec", key),
                    f"{source} replaces spec.{key} in every tenant's route, so this change would be lost",
                )
            )
    had = set(_routed_findings(before, base, target, tenant, config))
    out.extend(f for f in _routed_findings(after, base, target, tenant, config) if f not in had)
    return out


def _routed_findings(
    obj: Mapping[str, Any],
    base: Mapping[str, Any],
    target: HeadTarget,
    tenant: RoutedTenant,
    config: Settings,
) -> list[RouteFinding]:
    routed: dict[str, Any] = _copy.deepcopy(dict(obj))
    routed["metadata"] = {"namespace": tenant.name}  # the policy reads no other metadata
    if isinstance(routed.get("spec"), dict | None):  # a spec of another type cannot be written
        route_copy(routed, target, tenant, config)
    return verify_copy(routed, base, target, tenant, config)


def _namespace_of(obj: Mapping[str, Any]) -> str:
    return str(_mapping(obj.get("metadata")).get("namespace") or "")


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
