"""The check never passes a leak: whatever policies it accepts, the hand-written evaluators find no way in.

Random NetworkPolicies and AuthorizationPolicies from a small grammar of what people write; when
`krm_fn.isolation.verify` reports nothing, every probe the independent evaluators of
test_network_semantics and test_gateway_semantics try (pods of other namespaces with any labels
on their namespace, every port; requests with and without tokens, on every host variant and
path) is kept out. The check may be stricter than needed, never laxer.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from krm_fn.isolation import verify
from krm_fn.isolation.settings import AccessSpec, GatewaySettings, Jwt, NetworkSettings
from tests.conftest import REPO
from tests.isolation import test_gateway_semantics as gw
from tests.isolation import test_network_semantics as net
from tests.isolation.generated import GATEWAY_LABELS, GATEWAY_NAMESPACE, ISSUER

TENANT = "mlops"
GROUPS = ("ml-platform",)
OPERATOR, MONITORING = "ray-system", "monitoring"

# --- NetworkPolicy ------------------------------------------------------------------------------

selectors = st.sampled_from(
    [
        {},
        {"matchLabels": {"ray.io/node-type": "head"}},
        {"matchLabels": {"ray.io/group": "gpu"}},
        {"matchExpressions": [{"key": "ray.io/cluster", "operator": "Exists"}]},
        {"matchExpressions": [{"key": "ray.io/node-type", "operator": "NotIn", "values": ["head"]}]},
        {"matchLabels": {"app": "other"}},
    ]
)


def _ns(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


peers = st.sampled_from(
    [
        {"podSelector": {}},
        {"podSelector": {"matchLabels": {"app": "other"}}},
        {"namespaceSelector": {}},
        {"namespaceSelector": {"matchLabels": {"team": "x"}}},
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["research"]}
                ]
            }
        },
        {"ipBlock": {"cidr": "0.0.0.0/0"}},
        *(
            {"namespaceSelector": _ns(n)}
            for n in (GATEWAY_NAMESPACE, OPERATOR, MONITORING, "research", TENANT)
        ),
        {"namespaceSelector": _ns(GATEWAY_NAMESPACE), "podSelector": {"matchLabels": GATEWAY_LABELS}},
    ]
)
ports = st.sampled_from(
    [
        {"port": 8265},
        {"port": 8080},
        {"port": 6379},
        {"port": "dashboard"},
        {"port": "metrics"},
        {"port": 8000, "endPort": 8300},
        {},
    ]
)
rules = st.fixed_dictionaries(
    {},
    optional={"from": st.lists(peers, max_size=2), "ports": st.lists(ports, min_size=1, max_size=2)},
)
policies = st.lists(
    st.builds(
        lambda sel, types, ing, i: {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"p{i}", "namespace": TENANT},
            "spec": {"podSelector": sel, **({"policyTypes": types} if types else {}), "ingress": ing},
        },
        selectors,
        st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]),
        st.lists(rules, max_size=2),
        st.integers(0, 99),
    ),
    max_size=3,
)

SOURCES = [
    net.Pod(ns, labels, namespace_labels=ns_labels)
    for ns in (TENANT, GATEWAY_NAMESPACE, OPERATOR, MONITORING, "research", "other")
    for labels in ({}, {"app": "other"}, GATEWAY_LABELS)
    for ns_labels in ({}, {"team": "x"})
]
PORTS = [6379, 8000, 8080, 8265, 8300, 10001]


def granted(src: net.Pod, dst: net.Pod, port: int) -> bool:
    """What the spec lets into a tenant's Ray pod besides its own namespace."""
    head = dst.labels["ray.io/node-type"] == "head"
    return (
        src.namespace == TENANT
        or (src.namespace in (GATEWAY_NAMESPACE, OPERATOR) and head and port == 8265)
        or (src.namespace == MONITORING and port == 8080)
    )


def tenant_cluster() -> dict[str, Any]:
    cluster: dict[str, Any] = yaml.safe_load((REPO / "base" / "raycluster.yaml").read_text())
    cluster["metadata"]["namespace"] = TENANT
    return cluster


CLUSTER = tenant_cluster()
ACCESS = AccessSpec(network=NetworkSettings(True, (GATEWAY_NAMESPACE,), OPERATOR, MONITORING))


@settings(max_examples=300, deadline=None)
@given(policies)
def test_accepted_network_policies_let_nothing_else_in(found: list[dict[str, Any]]) -> None:
    grants = verify.grants_of(ACCESS, [], [8265])
    findings = verify.verify_network([copy.deepcopy(CLUSTER), *found], TENANT, grants)
    if findings:
        return
    pods = [net.head(TENANT), net.worker(TENANT), net.ray_pod(TENANT, "raycluster", "worker", "gpu")]
    for dst in pods:
        for src in SOURCES:
            for port in PORTS:
                assert not net.allowed(found, src, dst, port) or granted(src, dst, port), (
                    src.namespace,
                    dst.labels,
                    port,
                )


# --- gateway ------------------------------------------------------------------------------------

hosts = st.lists(
    st.sampled_from(
        ["ray.example.com", "ray.example.com:*", "RAY.EXAMPLE.COM", "*.example.com", "other.com", "*"]
    ),
    min_size=1,
    max_size=3,
)
paths = st.lists(
    st.sampled_from(
        ["/mlops", "/mlops/", "/mlops/*", "/mlops/api/*", "/mlops*", "*", "/research/*", "*/jobs/"]
    ),
    min_size=1,
    max_size=3,
)
operations = st.fixed_dictionaries(
    {},
    optional={
        "hosts": hosts,
        "paths": paths,
        "notPaths": st.just(["/mlops/public/*"]),
        "methods": st.just(["GET"]),
        "notMethods": st.just(["POST"]),
    },
)
sources = st.sampled_from(
    [{"notRequestPrincipals": ["*"]}, {"requestPrincipals": ["*"]}, {"notRequestPrincipals": [f"{ISSUER}/x"]}]
)
conditions = st.sampled_from(
    [
        {"key": "request.auth.claims[groups]", "notValues": list(GROUPS)},
        {"key": "request.auth.claims[groups]", "values": list(GROUPS)},
        {"key": "request.auth.claims[groups]", "notValues": ["ml-*"]},
    ]
)
authz_rules = st.fixed_dictionaries(
    {},
    optional={
        "from": st.lists(st.builds(lambda s: {"source": s}, sources), min_size=1, max_size=2),
        "to": st.lists(st.builds(lambda o: {"operation": o}, operations), min_size=1, max_size=2),
        "when": st.lists(conditions, min_size=1, max_size=1),
    },
)
authz = st.lists(
    st.builds(
        lambda action, ns, labels, rs, i: {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": f"a{i}", "namespace": ns},
            "spec": {"selector": {"matchLabels": labels}, "action": action, "rules": rs},
        },
        st.sampled_from(["DENY", "DENY", "ALLOW"]),
        st.sampled_from([GATEWAY_NAMESPACE, GATEWAY_NAMESPACE, "elsewhere"]),
        st.sampled_from([GATEWAY_LABELS, {}, {"istio": "other"}]),
        st.lists(authz_rules, min_size=1, max_size=2),
        st.integers(0, 99),
    ),
    min_size=1,
    max_size=3,
)

ROUTE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "ray-dashboard", "namespace": TENANT},
    "spec": {
        "hosts": ["ray.example.com"],
        "gateways": [f"{GATEWAY_NAMESPACE}/asm-ingressgateway"],
        "http": [
            {"match": [{"uri": {"exact": "/mlops"}}], "redirect": {"uri": "/mlops/"}},
            {
                "match": [{"uri": {"prefix": "/mlops/"}}],
                "rewrite": {"uri": "/"},
                "route": [{"destination": {"host": "raycluster-head-svc"}}],
            },
        ],
    },
}
GATEWAY = GatewaySettings(GATEWAY_NAMESPACE, GATEWAY_LABELS, Jwt(ISSUER))


@settings(max_examples=400, deadline=None)
@given(authz)
def test_accepted_gateway_policies_keep_everyone_else_out(found: list[dict[str, Any]]) -> None:
    findings = verify.verify_gateway(0, ROUTE, found, GATEWAY, GROUPS, ["research"])
    if any(f.severity == "error" for f in findings):
        return
    for host in ["ray.example.com", "Ray.Example.com", "ray.example.com:443", "ray.example.com:8443"]:
        for path in ["/mlops", "/mlops/", "/mlops/x", "/mlops/api/jobs/", "/mlops/public/a"]:
            for groups in [None, [], ["someone-else"], ["research"]]:
                for method in ["GET", "POST", "DELETE"]:
                    call = gw.Call(host, path, groups, method)
                    assert not gw.passes(found, call), (host, path, groups, method)


def test_the_properties_are_not_vacuous() -> None:
    """Some drawn policies pass the check: the generated shapes do, and so do others."""
    deny = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "a", "namespace": GATEWAY_NAMESPACE},
        "spec": {
            "selector": {"matchLabels": GATEWAY_LABELS},
            "action": "DENY",
            "rules": [
                {
                    "to": [{"operation": {"paths": ["/mlops*"]}}],
                    "when": [{"key": "request.auth.claims[groups]", "notValues": list(GROUPS)}],
                }
            ],
        },
    }
    assert verify.verify_gateway(0, ROUTE, [deny], GATEWAY, GROUPS, ["research"]) == []
    netpol = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": TENANT},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
    }
    assert verify.verify_network([CLUSTER, netpol], TENANT, verify.grants_of(ACCESS, [], [8265])) == []
