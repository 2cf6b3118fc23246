"""Isolation policy: does a stream of manifests keep each tenant's Ray cluster to its tenant?

The check's rules for the three layers, on any objects (generated, hydrated or hand-written):
- Ray auth: every tenant Ray workload runs with token auth (`auth.has_token_auth`), unless the
  spec says `rayAuth: none`;
- NetworkPolicy: the NetworkPolicies of a tenant's namespace, evaluated as Kubernetes evaluates
  them (`semantics`), isolate every Ray pod and admit nothing but the namespace's own pods, the
  gateway namespaces and the operator on the head's dashboard port, the monitoring namespace on
  the metrics port;
- gateway: with `gateway.jwt`, requests to every host and path a tenant route serves (`/t`, and
  everything under `/t/`) without a token, or with one that holds none of the tenant's groups, are
  denied by a DENY AuthorizationPolicy applying to the gateway workload.
Without a tenant spec, a VirtualService routing to a Ray head that has no token auth, with no
DENY policy in its gateway's namespace keeping anonymous requests out, is a warning.

Findings name the object (its index in the list given) and the field; the check locates them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

from krm_fn import ray, routing
from krm_fn.isolation import auth, gateway, network, semantics
from krm_fn.isolation.semantics import FieldPath, Pod, Request, Strings, list_of, mapping_of, namespace_of
from krm_fn.isolation.settings import AccessSpec, GatewaySettings
from krm_fn.results import Record, Severity
from krm_fn.routing.served import Match, Route, Rule, literal_prefix

# KubeRay's labels on the pods it runs, beside the template's own: the group, and "a Ray node"
GROUP_LABEL = "ray.io/group"
IS_RAY_NODE_LABEL = "ray.io/is-ray-node"
HEAD_GROUP = "headgroup"
# a group name no tenant lists: a token carrying only it belongs to nobody allowed
STRANGER_GROUP = "<none of the tenant's groups>"
# a case-insensitive route path with up to this many letters is probed in each of its spellings
# (2**6 at most); one with more, by every path from its first letter on
SPELLED_LETTERS = 6
# the API groups of the policies read (an apiVersion is `group/version`)
NETWORK_GROUP = network.NETWORK_API.split("/")[0]
SECURITY_GROUP = gateway.SECURITY_API.split("/")[0]


class Finding(Record):
    """A problem in the object `index` of the list checked: its field and what is wrong."""

    _fields = __slots__ = ("index", "path", "message", "severity")

    def __init__(self, index: int, path: FieldPath, message: str, severity: Severity = "error") -> None:
        self.index = index
        self.path = path
        self.message = message
        self.severity = severity


class TenantView(Record):
    """What the check needs of one tenant: its namespace and who may use it."""

    _fields = __slots__ = ("name", "groups")

    def __init__(self, name: str, groups: Sequence[str]) -> None:
        self.name = name
        self.groups = tuple(groups)


def open_to_anyone(host: str, prefix: str, namespace: str) -> str:
    """What a Ray cluster without auth behind a route means, said once for every front end."""
    return f"anyone who reaches {host}{prefix} can run code in namespace {namespace}"


# --------------------------------------------------------------------------------------------
# the objects of a stream, by what they are


def _is(obj: Mapping[str, Any], group: str, kind: str) -> bool:
    api = obj.get("apiVersion")
    return isinstance(api, str) and api.split("/")[0] == group and obj.get("kind") == kind


def is_network_policy(obj: Mapping[str, Any]) -> bool:
    return _is(obj, NETWORK_GROUP, "NetworkPolicy")


def is_authorization_policy(obj: Mapping[str, Any]) -> bool:
    return _is(obj, SECURITY_GROUP, "AuthorizationPolicy")


def _describe(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')} {namespace_of(obj)}/{mapping_of(obj.get('metadata')).get('name')}"


# --------------------------------------------------------------------------------------------
# Ray auth


def verify_auth(index: int, obj: Mapping[str, Any]) -> list[Finding]:
    """A tenant Ray workload without token auth (a RayJob on an existing cluster defines none)."""
    path = ray.cluster_spec_path(obj)
    if path is None or ray.cluster_spec(obj) is None or auth.has_token_auth(obj):
        return []
    return [
        Finding(
            index,
            (*path, auth.AUTH_FIELD, "mode"),
            f"no Ray token auth (authOptions.mode: token): anyone who reaches its dashboard can run "
            f"code in namespace {namespace_of(obj)}; render the tenants again (spec.access.rayAuth: token "
            "is the default), or accept it with spec.access.rayAuth: none",
        )
    ]


# --------------------------------------------------------------------------------------------
# NetworkPolicy


def ray_pods(obj: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str, Pod]]:
    """The pods a Ray workload runs (the head, each worker group): their field, role and labels.

    KubeRay labels them with the cluster's name, the node type and the group; a RayJob's or
    RayService's cluster is named at run time, so its `ray.io/cluster` value is unknown here.
    """
    path = ray.cluster_spec_path(obj)
    spec = ray.cluster_spec(obj)
    if path is None or spec is None:
        return
    name = mapping_of(obj.get("metadata")).get("name")
    known = obj.get("kind") == "RayCluster" and isinstance(name, str)
    groups: list[tuple[FieldPath, str, str, Mapping[str, Any]]] = [
        ((*path, "headGroupSpec"), network.HEAD, HEAD_GROUP, mapping_of(spec.get("headGroupSpec")))
    ]
    groups += [
        (gpath, network.WORKER, str(group.get("groupName")), group) for gpath, group in ray.worker_groups(obj)
    ]
    for gpath, role, group_name, group in groups:
        template = mapping_of(group.get("template"))
        labels = {
            str(k): str(v) for k, v in mapping_of(mapping_of(template.get("metadata")).get("labels")).items()
        }
        labels.update({network.NODE_TYPE_LABEL: role, GROUP_LABEL: group_name, IS_RAY_NODE_LABEL: "yes"})
        if known:
            labels[network.CLUSTER_LABEL] = str(name)
        ports = {
            str(p["name"]): p["containerPort"]
            for c in list_of(mapping_of(template.get("spec")).get("containers"))
            for p in list_of(mapping_of(c).get("ports"))
            if isinstance(p, Mapping)
            and isinstance(p.get("name"), str)
            and isinstance(p.get("containerPort"), int)
        }
        unknown = frozenset() if known else frozenset({network.CLUSTER_LABEL})
        yield gpath, role, Pod(namespace_of(obj), labels, unknown, ports)


class Grant(Record):
    """A namespace other than the tenant's own that may reach some ports of some of its Ray pods."""

    _fields = __slots__ = ("namespace", "ports", "head_only", "why")

    def __init__(self, namespace: str, ports: frozenset[int], head_only: bool, why: str) -> None:
        self.namespace = namespace
        self.ports = ports
        self.head_only = head_only
        self.why = why


def grants_of(
    access: AccessSpec, gateway_namespaces: Sequence[str], dashboard_ports: Iterable[int]
) -> list[Grant]:
    """Who besides the tenant's own pods may reach its Ray pods, as `spec.access.networkPolicy` says."""
    dash = frozenset(dashboard_ports) or frozenset({ray.DASHBOARD_PORT})
    settings = access.network
    listed = settings.gateway_namespaces if settings.gateway_namespaces is not None else gateway_namespaces
    out = [Grant(ns, dash, True, "the gateway") for ns in listed]
    if settings.operator_namespace:
        out.append(Grant(settings.operator_namespace, dash, True, "the KubeRay operator"))
    if settings.monitoring_namespace:
        out.append(Grant(settings.monitoring_namespace, frozenset({network.METRICS_PORT}), False, "metrics"))
    return out


def _show_grants(namespace: str, grants: Sequence[Grant], role: str) -> str:
    parts = [f"pods of {namespace}"] + [
        f"of {g.namespace} on {semantics.show_ports(tuple((p, p) for p in sorted(g.ports)))} ({g.why})"
        for g in grants
        if role == network.HEAD or not g.head_only
    ]
    return ", ".join(parts)


def verify_network(
    objects: Sequence[Mapping[str, Any]], namespace: str, grants: Sequence[Grant]
) -> list[Finding]:
    """The NetworkPolicies of `namespace` isolate each of its Ray pods and admit only `grants`."""
    return _network_findings(
        namespace, grants, [(i, o) for i, o in enumerate(objects) if namespace_of(o) == namespace]
    )


def _network_findings(
    namespace: str, grants: Sequence[Grant], own: Sequence[tuple[int, Mapping[str, Any]]]
) -> list[Finding]:
    """`verify_network` on `own`, the objects of `namespace` with their index in the stream (a
    stream of many tenants is read once, not once per tenant)."""
    policies = [(i, o) for i, o in own if is_network_policy(o)]
    out: dict[tuple[int, FieldPath], Finding] = {}
    for index, obj in own:
        if not ray.is_ray_workload(obj):
            continue
        for gpath, role, pod in ray_pods(obj):
            what = f"the {role} pods of {_describe(obj)}"
            if not any(semantics.policy_selects(p, pod) is True for _, p in policies):
                out.setdefault(
                    (index, gpath),
                    Finding(
                        index,
                        gpath,
                        f"no NetworkPolicy in namespace {namespace} selects {what} for ingress: pods of "
                        f"every namespace can reach them; they may admit only {_show_grants(namespace, grants, role)} "
                        "(ray-tenants render generates these policies)",
                    ),
                )
            for pindex, policy in policies:
                for admission in semantics.admissions(policy, pod):
                    problem = _excess(admission, namespace, grants, role)
                    if problem:
                        out.setdefault(
                            (pindex, admission.path),
                            Finding(
                                pindex,
                                admission.path,
                                f"admits {problem} to {what}; they may admit only "
                                f"{_show_grants(namespace, grants, role)}",
                            ),
                        )
    return list(out.values())


def _excess(admission: semantics.Admission, namespace: str, grants: Sequence[Grant], role: str) -> str:
    """What an admission lets in beyond the grants ('' for nothing)."""
    ports = semantics.show_ports(admission.ports)
    if admission.namespaces is None:
        return f"{admission.source} on {ports}"
    for ns in sorted(admission.namespaces - {namespace}):
        allowed = {
            p
            for g in grants
            if g.namespace == ns and (role == network.HEAD or not g.head_only)
            for p in g.ports
        }
        if not semantics.ports_within(admission.ports, allowed):
            return f"pods of namespace {ns} on {ports}"
    return ""


# --------------------------------------------------------------------------------------------
# gateway authorization


def served_paths(match: Match) -> list[Strings]:
    """The request paths a route's path condition takes, as probe sets.

    Istio's `prefix` is a string prefix; the Gateway API's `PathPrefix` is the path and everything
    under it; a regex stands for every path its literal start allows; a case-insensitive match
    takes the path in every spelling (Istio authorizes paths case-sensitively).
    """
    value = match.value
    if match.kind == "exact":
        probes = [Strings.exact(value)]
    elif match.kind == "prefix":
        probes = [Strings.prefix(value)]
    elif match.kind == "path-prefix":
        base = value.rstrip("/")
        probes = [Strings.exact(base or "/"), Strings.prefix(f"{base}/")]
    elif match.kind == "regex":
        probes = [Strings.prefix(literal_prefix(value))]
    else:
        probes = [semantics.ANY]
    if match.ignore_case:
        probes = [s for p in probes for s in _spellings(p)]
    return probes


def _spellings(probe: Strings) -> list[Strings]:
    """The probe in every spelling of its letters, as written first; with too many letters, every
    path that starts as the probe does before its first letter."""
    text = probe.text
    letters = [i for i, c in enumerate(text) if c.lower() != c.upper()]
    if len(letters) > SPELLED_LETTERS:
        return [Strings.prefix(text[: letters[0]])]
    choices = [dict.fromkeys((c, c.lower(), c.upper())) for c in text]
    return [Strings(probe.form, "".join(s)) for s in itertools.product(*choices)]


def _probe_hosts(host: str) -> list[Strings]:
    """A route host as clients send it: as written and with any port; `*.d` is every name in d (and
    `*` every name: the suffix "" is every string, as `semantics.ANY` is)."""
    if host.startswith("*"):
        return [Strings.suffix(host[1:]), Strings.exact(f"tenant-probe{host[1:]}:443")]
    return [Strings.exact(host), Strings.prefix(f"{host}:")]


def _show_groups(groups: Sequence[str]) -> str:
    if list(groups) == [STRANGER_GROUP]:
        return "none of the tenant's groups"
    return f"only {groups[0]!r}" if groups else "no group"


def _http_matches(route: Route, routed_only: bool = False) -> Iterator[tuple[Rule, Match]]:
    """Each path condition of the route's HTTP rules (a rule without one takes every path)."""
    for rule in route.rules:
        if rule.protocol != "http" or (routed_only and not rule.destinations):
            continue
        # served_paths takes a match of any kind but the four path kinds as every path
        every = Match(
            "any",  # pragma: no mutate (equivalent: served_paths takes any other kind as every path too)
            "",
            rule.path,
        )
        yield from ((rule, m) for m in rule.matches or (every,))


def verify_gateway(
    index: int,
    obj: Mapping[str, Any],
    policies: Sequence[Mapping[str, Any]],
    settings: GatewaySettings,
    groups: Sequence[str],
    others: Sequence[str] = (),
) -> list[Finding]:
    """Requests to every host and path the route serves need a token holding one of `groups`.

    `others` are groups of other tenants: their tokens must not pass either. One finding per host
    of the route, at the first path condition with a gap.
    """
    jwt = settings.jwt
    route = routing.route_of(obj)
    if jwt is None or route is None:
        return []
    principal = f"{jwt.issuer}/tenant-probe"
    strangers = [[], [STRANGER_GROUP], *[[g] for g in dict.fromkeys(others) if g not in groups]]
    callers: list[tuple[str | None, list[str], str]] = [(None, [], "requests without a token")] + [
        (principal, g, f"a token whose {jwt.groups_claim} claim holds {_show_groups(g)}") for g in strangers
    ]

    def denied(host: Strings, path: Strings, who: str | None, claims: list[str]) -> semantics.Tri:
        request = Request(host, path, principal=who, claims={jwt.groups_claim: claims})
        return semantics.denied(policies, settings.namespace, settings.selector, request)

    shown = ", ".join(f"{k}={v}" for k, v in settings.selector.items())
    out = []
    for host in route.hosts or ("*",):
        leak = next(
            (
                (match.path, f"denies {what} (host {h}, path {p})")
                for _, match in _http_matches(route)
                for p in served_paths(match)
                for h in _probe_hosts(host)
                for who, claims, what in callers
                if denied(h, p, who, claims) is not True
            ),
            None,
        )
        if leak:
            out.append(
                Finding(
                    index,
                    leak[0],
                    f"no DENY AuthorizationPolicy in {settings.namespace} for the gateway pods ({shown}) "
                    f"{leak[1]}: every path this route serves on {host} needs a token whose "
                    f"{jwt.groups_claim} claim holds one of: {', '.join(groups)} "
                    "(ray-tenants render generates the policy)",
                )
            )
        locked = next(
            (
                (match, g)
                for _, match in _http_matches(route, routed_only=True)
                for g in groups
                if denied(Strings.exact(host), served_paths(match)[0], principal, [g]) is True
            ),
            None,
        )
        if locked:
            out.append(
                Finding(
                    index,
                    locked[0].path,
                    f"a DENY AuthorizationPolicy in {settings.namespace} denies the tenant's own group "
                    f"{locked[1]!r} at {host}{locked[0].value} too: check its paths and the "
                    f"{gateway.groups_claim_key(jwt)} condition",
                    "warning",
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# the stream as a whole


def verify_tenants(
    objects: Sequence[Mapping[str, Any]],
    access: AccessSpec,
    tenants: Sequence[TenantView],
    expanded: Set[str] = frozenset(),
) -> list[Finding]:
    """Every layer `access` asks for, for each tenant, over the objects of a stream.

    `expanded` are the tenants whose objects the expansion produced here: the expansion already
    warned about those without Ray auth.
    """
    authz = [o for o in objects if is_authorization_policy(o)]
    by_namespace: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, o in enumerate(objects):
        by_namespace.setdefault(namespace_of(o), []).append((i, o))
    out: list[Finding] = []
    for tenant in tenants:
        mine = by_namespace.get(tenant.name, [])
        routes = [(i, o) for i, o in mine if routing.route_of(o) is not None]
        workloads = [(i, o) for i, o in mine if ray.is_ray_workload(o)]
        if access.ray_auth != auth.NONE:
            for i, o in workloads:
                out.extend(verify_auth(i, o))
        elif workloads and tenant.name not in expanded:
            out.append(_open_tenant(workloads[0], [o for _, o in routes], tenant.name))
        if access.network.enabled:
            ports = {ray.DASHBOARD_PORT} | _route_ports([o for _, o in routes])
            grants = grants_of(
                access, network.route_gateway_namespaces([o for _, o in routes], tenant.name), ports
            )
            out.extend(_network_findings(tenant.name, grants, mine))
        if access.gateway is not None and access.gateway.jwt is not None:
            others = [g for t in tenants if t.name != tenant.name for g in t.groups]
            for i, o in routes:
                out.extend(verify_gateway(i, o, authz, access.gateway, tenant.groups, others))
    return out


def _served(objs: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Route, Rule, Match]]:
    for obj in objs:
        route = routing.route_of(obj)
        if route is not None:
            yield from ((route, rule, match) for rule, match in _http_matches(route, routed_only=True))


def _open_tenant(
    workload: tuple[int, Mapping[str, Any]], routes: Sequence[Mapping[str, Any]], tenant: str
) -> Finding:
    """The warning of `rayAuth: none` for a tenant, on its first Ray workload."""
    index, obj = workload
    where = " or ".join(
        dict.fromkeys(f"{h}{m.value}" for r, _, m in _served(routes) for h in r.hosts or ("*",))
    )
    path = ray.cluster_spec_path(obj)
    assert path is not None  # a Ray workload has one
    return Finding(
        index, (*path, auth.AUTH_FIELD), open_to_anyone(where or "its Ray head", "", tenant), "warning"
    )


def _route_ports(routes: Iterable[Mapping[str, Any]]) -> set[int]:
    """The destination ports the routes send traffic to."""
    return {d.port for _, rule, _ in _served(routes) for d in rule.destinations if isinstance(d.port, int)}


def verify_open_routes(objects: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Without a spec: a route to a Ray head without token auth that no gateway policy guards (warnings)."""
    heads = {
        (namespace_of(o), name): o
        for o in objects
        if ray.is_ray_workload(o) and (name := ray.head_service_name(o))
    }
    authz = [o for o in objects if is_authorization_policy(o)]
    out = []
    for index, obj in enumerate(objects):
        for route, rule, match in _served([obj]):
            workload = next(
                (
                    w
                    for d in rule.destinations
                    if (w := heads.get((d.namespace, d.service))) is not None and not auth.has_token_auth(w)
                ),
                None,
            )
            gateways = match.gateways or route.gateways
            namespaces = {g.split("/")[0] for g in gateways if "/" in g}
            if workload is None or (
                namespaces and all(_guarded(authz, ns, route, match) for ns in namespaces)
            ):
                continue
            out.append(
                Finding(
                    index,
                    match.path,
                    f"routes to the Ray head of {_describe(workload)}, which has no token auth "
                    f"(authOptions.mode: token), and no DENY AuthorizationPolicy in the gateway's "
                    "namespace keeps anonymous requests out: "
                    + open_to_anyone(
                        route.hosts[0] if route.hosts else "*", match.value, namespace_of(workload)
                    ),
                    "warning",
                )
            )
    return out


def _guarded(policies: Sequence[Mapping[str, Any]], namespace: str, route: Route, match: Match) -> bool:
    """Whether some DENY policy in the gateway's namespace denies anonymous requests to the match.

    Without a spec the gateway's pod labels are unknown: any policy of that namespace counts.
    """
    return all(
        any(
            semantics.policy_matches(p, Request(h, path)) is True
            for p in policies
            if semantics.action(p) == "DENY" and namespace_of(p) == namespace
        )
        for host in route.hosts or ("*",)
        for h in _probe_hosts(host)
        for path in served_paths(match)
    )
