"""The generated NetworkPolicies, evaluated by a small NetworkPolicy evaluator written here.

The evaluator knows only Kubernetes' rules (a pod is isolated for ingress once a policy of its
namespace selects it; rules are additive; a peer's pod selector alone means the policy's own
namespace; no `ports` means every port) and KubeRay's pod labels; it shares no code with the
function. It proves on the real expansion what a tenant's Ray pods accept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.isolation.generated import (
    GATEWAY_LABELS,
    GATEWAY_NAMESPACE,
    MONITORING_NAMESPACE,
    OPERATOR_NAMESPACE,
    tenants,
)

Labels = Mapping[str, str]


class Pod:
    """A pod: its namespace (and that namespace's labels), its labels, its named ports."""

    def __init__(
        self,
        namespace: str,
        labels: Labels,
        ports: Mapping[str, int] | None = None,
        namespace_labels: Labels | None = None,
    ) -> None:
        self.namespace = namespace
        self.labels = dict(labels)
        self.ports = dict(ports or {})
        # Kubernetes labels every namespace with its name; others are whatever someone set
        self.namespace_labels = {"kubernetes.io/metadata.name": namespace, **(namespace_labels or {})}


def matches(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """A Kubernetes LabelSelector; `{}` selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def port_matches(entries: Sequence[Mapping[str, Any]] | None, pod: Pod, port: int) -> bool:
    if not entries:
        return True
    for e in entries:
        p = e.get("port")
        if p is None:
            return True
        number = pod.ports.get(p) if isinstance(p, str) else p
        if number is not None and number <= port <= e.get("endPort", number):
            return True
    return False


def peer_matches(peer: Mapping[str, Any], policy_ns: str, src: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # the probes are pods, addressed by no CIDR the policies name
    if "namespaceSelector" in peer:
        ns_ok = matches(peer["namespaceSelector"], src.namespace_labels)
    else:
        ns_ok = src.namespace == policy_ns
    return ns_ok and matches(peer.get("podSelector"), src.labels)


def allowed(policies: Sequence[Mapping[str, Any]], src: Pod, dst: Pod, port: int) -> bool:
    """Whether `src` may open a connection to `dst` on `port` under `policies`."""
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == dst.namespace
        and matches(p["spec"].get("podSelector"), dst.labels)
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True  # not isolated
    for p in selecting:
        for rule in p["spec"].get("ingress") or []:
            peers = rule.get("from") or []
            if port_matches(rule.get("ports"), dst, port) and (
                not peers or any(peer_matches(x, dst.namespace, src) for x in peers)
            ):
                return True
    return False


def ray_pod(namespace: str, cluster: str, node_type: str, group: str) -> Pod:
    """A pod as KubeRay labels it."""
    ports = {"dashboard": 8265, "gcs-server": 6379, "client": 10001} if node_type == "head" else {}
    return Pod(
        namespace,
        {
            "ray.io/cluster": cluster,
            "ray.io/node-type": node_type,
            "ray.io/group": group,
            "ray.io/is-ray-node": "yes",
            "app.kubernetes.io/created-by": "kuberay-operator",
        },
        ports,
    )


def head(t: str) -> Pod:
    return ray_pod(t, "raycluster", "head", "headgroup")


def worker(t: str) -> Pod:
    return ray_pod(t, "raycluster", "worker", "cpu")


GATEWAY = Pod(GATEWAY_NAMESPACE, GATEWAY_LABELS)
RAY_PORTS = [6379, 8000, 8080, 8265, 10001, 52365, 20000]


@pytest.fixture
def policies(generated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [o for o in generated if o.get("kind") == "NetworkPolicy"]
    assert {p["metadata"]["namespace"] for p in found} == set(tenants())
    return found


@pytest.mark.parametrize("tenant", tenants())
def test_gateway_reaches_the_head_dashboard_only(policies: list[dict[str, Any]], tenant: str) -> None:
    assert allowed(policies, GATEWAY, head(tenant), 8265)
    for port in RAY_PORTS:
        if port != 8265:
            assert not allowed(policies, GATEWAY, head(tenant), port), port


@pytest.mark.parametrize("tenant", tenants())
def test_pods_of_other_namespaces_reach_no_port_of_the_head(
    policies: list[dict[str, Any]], tenant: str
) -> None:
    others = [Pod("default", {"app": "x"}), Pod("attacker", {}), *(head(t) for t in tenants() if t != tenant)]
    others += [worker(t) for t in tenants() if t != tenant]
    for src in others:
        for port in RAY_PORTS:
            assert not allowed(policies, src, head(tenant), port), (src.namespace, port)
            assert not allowed(policies, src, worker(tenant), port), (src.namespace, port)


@pytest.mark.parametrize("tenant", tenants())
def test_pods_of_the_namespace_reach_the_workers_and_the_head(
    policies: list[dict[str, Any]], tenant: str
) -> None:
    neighbours = [head(tenant), worker(tenant), Pod(tenant, {"job-name": "submitter"})]
    for src in neighbours:
        for port in RAY_PORTS:
            assert allowed(policies, src, worker(tenant), port)
            assert allowed(policies, src, head(tenant), port)


@pytest.mark.parametrize("tenant", tenants())
def test_gateway_reaches_no_worker(policies: list[dict[str, Any]], tenant: str) -> None:
    for port in RAY_PORTS:
        assert not allowed(policies, GATEWAY, worker(tenant), port)


@pytest.mark.parametrize("tenant", tenants())
def test_operator_and_monitoring_get_their_ports_only(policies: list[dict[str, Any]], tenant: str) -> None:
    operator = Pod(OPERATOR_NAMESPACE, {"app.kubernetes.io/name": "kuberay-operator"})
    prometheus = Pod(MONITORING_NAMESPACE, {"app": "prometheus"})
    assert allowed(policies, operator, head(tenant), 8265)
    assert not allowed(policies, operator, head(tenant), 6379)
    assert not allowed(policies, operator, worker(tenant), 8265)
    for pod in (head(tenant), worker(tenant)):
        assert allowed(policies, prometheus, pod, 8080)
        assert not allowed(policies, prometheus, pod, 8265)


def test_the_evaluator_itself_denies_and_allows() -> None:
    """The oracle is not vacuous: a policy admitting everything lets the attacker in, none isolates nothing."""
    open_policy = {
        "metadata": {"namespace": "mlops"},
        "spec": {"podSelector": {}, "ingress": [{}]},
    }
    deny_all = {"metadata": {"namespace": "mlops"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    attacker = Pod("attacker", {})
    assert allowed([], attacker, head("mlops"), 6379)
    assert allowed([open_policy], attacker, head("mlops"), 6379)
    assert not allowed([deny_all], attacker, head("mlops"), 6379)
    assert allowed([deny_all, open_policy], attacker, head("mlops"), 6379)
