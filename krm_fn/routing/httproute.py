"""Gateway API routing per tenant: an HTTPRoute copy in the tenant's namespace for its head service.

Path mode, on the shared hostnames: rule 1 `Exact /<t>` redirected (`RequestRedirect`,
`ReplaceFullPath /<t>/`, 301); rule 2 `PathPrefix /<t>/` rewritten (`URLRewrite`,
`ReplacePrefixMatch /`) to the head service on the dashboard port. Exact takes precedence over
PathPrefix, and PathPrefix matches whole segments, so `/<t>x` is never the tenant's. Host mode,
on the tenant's own hostname: one rule, `PathPrefix /`, no rewrite, no redirect.

The route's parentRefs point at a Gateway in another namespace: its listener admits the tenant's
namespace only when `allowedRoutes.namespaces` says so (`listener_problems` verifies a Gateway
among the inputs does); the tenant Namespace carries the label a `Selector` matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from krm_fn import ray, selectors
from krm_fn.results import ResourceRef, Result, describe
from krm_fn.routing.served import Destination, FieldPath, Match, MatchKind, Redirect, Rewrite, Route, Rule
from krm_fn.routing.virtualservice import HeadTarget, RoutedTenant, editable_spec, pick_head, port_problem

GATEWAY_GROUP = "gateway.networking.k8s.io"
REDIRECT = "RequestRedirect"
REWRITE = "URLRewrite"


class GatewaySettings(Protocol):
    """What the Gateway API router needs of the tenant spec (config.TenantsConfig)."""

    @property
    def hosts(self) -> tuple[str, ...] | None: ...
    @property
    def parent_refs(self) -> tuple[Mapping[str, Any], ...] | None: ...


def is_http_route(obj: Mapping[str, Any]) -> bool:
    """A Gateway API HTTPRoute (any version of gateway.networking.k8s.io)."""
    return obj.get("kind") == "HTTPRoute" and _in_group(obj)


def is_gateway(obj: Mapping[str, Any]) -> bool:
    """A Gateway API Gateway: shared infrastructure the tenant routes attach to, never copied."""
    return obj.get("kind") == "Gateway" and _in_group(obj)


def _in_group(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return isinstance(api, str) and api.startswith(GATEWAY_GROUP + "/")


def find_backend(
    route: Mapping[str, Any], workloads: Sequence[Mapping[str, Any]]
) -> tuple[HeadTarget | None, list[Result]]:
    """Which base Ray head service `route` serves: the one its backendRef names, else the only one."""
    ref = ResourceRef.of(route)

    def error(field: str, message: str) -> tuple[None, list[Result]]:
        return None, [Result(message, resource=ref, field=field)]

    spec = route.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        return error("spec", f"expected a mapping, got {describe(spec)}")
    spec = spec or {}
    rules = spec.get("rules") or []
    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
        return error("spec.rules", f"expected a list of route rules (mappings), got {describe(rules)}")
    # redirect-only rules are regenerated per tenant; what is left is the dashboard rule
    kept = [(i, r) for i, r in enumerate(rules) if r.get("backendRefs") or not _has_filter(r, REDIRECT)]
    if len(kept) > 1:
        return error(
            "spec.rules",
            f"a base HTTPRoute routes one Ray dashboard, found {len(kept)} rules with backends; "
            "move other rules to an HTTPRoute of their own",
        )
    index, rule = kept[0] if kept else (0, {})
    where = f"spec.rules[{index}]"
    for key in ("matches", "filters", "backendRefs"):
        value = rule.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, Mapping) for v in value)):
            return error(f"{where}.{key}", f"expected a list of mappings, got {describe(value)}")
    if len(rule.get("matches") or []) > 1:
        return error(
            f"{where}.matches",
            "the dashboard rule takes at most one match: a URLRewrite with ReplacePrefixMatch needs "
            "exactly one PathPrefix match in its rule",
        )
    backends = rule.get("backendRefs") or [{}]
    backend = backends[0]
    heads = {name for w in workloads if (name := ray.head_service_name(w))}
    service, problem = pick_head(backend.get("name"), backend.get("name"), heads, "backendRef's name")
    if problem:
        return error(f"{where}.backendRefs[0].name", problem)
    port = backend.get("port")
    if port_problem(port):
        return error(f"{where}.backendRefs[0].port", f"expected a port number, got {describe(port)}")
    parents, found = _parent_refs(spec.get("parentRefs"), _namespace(route), ref)
    if found:
        return None, found
    return HeadTarget(str(service), port or ray.DASHBOARD_PORT, rule, parents), []


def _parent_refs(
    raw: object, namespace: str, ref: ResourceRef
) -> tuple[tuple[Mapping[str, Any], ...], list[Result]]:
    """The base's parentRefs, each given the base's namespace where it has none."""
    if raw is None:
        return (), []
    if not isinstance(raw, list) or not all(isinstance(p, Mapping) for p in raw):
        return (), [
            Result(
                f"expected a list of parent references, got {describe(raw)}",
                resource=ref,
                field="spec.parentRefs",
            )
        ]
    out, found = [], []
    for i, parent in enumerate(raw):
        if parent.get("namespace") or namespace:
            out.append({**parent, "namespace": parent.get("namespace") or namespace})
        else:
            found.append(
                Result(
                    "no namespace: a tenant's copy lives in the tenant's namespace and would look for "
                    "the Gateway there; set the Gateway's namespace",
                    resource=ref,
                    field=f"spec.parentRefs[{i}].namespace",
                )
            )
    return tuple(out), found


def route_tenant_http(
    route: dict[str, Any], target: HeadTarget, tenant: RoutedTenant, config: GatewaySettings
) -> list[Result]:
    """Rewrite the tenant's copy `route` in place to the rules of the tenant's prefix (or host)."""
    ref = ResourceRef.of(route)
    spec = editable_spec(route)
    if spec is None:
        return [Result(f"expected a mapping, got {describe(route['spec'])}", resource=ref, field="spec")]
    results: list[Result] = []
    parents = config.parent_refs if config.parent_refs is not None else _copied_parents(spec, target)
    if not parents:
        results.append(
            Result(
                "no parentRefs: set them on the base HTTPRoute or in the tenant spec's routing.parentRefs",
                resource=ref,
                field="spec.parentRefs",
            )
        )
    spec["parentRefs"] = [dict(p) for p in parents]
    hostnames = [tenant.host] if tenant.host is not None else config.hosts
    if hostnames is not None:
        if "hostnames" not in spec:  # where people write it: after parentRefs
            items = list(spec.items())
            spec.clear()
            for key, value in items:
                spec[key] = value
                if key == "parentRefs":
                    spec["hostnames"] = None
        spec["hostnames"] = list(hostnames)
    conditions = [{k: v for k, v in m.items() if k != "path"} for m in target.route.get("matches") or [{}]]
    # the base's own path filters are the tenant's to write; the others (headers, mirrors) are kept
    filters = [f for f in target.route.get("filters") or [] if f.get("type") not in (REDIRECT, REWRITE)]
    rest = {k: v for k, v in target.route.items() if k not in ("matches", "filters", "backendRefs", "name")}
    backend = {
        **{
            k: v
            for k, v in ((target.route.get("backendRefs") or [{}])[0]).items()
            if k not in ("namespace", "group", "kind")
        },
        "name": target.service,
        "port": target.port,
    }
    if tenant.host is not None:
        spec["rules"] = [
            {
                "matches": [{**m, "path": {"type": "PathPrefix", "value": "/"}} for m in conditions],
                **({"filters": filters} if filters else {}),
                **rest,
                "backendRefs": [backend],
            }
        ]
        return results
    rewrite = {
        "type": REWRITE,
        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
    }
    spec["rules"] = [
        {
            "matches": [{**m, "path": {"type": "Exact", "value": tenant.exact_path}} for m in conditions],
            "filters": [
                {
                    "type": REDIRECT,
                    "requestRedirect": {
                        "path": {"type": "ReplaceFullPath", "replaceFullPath": tenant.path_prefix},
                        "statusCode": 301,
                    },
                }
            ],
        },
        {
            "matches": [
                {**m, "path": {"type": "PathPrefix", "value": tenant.path_prefix}} for m in conditions
            ],
            "filters": [rewrite, *filters],
            **rest,
            "backendRefs": [backend],
        },
    ]
    return results


def _copied_parents(spec: Mapping[str, Any], target: HeadTarget) -> list[Mapping[str, Any]]:
    """The copy's parentRefs (a tenant's patch may have changed them: the route policy then says so),
    each that the base wrote without a namespace given the base's, as `find_backend` resolved it."""
    resolved = {_identity(p): p for p in target.parent_refs}
    return [
        resolved.get(_identity(p), p) if not p.get("namespace") else p
        for p in _list(spec.get("parentRefs"))
        if isinstance(p, Mapping)
    ]


def _identity(parent: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), repr(v)) for k, v in parent.items() if k != "namespace"))


def _has_filter(rule: Mapping[str, Any], kind: str) -> bool:
    filters = rule.get("filters")
    return isinstance(filters, list) and any(
        isinstance(f, Mapping) and f.get("type") == kind for f in filters
    )


def _namespace(obj: Mapping[str, Any]) -> str:
    return str(_mapping(obj.get("metadata")).get("namespace") or "")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- which listeners admit a route ---------------------------------------------------------------


def listener_problems(
    route: Mapping[str, Any], namespace_labels: Mapping[str, str], gateways: Sequence[Mapping[str, Any]]
) -> list[tuple[int, str]]:
    """(index of the parentRef, why) for each parentRef to one of `gateways` that admits no listener.

    A listener admits the route when its `allowedRoutes.namespaces` allows the route's namespace
    (`Same`, the default: the Gateway's own; `All`; `Selector`: its label selector matches
    `namespace_labels`), its `allowedRoutes.kinds` (if any) holds HTTPRoute, and its hostname (if
    any) intersects the route's hostnames. `sectionName` and `port` narrow the listeners.
    """
    spec = _mapping(route.get("spec"))
    namespace = _namespace(route)
    hostnames = [h for h in spec.get("hostnames") or [] if isinstance(h, str)]
    out = []
    for i, parent in enumerate(spec.get("parentRefs") or []):
        if not isinstance(parent, Mapping):
            continue
        gateway = next((g for g in gateways if _refers_to(parent, namespace, g)), None)
        if gateway is None:
            continue
        listeners = [
            lis
            for lis in _mapping(gateway.get("spec")).get("listeners") or []
            if isinstance(lis, Mapping)
            and parent.get("sectionName") in (None, lis.get("name"))
            and parent.get("port") in (None, lis.get("port"))
        ]
        reasons = [
            why
            for lis in listeners
            if (why := _refusal(lis, namespace, namespace_labels, _namespace(gateway), hostnames))
        ]
        if len(reasons) == len(listeners):
            label = ResourceRef.of(gateway).label()
            detail = "; ".join(reasons) if reasons else "no listener matches its sectionName or port"
            out.append((i, f"{label} admits no route from namespace {namespace!r}: {detail}"))
    return out


def _refers_to(parent: Mapping[str, Any], namespace: str, gateway: Mapping[str, Any]) -> bool:
    meta = _mapping(gateway.get("metadata"))
    return (
        parent.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
        and parent.get("kind", "Gateway") == "Gateway"
        and parent.get("name") == meta.get("name")
        and (parent.get("namespace") or namespace) == (meta.get("namespace") or "")
    )


def _refusal(
    listener: Mapping[str, Any],
    namespace: str,
    labels: Mapping[str, str],
    gateway_namespace: str,
    hostnames: Sequence[str],
) -> str | None:
    """Why `listener` does not admit an HTTPRoute from `namespace` (labels `labels`), or None."""
    name = listener.get("name")
    allowed = _mapping(listener.get("allowedRoutes"))
    kinds = allowed.get("kinds")
    if (
        isinstance(kinds, list)
        and kinds
        and not any(
            isinstance(k, Mapping)
            and k.get("kind") == "HTTPRoute"
            and k.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
            for k in kinds
        )
    ):
        return f"listener {name!r} allows no HTTPRoute kind"
    namespaces = _mapping(allowed.get("namespaces"))
    where = namespaces.get("from", "Same")
    if where == "Same" and namespace != gateway_namespace:
        return f"listener {name!r} admits routes from its own namespace only (allowedRoutes.namespaces.from: Same)"
    if where == "Selector":
        selector = namespaces.get("selector")
        if not isinstance(selector, Mapping) or not selectors.label_selector_matches(
            selector, {**labels, NAMESPACE_NAME_LABEL: namespace}
        ):
            return f"the namespace selector of listener {name!r} does not match the namespace's labels {dict(labels)}"
    if where not in ("Same", "All", "Selector"):
        return f"listener {name!r} admits routes from {where!r}"
    host = listener.get("hostname")
    if isinstance(host, str) and host and hostnames and not any(_hosts_intersect(host, h) for h in hostnames):
        return f"listener {name!r} serves {host!r}, none of the route's hostnames {list(hostnames)}"
    return None


# Kubernetes labels every Namespace with its name
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _hosts_intersect(listener: str, route: str) -> bool:
    """Gateway API hostname intersection: a `*.` wildcard matches any non-empty run of labels."""

    def covers(pattern: str, host: str) -> bool:
        if pattern.startswith("*."):
            return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
        return pattern == host

    listener, route = listener.lower(), route.lower()
    return covers(listener, route) or covers(route, listener) or listener == route


# --- what an HTTPRoute serves ------------------------------------------------------------------

_MATCH_KINDS: dict[str, MatchKind] = {
    "Exact": "exact",
    "PathPrefix": "path-prefix",
    "RegularExpression": "regex",
}


def parent_key(parent: Mapping[str, Any], namespace: str) -> str:
    """A parentRef as the route policy compares bindings: `namespace/name` of a Gateway.

    Other parents (a Service, for mesh routing) are `Kind:namespace/name`, so they never meet
    a Gateway of the same name.
    """
    name = f"{parent.get('namespace') or namespace}/{parent.get('name')}"
    kind = parent.get("kind", "Gateway")
    return (
        name
        if kind == "Gateway" and parent.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
        else f"{kind}:{name}"
    )


def read_http_route(route: Mapping[str, Any]) -> Route:
    """What an HTTPRoute serves: its hostnames and parents, each rule's matches, backends and filters.

    A route without hostnames serves every hostname of its listeners (`*`); a match without a
    path is `PathPrefix /`, a rule without matches takes every path. Parts of the wrong type are
    left out (the schema check reports them).
    """
    spec = _mapping(route.get("spec"))
    namespace = _namespace(route)
    hosts = tuple(h.lower() for h in _list(spec.get("hostnames")) if isinstance(h, str)) or ("*",)
    parents = tuple(parent_key(p, namespace) for p in _list(spec.get("parentRefs")) if isinstance(p, Mapping))
    rules = [
        _read_rule(rule, ("spec", "rules", i), namespace)
        for i, rule in enumerate(_list(spec.get("rules")))
        if isinstance(rule, Mapping)
    ]
    return Route(
        ResourceRef.of(route),
        namespace,
        hosts,
        parents,
        tuple(rules),
        path_of_hosts=("spec", "hostnames"),
        path_of_gateways=("spec", "parentRefs"),
    )


def _read_rule(rule: Mapping[str, Any], rpath: FieldPath, namespace: str) -> Rule:
    matches = []
    for j, cond in enumerate(_list(rule.get("matches"))):
        if not isinstance(cond, Mapping):
            continue
        path = _mapping(cond.get("path"))
        kind = _MATCH_KINDS.get(str(path.get("type", "PathPrefix")), "regex")  # an unknown type: any path
        matches.append(Match(kind, str(path.get("value", "/")), (*rpath, "matches", j, "path", "value")))
    dests = [
        _backend(ref, (*rpath, "backendRefs", k), namespace)
        for k, ref in enumerate(_list(rule.get("backendRefs")))
        if isinstance(ref, Mapping)
    ]
    redirect = rewrite = None
    filter_lists = [((*rpath, "filters"), rule.get("filters"))] + [
        ((*rpath, "backendRefs", k, "filters"), _mapping(ref).get("filters"))
        for k, ref in enumerate(_list(rule.get("backendRefs")))
    ]
    for fpath, filters in filter_lists:
        for f, item in enumerate(_list(filters)):
            where: FieldPath = (*fpath, f)
            ftype = _mapping(item).get("type")
            if ftype == "RequestMirror":
                mirror = _mapping(_mapping(item).get("requestMirror")).get("backendRef")
                dests.append(
                    _backend(_mapping(mirror), (*where, "requestMirror", "backendRef"), namespace, "mirror")
                )
            elif ftype in (REDIRECT, REWRITE):
                key = "requestRedirect" if ftype == REDIRECT else "urlRewrite"
                body = _mapping(_mapping(item).get(key))
                path = _mapping(body.get("path"))
                field = "replaceFullPath" if path.get("type") == "ReplaceFullPath" else "replacePrefixMatch"
                # a redirect's path is where it sends; a rewrite's, what replaces the matched prefix
                # (a full-path rewrite sends every path to one: not a plain prefix rewrite)
                uri = path.get(field) if ftype == REDIRECT or field == "replacePrefixMatch" else None
                if ftype == REDIRECT:
                    redirect = Redirect(
                        uri, body.get("hostname"), (*where, key), ("path", field), ("hostname",)
                    )
                else:
                    rewrite = Rewrite(
                        uri, body.get("hostname"), (*where, key), ("path", field), ("hostname",)
                    )
    return Rule(rpath, "http", tuple(matches), tuple(dests), redirect, rewrite)


def _backend(ref: Mapping[str, Any], where: FieldPath, namespace: str, role: str = "route") -> Destination:
    """A backendRef: a Service (the default kind) in the route's namespace unless it names another."""
    is_service = ref.get("kind", "Service") == "Service" and ref.get("group", "") in ("", "core")
    name = ref.get("name")
    service = name if isinstance(name, str) and is_service else ""
    ns = str(ref.get("namespace") or namespace)
    return Destination(
        name,
        service,
        ns,
        ref.get("port"),
        where,
        "mirror" if role == "mirror" else "route",
        ("name",),
        ("port",),
    )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
