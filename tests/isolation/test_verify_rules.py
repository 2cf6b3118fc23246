"""The check's isolation rules, finding by finding, on small hand-written objects.

Each case is a Ray workload, its NetworkPolicies, a route and gateway AuthorizationPolicies as a
person might write or drift them; the expectation is the whole finding (object index, field,
message, severity) as a user reads it:
- Ray auth: a tenant workload without `authOptions.mode: token` is an error, `rayAuth: none` a
  warning that says where the cluster is reachable;
- NetworkPolicy: a Ray pod group no policy isolates, and each ingress peer admitting more than the
  tenant's own pods, the gateway and operator on the head's dashboard port, monitoring on the
  metrics port;
- gateway: the first host and path a DENY policy leaves open to requests without a token or with
  a token of no, an unknown or another tenant's group; a DENY that locks the tenant's own group
  out (a warning);
- without a spec: a route to a Ray head without token auth that no DENY policy in the gateway's
  namespace guards (a warning).
"""

from __future__ import annotations

import copy
from typing import Any

from krm_fn.isolation.semantics import Pod, Strings
from krm_fn.isolation.settings import AccessSpec, GatewaySettings, Jwt, NetworkSettings
from krm_fn.isolation.verify import (
    Finding,
    Grant,
    TenantView,
    grants_of,
    is_authorization_policy,
    is_network_policy,
    ray_pods,
    served_paths,
    verify_auth,
    verify_gateway,
    verify_network,
    verify_open_routes,
    verify_tenants,
)
from krm_fn.routing.served import Match

T, GW, OP, MON = "t", "gw", "ray-system", "monitoring"
ISSUER = "https://idp.example.com"
HOST = "ray.example.com"
NAME = "kubernetes.io/metadata.name"

# --- objects ------------------------------------------------------------------------------------


def cluster_spec(auth: bool = True) -> dict[str, Any]:
    head_ports = [{"name": "dashboard", "containerPort": 8265}, {"name": "metrics", "containerPort": 8080}]
    spec: dict[str, Any] = {
        "headGroupSpec": {"template": {"spec": {"containers": [{"name": "head", "ports": head_ports}]}}},
        "workerGroupSpecs": [{"groupName": "cpu", "template": {"spec": {"containers": [{"name": "w"}]}}}],
    }
    if auth:
        spec["authOptions"] = {"mode": "token"}
    return spec


def cluster(namespace: str = T, auth: bool = True, name: str = "rc") -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": cluster_spec(auth),
    }


def rayjob(auth: bool = True, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "job", "namespace": T},
        "spec": spec or {"entrypoint": "python x.py", "rayClusterSpec": cluster_spec(auth)},
    }


def netpol(name: str, selector: dict[str, Any], *rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": extra.pop("namespace", T)},
        "spec": {"podSelector": selector, "ingress": list(rules), **extra},
    }


def from_ns(*names: str) -> dict[str, Any]:
    if len(names) == 1:
        return {"namespaceSelector": {"matchLabels": {NAME: names[0]}}}
    return {
        "namespaceSelector": {"matchExpressions": [{"key": NAME, "operator": "In", "values": list(names)}]}
    }


def route(
    hosts: list[str] | None = None, gateways: list[str] | None = None, port: int = 8265, **http: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "gateways": [f"{GW}/g"] if gateways is None else gateways,
        "http": http.get("rules")
        or [
            {"match": [{"uri": {"exact": "/t"}}], "redirect": {"uri": "/t/"}},
            {
                "match": [{"uri": {"prefix": "/t/"}}],
                "route": [{"destination": {"host": "rc-head-svc", "port": {"number": port}}}],
            },
        ],
    }
    if hosts != []:
        spec["hosts"] = hosts or [HOST]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "ray", "namespace": T},
        "spec": spec,
    }


EXACT = ("spec", "http", 0, "match", 0, "uri", "exact")
PREFIX = ("spec", "http", 1, "match", 0, "uri", "prefix")
HEAD_PATH = ("spec", "headGroupSpec")
WORKER_PATH = ("spec", "workerGroupSpecs", 0)


def authz(*rules: dict[str, Any], action: str = "DENY", namespace: str = GW, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "a", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"istio": "gw"}},
            "action": action,
            "rules": list(rules),
            **spec,
        },
    }


def without(*groups: str, claim: str = "groups") -> dict[str, Any]:
    return {"key": f"request.auth.claims[{claim}]", "notValues": list(groups)}


def to(*paths: str, **op: Any) -> list[dict[str, Any]]:
    return [{"operation": {"paths": list(paths), **op} if paths else op}]


TENANT_ONLY = authz({"to": to("/t", "/t/*"), "when": [without("ml")]})
ANONYMOUS = {"from": [{"source": {"notRequestPrincipals": ["*"]}}]}

# --- what is what -------------------------------------------------------------------------------


def test_policies_are_known_by_their_api_group_and_kind() -> None:
    assert is_network_policy({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"})
    assert is_network_policy({"apiVersion": "networking.k8s.io/v1beta1", "kind": "NetworkPolicy"})
    assert not is_network_policy({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"})
    assert not is_network_policy({"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy"})
    assert not is_network_policy({"apiVersion": "networking.k8s.io.evil/v1", "kind": "NetworkPolicy"})
    assert not is_network_policy({"kind": "NetworkPolicy"})
    assert not is_network_policy({"apiVersion": 1, "kind": "NetworkPolicy"})
    assert is_authorization_policy({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy"})
    assert is_authorization_policy({"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy"})
    assert not is_authorization_policy({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication"})
    assert not is_authorization_policy(
        {"apiVersion": "networking.istio.io/v1", "kind": "AuthorizationPolicy"}
    )


# --- Ray auth -----------------------------------------------------------------------------------

NO_AUTH = (
    "no Ray token auth (authOptions.mode: token): anyone who reaches its dashboard can run code in "
    "namespace t; render the tenants again (spec.access.rayAuth: token is the default), or accept it "
    "with spec.access.rayAuth: none"
)


def test_a_ray_workload_without_token_auth_is_an_error_at_its_auth_mode() -> None:
    assert verify_auth(3, cluster(auth=False)) == [
        Finding(3, ("spec", "authOptions", "mode"), NO_AUTH, "error")
    ]
    assert verify_auth(1, rayjob(auth=False)) == [
        Finding(1, ("spec", "rayClusterSpec", "authOptions", "mode"), NO_AUTH, "error")
    ]
    disabled = cluster()
    disabled["spec"]["authOptions"] = {"mode": "disabled"}
    assert verify_auth(0, disabled) == [Finding(0, ("spec", "authOptions", "mode"), NO_AUTH, "error")]


def test_a_finding_carries_the_objects_index_the_field_the_message_and_the_severity() -> None:
    (found,) = verify_auth(3, cluster(auth=False))
    assert (found.index, found.path, found.message, found.severity) == (
        3,
        ("spec", "authOptions", "mode"),
        NO_AUTH,
        "error",
    )


def test_token_auth_a_job_on_an_existing_cluster_and_other_kinds_pass() -> None:
    assert verify_auth(0, cluster()) == []
    assert verify_auth(0, rayjob(clusterSelector={"ray.io/cluster": "shared"})) == []
    assert verify_auth(0, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": T}}) == []


# --- the pods of a Ray workload -----------------------------------------------------------------


def test_the_pods_of_a_ray_cluster_carry_kuberays_labels_and_their_named_ports() -> None:
    rc = cluster()
    head = rc["spec"]["headGroupSpec"]["template"]
    head["metadata"] = {"labels": {"app": "ray", "replicas": 2, "ray.io/node-type": "mine"}}
    head["spec"]["containers"][0]["ports"] += [
        {"name": 5, "containerPort": 1},  # not a port name
        {"containerPort": 6379},  # no name
        {"name": "bad", "containerPort": "80"},  # not a number
        "not a port",
    ]
    head["spec"]["containers"].append(
        {"name": "sidecar", "ports": [{"name": "client", "containerPort": 10001}]}
    )
    kuberay = {"ray.io/is-ray-node": "yes", "ray.io/cluster": "rc"}
    assert list(ray_pods(rc)) == [
        (
            HEAD_PATH,
            "head",
            Pod(
                T,
                {
                    "app": "ray",
                    "replicas": "2",
                    "ray.io/node-type": "head",
                    "ray.io/group": "headgroup",
                    **kuberay,
                },
                frozenset(),
                {"dashboard": 8265, "metrics": 8080, "client": 10001},
            ),
        ),
        (
            WORKER_PATH,
            "worker",
            Pod(T, {"ray.io/node-type": "worker", "ray.io/group": "cpu", **kuberay}, frozenset(), {}),
        ),
    ]


def test_the_cluster_name_of_a_jobs_pods_is_not_known_from_the_manifests() -> None:
    pods = list(ray_pods(rayjob()))
    assert [(path, role) for path, role, _ in pods] == [
        (("spec", "rayClusterSpec", "headGroupSpec"), "head"),
        (("spec", "rayClusterSpec", "workerGroupSpecs", 0), "worker"),
    ]
    head = pods[0][2]
    assert head.unknown == frozenset({"ray.io/cluster"})
    assert head.labels == {
        "ray.io/node-type": "head",
        "ray.io/group": "headgroup",
        "ray.io/is-ray-node": "yes",
    }


def test_a_job_on_an_existing_cluster_and_other_objects_run_no_pods() -> None:
    assert list(ray_pods(rayjob(clusterSelector={"ray.io/cluster": "shared"}))) == []
    assert list(ray_pods({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})) == []


# --- who may reach the Ray pods -----------------------------------------------------------------

GRANTS = [
    Grant(GW, frozenset({8265}), True, "the gateway"),
    Grant(OP, frozenset({8265}), True, "the KubeRay operator"),
    Grant(MON, frozenset({8080}), False, "metrics"),
]
HEAD_MAY = (
    "pods of t, of gw on 8265 (the gateway), of ray-system on 8265 (the KubeRay operator), "
    "of monitoring on 8080 (metrics)"
)
WORKER_MAY = "pods of t, of monitoring on 8080 (metrics)"


def test_the_grants_are_the_gateways_and_the_operator_on_the_dashboard_and_monitoring_on_metrics() -> None:
    access = AccessSpec(network=NetworkSettings(True, None, OP, MON))
    assert grants_of(access, [GW], [8265]) == GRANTS
    assert grants_of(access, ["a", "b"], [8000, 8265]) == [
        Grant("a", frozenset({8000, 8265}), True, "the gateway"),
        Grant("b", frozenset({8000, 8265}), True, "the gateway"),
        Grant(OP, frozenset({8000, 8265}), True, "the KubeRay operator"),
        Grant(MON, frozenset({8080}), False, "metrics"),
    ]


def test_listed_gateway_namespaces_replace_the_routes_ones_and_the_dashboard_port_is_the_default() -> None:
    listed = AccessSpec(network=NetworkSettings(True, ("edge",)))
    assert grants_of(listed, [GW], []) == [Grant("edge", frozenset({8265}), True, "the gateway")]
    none = AccessSpec(network=NetworkSettings(True, ()))
    assert grants_of(none, [GW], [8265]) == []
    assert grants_of(AccessSpec(), [], [8265]) == []


# --- NetworkPolicy ------------------------------------------------------------------------------


def unselected(
    role: str, may: str, path: tuple[str | int, ...], what: str = "RayCluster t/rc", index: int = 0
) -> Finding:
    return Finding(
        index,
        path,
        f"no NetworkPolicy in namespace t selects the {role} pods of {what} for ingress: pods of every "
        f"namespace can reach them; they may admit only {may} (ray-tenants render generates these policies)",
        "error",
    )


def test_ray_pods_no_policy_isolates_are_an_error_per_group() -> None:
    assert verify_network([cluster()], T, GRANTS) == [
        unselected("head", HEAD_MAY, HEAD_PATH),
        unselected("worker", WORKER_MAY, WORKER_PATH),
    ]


def test_policies_of_other_namespaces_for_egress_or_of_other_pods_isolate_nothing() -> None:
    own: dict[str, Any] = {"from": [{"podSelector": {}}]}
    objects = [
        netpol("elsewhere", {}, own, namespace="u"),
        netpol("egress", {}, own, policyTypes=["Egress"]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": T}},
        cluster(),
        netpol("head", {"matchLabels": {"ray.io/node-type": "head"}}, own),
        cluster(namespace="u"),
    ]
    assert verify_network(objects, T, GRANTS) == [unselected("worker", WORKER_MAY, WORKER_PATH, index=3)]


def admits(path: tuple[str | int, ...], what: str, role: str, may: str) -> Finding:
    return Finding(
        1,
        ("spec", "ingress", *path),
        f"admits {what} to the {role} pods of RayCluster t/rc; they may admit only {may}",
        "error",
    )


def test_each_peer_admitting_more_than_the_grants_is_an_error_at_the_peer() -> None:
    policy = netpol(
        "drifted",
        {},
        {"from": [{"namespaceSelector": {}}]},
        {"from": [from_ns(GW)], "ports": [{"port": 8265}]},
        {"from": [from_ns(MON)], "ports": [{"port": 8265}]},
        {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 8000, "endPort": 8999}]},
        {"from": [from_ns(GW)], "ports": [{"port": "gcs-server"}]},
        {"from": [{"podSelector": {}}]},
        {"from": [from_ns(MON)], "ports": [{"port": "metrics"}, {"port": 8080}]},
        {"from": [from_ns(T, GW, OP)], "ports": [{"port": "dashboard"}]},
        {"from": [{"podSelector": {}}, {"namespaceSelector": {"matchLabels": {"team": "x"}}}]},
    )
    labelled = (
        "pods of every namespace that carries or gets those labels (a namespace is named only by "
        "kubernetes.io/metadata.name)"
    )
    assert verify_network([cluster(), policy], T, GRANTS) == [
        admits((0, "from", 0), "pods of every namespace on every port", "head", HEAD_MAY),
        admits((2, "from", 0), "pods of namespace monitoring on 8265", "head", HEAD_MAY),
        admits(
            (3, "from", 0),
            "addresses in 0.0.0.0/0 (pods of any namespace among them) on 8000-8999",
            "head",
            HEAD_MAY,
        ),
        admits(
            (4, "from", 0), "pods of namespace gw on a port its pod template does not name", "head", HEAD_MAY
        ),
        admits((8, "from", 1), f"{labelled} on every port", "head", HEAD_MAY),
        admits((1, "from", 0), "pods of namespace gw on 8265", "worker", WORKER_MAY),
        # the worker template names no port: `metrics` and `dashboard` are some port there
        admits(
            (6, "from", 0),
            "pods of namespace monitoring on a port its pod template does not name, 8080",
            "worker",
            WORKER_MAY,
        ),
        admits(
            (7, "from", 0),
            "pods of namespace gw on a port its pod template does not name",
            "worker",
            WORKER_MAY,
        ),
    ]


def test_a_policy_that_may_select_a_jobs_pods_isolates_none_but_its_admissions_count() -> None:
    on_cluster = netpol(
        "by-name", {"matchLabels": {"ray.io/cluster": "job"}}, {"from": [{"namespaceSelector": {}}]}
    )
    what = "RayJob t/job"
    head, worker = (
        ("spec", "rayClusterSpec", "headGroupSpec"),
        ("spec", "rayClusterSpec", "workerGroupSpecs", 0),
    )
    assert verify_network([rayjob(), on_cluster], T, GRANTS) == [
        unselected("head", HEAD_MAY, head, what),
        Finding(
            1,
            ("spec", "ingress", 0, "from", 0),
            f"admits pods of every namespace on every port to the head pods of {what}; they may admit only {HEAD_MAY}",
            "error",
        ),
        unselected("worker", WORKER_MAY, worker, what),
    ]


def test_policies_admitting_only_the_grants_pass() -> None:
    policies = [
        netpol(
            "own",
            {},
            {"from": [{"podSelector": {}}, from_ns(T)]},
            {"from": [from_ns(MON)], "ports": [{"port": 8080}]},
        ),
        netpol(
            "head",
            {"matchLabels": {"ray.io/node-type": "head"}},
            {"from": [from_ns(GW, OP)], "ports": [{"port": "dashboard"}]},
        ),
    ]
    assert verify_network([cluster(), *policies], T, GRANTS) == []


# --- gateway authorization ----------------------------------------------------------------------

AT = ("spec",)


def test_the_paths_a_route_condition_serves_as_probe_sets() -> None:
    assert served_paths(Match("exact", "/t", AT)) == [Strings.exact("/t")]
    assert served_paths(Match("prefix", "/t", AT)) == [Strings.prefix("/t")]
    # the Gateway API's PathPrefix is the path and what is under it, with or without its slash
    assert served_paths(Match("path-prefix", "/t/", AT)) == [Strings.exact("/t"), Strings.prefix("/t/")]
    assert served_paths(Match("path-prefix", "/t", AT)) == [Strings.exact("/t"), Strings.prefix("/t/")]
    assert served_paths(Match("path-prefix", "/", AT)) == [Strings.exact("/"), Strings.prefix("/")]
    assert served_paths(Match("path-prefix", "/TAX//", AT)) == [
        Strings.exact("/TAX"),
        Strings.prefix("/TAX/"),
    ]
    assert served_paths(Match("regex", "/t/[a-z]+", AT)) == [Strings.prefix("/t/")]
    assert served_paths(Match("regex", "(/t|/u)/.*", AT)) == [Strings.prefix("")]
    assert served_paths(Match("any", "", AT)) == [Strings.prefix("")]


def test_a_case_insensitive_condition_serves_the_path_in_every_spelling() -> None:
    assert served_paths(Match("prefix", "/Ab/", AT, ignore_case=True)) == [
        Strings.prefix("/Ab/"),
        Strings.prefix("/AB/"),
        Strings.prefix("/ab/"),
        Strings.prefix("/aB/"),
    ]
    assert served_paths(Match("path-prefix", "/x1", AT, ignore_case=True)) == [
        Strings.exact("/x1"),
        Strings.exact("/X1"),
        Strings.prefix("/x1/"),
        Strings.prefix("/X1/"),
    ]
    assert served_paths(Match("exact", "/1-2", AT, ignore_case=True)) == [Strings.exact("/1-2")]
    spelled = served_paths(Match("exact", "/t/abc", AT, ignore_case=True))
    assert len(spelled) == 16
    assert {Strings.exact("/t/abc"), Strings.exact("/T/aBc"), Strings.exact("/t/ABC")} <= set(spelled)
    six = served_paths(Match("prefix", "/abc/de/f", AT, ignore_case=True))
    assert len(six) == 64
    assert Strings.prefix("/aBc/De/F") in six
    # too many spellings to try: every path from the first letter on
    assert served_paths(Match("prefix", "/0-mlops/xy", AT, ignore_case=True)) == [Strings.prefix("/0-")]


def test_a_deny_policy_on_some_spellings_of_a_case_insensitive_route_leaves_a_gap() -> None:
    rules = [
        {
            "match": [{"uri": {"prefix": "/ml/"}, "ignoreUriCase": True}],
            "route": [{"destination": {"host": "rc-head-svc"}}],
        }
    ]
    at = ("spec", "http", 0, "match", 0, "uri", "prefix")
    two = authz({"to": to("/ml/*", "/ML/*"), "when": [without("ml")]})
    assert gate([two], route(rules=rules)) == [leak(NO_TOKEN, f"host {HOST}, path /mL/*", at)]
    every = authz({"to": to("/ml/*", "/ML/*", "/Ml/*", "/mL/*"), "when": [without("ml")]})
    assert gate([every], route(rules=rules)) == []


SETTINGS = GatewaySettings(GW, {"istio": "gw"}, Jwt(ISSUER))
NO_TOKEN = "requests without a token"


def leak(
    who: str,
    probe: str,
    path: tuple[str | int, ...] = EXACT,
    host: str = HOST,
    groups: str = "ml",
    claim: str = "groups",
) -> Finding:
    return Finding(
        0,
        path,
        f"no DENY AuthorizationPolicy in gw for the gateway pods (istio=gw) denies {who} ({probe}): every "
        f"path this route serves on {host} needs a token whose {claim} claim holds one of: {groups} "
        "(ray-tenants render generates the policy)",
        "error",
    )


def gate(policies: list[dict[str, Any]], obj: dict[str, Any] | None = None, **kw: Any) -> list[Finding]:
    settings = kw.pop("settings", SETTINGS)
    return verify_gateway(
        0, obj or route(), policies, settings, kw.pop("groups", ("ml",)), kw.pop("others", ("dev",))
    )


def test_a_route_without_a_deny_policy_is_open_to_requests_without_a_token() -> None:
    at_t = f"host {HOST}, path /t"
    assert gate([]) == [leak(NO_TOKEN, at_t)]
    assert gate([authz({"to": to("/t", "/t/*"), "when": [without("ml")]}, action="ALLOW")]) == [
        leak(NO_TOKEN, at_t)
    ]
    assert gate([authz({"to": to("/t", "/t/*"), "when": [without("ml")]}, namespace="other")]) == [
        leak(NO_TOKEN, at_t)
    ]
    other_pods = authz(
        {"to": to("/t", "/t/*"), "when": [without("ml")]}, selector={"matchLabels": {"istio": "x"}}
    )
    assert gate([other_pods]) == [leak(NO_TOKEN, at_t)]
    assert gate([TENANT_ONLY]) == []


def test_a_deny_policy_letting_tokens_of_no_an_unknown_or_another_tenants_group_through_is_an_error() -> None:
    at_t = f"host {HOST}, path /t"
    assert gate([authz(ANONYMOUS)]) == [leak("a token whose groups claim holds no group", at_t)]
    no_claim = {"when": [{"key": "request.auth.claims[groups]", "notValues": ["*"]}]}
    dev = {"when": [{"key": "request.auth.claims[groups]", "values": ["dev"]}]}
    assert gate([authz(ANONYMOUS, no_claim, dev)]) == [
        leak("a token whose groups claim holds none of the tenant's groups", at_t)
    ]
    assert gate([authz({"to": to("/t", "/t/*"), "when": [without("ml", "dev")]})]) == [
        leak("a token whose groups claim holds only 'dev'", at_t)
    ]
    # a group the tenant shares with another is the tenant's own
    assert gate([TENANT_ONLY], others=("ml", "dev", "dev")) == []


def test_a_gap_is_reported_at_the_first_path_and_host_variant_left_open() -> None:
    when = [without("ml")]
    assert gate([authz({"to": to("/t/*"), "when": when})]) == [leak(NO_TOKEN, f"host {HOST}, path /t")]
    assert gate([authz({"to": to("/t"), "when": when})]) == [
        leak(NO_TOKEN, f"host {HOST}, path /t/*", PREFIX)
    ]
    assert gate([authz({"to": to("/t*", hosts=[HOST]), "when": when})]) == [
        leak(NO_TOKEN, f"host {HOST}:*, path /t")
    ]
    assert gate([authz({"to": to("/t*", methods=["GET"]), "when": when})]) == [
        leak(NO_TOKEN, f"host {HOST}, path /t")
    ]
    assert gate([authz({"to": to("/t*", hosts=[HOST, f"{HOST}:*"]), "when": when})]) == []


def test_each_host_of_the_route_is_checked_on_its_own() -> None:
    hosts = ["a.example.com", "b.example.com"]
    policy = authz({"to": to("/t*", hosts=["a.example.com", "a.example.com:*"]), "when": [without("ml")]})
    assert gate([policy], route(hosts)) == [
        leak(NO_TOKEN, "host b.example.com, path /t", host="b.example.com")
    ]


def test_a_wildcard_host_is_every_name_of_its_domain_with_any_port() -> None:
    policy = authz({"to": to("/t*", hosts=["*.example.com"]), "when": [without("ml")]})
    assert gate([policy], route(["*.example.com"])) == [
        leak(NO_TOKEN, "host tenant-probe.example.com:443, path /t", host="*.example.com")
    ]
    # Istio has no pattern for "any name of the domain with any port": only a policy on every host covers it
    policy = authz({"to": to("/t*", hosts=["*.example.com", "*.example.com:*"]), "when": [without("ml")]})
    assert gate([policy], route(["*.example.com"])) == [
        leak(NO_TOKEN, "host tenant-probe.example.com:443, path /t", host="*.example.com")
    ]
    assert gate([authz({"to": to("/t*"), "when": [without("ml")]})], route(["*.example.com"])) == []


def test_a_route_without_hosts_serves_every_host_and_a_rule_without_match_every_path() -> None:
    every = [{"route": [{"destination": {"host": "rc-head-svc"}}]}]
    policy = authz({"to": to("/t*"), "when": [without("ml")]})
    assert gate([policy], route([], rules=every)) == [
        leak(NO_TOKEN, "host *, path *", ("spec", "http", 0), "*")
    ]
    httproute = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "ray", "namespace": T},
        "spec": {
            "parentRefs": [{"name": "g", "namespace": GW}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/t"}}],
                    "backendRefs": [{"name": "rc-head-svc", "port": 8265}],
                }
            ],
        },
    }
    at = ("spec", "rules", 0, "matches", 0, "path", "value")
    assert gate([authz({"to": to("/t/*"), "when": [without("ml")]})], httproute) == [
        leak(NO_TOKEN, "host *, path /t", at, "*")
    ]
    assert gate([authz({"to": to("/t", "/t/*"), "when": [without("ml")]})], httproute) == []


def test_a_deny_policy_locking_the_tenants_own_group_out_is_a_warning() -> None:
    everyone = authz({"to": to("/t", "/t/*")})
    assert gate([everyone]) == [
        Finding(
            0,
            PREFIX,
            "a DENY AuthorizationPolicy in gw denies the tenant's own group 'ml' at ray.example.com/t/ too: "
            "check its paths and the request.auth.claims[groups] condition",
            "warning",
        )
    ]
    assert gate([TENANT_ONLY], groups=("ml", "ops")) == [
        Finding(
            0,
            PREFIX,
            "a DENY AuthorizationPolicy in gw denies the tenant's own group 'ops' at ray.example.com/t/ too: "
            "check its paths and the request.auth.claims[groups] condition",
            "warning",
        )
    ]


def test_the_groups_claim_is_the_one_the_jwt_settings_name() -> None:
    roles = GatewaySettings(GW, {"istio": "gw"}, Jwt(ISSUER, groups_claim="roles"))
    assert gate([], settings=roles, groups=("ml", "ops")) == [
        leak(NO_TOKEN, f"host {HOST}, path /t", groups="ml, ops", claim="roles")
    ]
    # a policy on the `groups` claim sees no groups in a token carrying `roles`: it denies everyone
    assert gate([TENANT_ONLY], settings=roles) == [
        Finding(
            0,
            PREFIX,
            "a DENY AuthorizationPolicy in gw denies the tenant's own group 'ml' at ray.example.com/t/ too: "
            "check its paths and the request.auth.claims[roles] condition",
            "warning",
        )
    ]
    assert (
        gate([authz({"to": to("/t", "/t/*"), "when": [without("ml", claim="roles")]})], settings=roles) == []
    )


def test_the_gateway_pods_are_named_by_all_their_labels() -> None:
    two = GatewaySettings(GW, {"istio": "gw", "app": "edge"}, Jwt(ISSUER))
    assert gate([], settings=two) == [
        Finding(
            0,
            EXACT,
            "no DENY AuthorizationPolicy in gw for the gateway pods (istio=gw, app=edge) denies requests without "
            f"a token (host {HOST}, path /t): every path this route serves on {HOST} needs a token whose groups "
            "claim holds one of: ml (ray-tenants render generates the policy)",
            "error",
        )
    ]
    # a policy for only some of the gateway's labels selects it; one for a label it lacks does not
    assert gate([authz({"to": to("/t", "/t/*"), "when": [without("ml")]})], settings=two) == []


def test_without_jwt_settings_or_a_route_no_gateway_policy_is_asked() -> None:
    assert gate([], settings=GatewaySettings(GW, {"istio": "gw"})) == []
    assert gate([], cluster()) == []


# --- the stream ---------------------------------------------------------------------------------

OPEN = AccessSpec(ray_auth="none", network=NetworkSettings(False))


def tenants() -> list[TenantView]:
    """Tenant t with group ml, u with dev (built in the test: a mutant of the constructor runs after import)."""
    return [TenantView(T, ["ml"]), TenantView("u", ["dev"])]


def test_a_tenant_workload_without_auth_is_an_error_in_the_stream() -> None:
    access = AccessSpec(network=NetworkSettings(False))
    objects = [
        cluster(namespace="u"),
        cluster(auth=False),
        rayjob(auth=False),
        cluster(namespace="v", auth=False),
    ]
    assert verify_tenants(objects, access, tenants()) == [
        Finding(1, ("spec", "authOptions", "mode"), NO_AUTH, "error"),
        Finding(2, ("spec", "rayClusterSpec", "authOptions", "mode"), NO_AUTH, "error"),
    ]


def open_tenant(index: int, where: str, path: tuple[str, ...] = ("spec", "authOptions")) -> Finding:
    return Finding(index, path, f"anyone who reaches {where} can run code in namespace t", "warning")


def test_ray_auth_none_warns_once_per_tenant_where_its_cluster_is_reachable() -> None:
    objects = [route(["a.example.com", "b.example.com"]), cluster(auth=False), rayjob(auth=False)]
    assert verify_tenants(objects, OPEN, tenants()) == [
        open_tenant(1, "a.example.com/t/ or b.example.com/t/")
    ]
    assert verify_tenants([rayjob(auth=False), cluster()], OPEN, tenants()) == [
        open_tenant(0, "its Ray head", ("spec", "rayClusterSpec", "authOptions"))
    ]
    assert verify_tenants(objects, OPEN, tenants(), expanded={T}) == []
    assert verify_tenants([route([]), cluster(auth=False)], OPEN, tenants()) == [open_tenant(1, "*/t/")]
    assert verify_tenants([route()], OPEN, tenants()) == []  # no workload, nothing open


def test_the_network_rule_grants_the_routes_gateways_on_the_routed_ports() -> None:
    access = AccessSpec(ray_auth="none", network=NetworkSettings(True))
    objects = [cluster(), route(gateways=[f"{GW}/g", "t/local", "mesh"], port=8000)]
    assert verify_tenants(objects, access, tenants(), expanded={T}) == [
        unselected("head", "pods of t, of gw on 8000, 8265 (the gateway)", HEAD_PATH),
        unselected("worker", "pods of t", WORKER_PATH),
    ]


def test_the_gateway_rule_keeps_the_other_tenants_groups_out() -> None:
    access = AccessSpec(network=NetworkSettings(False), gateway=SETTINGS)
    objects = [cluster(), route(), authz({"to": to("/t", "/t/*"), "when": [without("ml", "dev")]})]
    assert verify_tenants(objects, access, tenants()) == [
        Finding(
            1,
            EXACT,
            "no DENY AuthorizationPolicy in gw for the gateway pods (istio=gw) denies a token whose groups "
            f"claim holds only 'dev' (host {HOST}, path /t): every path this route serves on {HOST} needs a "
            "token whose groups claim holds one of: ml (ray-tenants render generates the policy)",
            "error",
        )
    ]
    assert (
        verify_tenants(
            objects, AccessSpec(network=NetworkSettings(False), gateway=GatewaySettings(GW, {})), tenants()
        )
        == []
    )


# --- without a spec -----------------------------------------------------------------------------


def open_route(index: int = 1, path: tuple[str | int, ...] = PREFIX, where: str = f"{HOST}/t/") -> Finding:
    return Finding(
        index,
        path,
        "routes to the Ray head of RayCluster t/rc, which has no token auth (authOptions.mode: token), and "
        "no DENY AuthorizationPolicy in the gateway's namespace keeps anonymous requests out: anyone who "
        f"reaches {where} can run code in namespace t",
        "warning",
    )


def test_without_a_spec_a_routed_head_without_auth_and_no_deny_policy_is_a_warning() -> None:
    assert verify_open_routes([cluster(auth=False), route()]) == [open_route()]
    assert verify_open_routes([cluster(), route()]) == []
    assert verify_open_routes([cluster(auth=False), route(), authz(ANONYMOUS)]) == []
    assert verify_open_routes([cluster(auth=False), route(), authz(ANONYMOUS, selector={})]) == []


def test_only_a_deny_policy_in_every_gateways_namespace_guards_the_route() -> None:
    head = cluster(auth=False)
    assert verify_open_routes([head, route(), authz(ANONYMOUS, action="ALLOW")]) == [open_route()]
    assert verify_open_routes([head, route(), authz(ANONYMOUS, namespace="other")]) == [open_route()]
    assert verify_open_routes([head, route(), authz({"to": to("/u/*")})]) == [open_route()]
    both = route(gateways=[f"{GW}/g", "edge/g"])
    assert verify_open_routes([head, both, authz(ANONYMOUS)]) == [open_route()]
    assert verify_open_routes([head, both, authz(ANONYMOUS), authz(ANONYMOUS, namespace="edge")]) == []
    assert verify_open_routes([head, route(gateways=["mesh"]), authz(ANONYMOUS)]) == [open_route()]
    moved = route()
    moved["spec"]["http"][1]["match"][0]["gateways"] = ["edge/g"]
    assert verify_open_routes([head, moved, authz(ANONYMOUS)]) == [open_route()]


def test_each_routed_match_to_an_open_head_is_a_warning() -> None:
    rules = [
        {"match": [{"uri": {"prefix": "/docs/"}}], "route": [{"destination": {"host": "docs"}}]},
        {"match": [{"uri": {"prefix": "/t/"}}], "route": [{"destination": {"host": "rc-head-svc"}}]},
    ]
    assert verify_open_routes([cluster(auth=False), route(rules=rules)]) == [open_route()]


def test_a_rule_without_a_path_condition_opens_every_path() -> None:
    every = [{"route": [{"destination": {"host": "rc-head-svc"}}]}]
    assert verify_open_routes([cluster(auth=False), route(rules=every)]) == [
        open_route(path=("spec", "http", 0), where=HOST)
    ]
    assert verify_open_routes([cluster(auth=False), route(rules=every), authz({"to": to("/t/*")})]) == [
        open_route(path=("spec", "http", 0), where=HOST)
    ]
    assert verify_open_routes([cluster(auth=False), route(rules=every), authz({"to": to("*")})]) == []


def test_a_route_without_hosts_is_open_on_every_host() -> None:
    head = cluster(auth=False)
    assert verify_open_routes([head, route([])]) == [open_route(where="*/t/")]
    all_but_one = authz({**ANONYMOUS, "to": [{"operation": {"notHosts": ["internal.example.com"]}}]})
    assert verify_open_routes([head, route([]), all_but_one]) == [open_route(where="*/t/")]
    assert verify_open_routes([head, route([]), authz(ANONYMOUS)]) == []


def test_the_objects_checked_are_not_changed() -> None:
    objects = [
        cluster(auth=False),
        route(),
        authz(ANONYMOUS),
        netpol("p", {}, {"from": [{"namespaceSelector": {}}]}),
    ]
    before = copy.deepcopy(objects)
    verify_open_routes(objects)
    verify_tenants(objects, AccessSpec(gateway=SETTINGS), tenants())
    assert objects == before
