"""NetworkPolicies per tenant: its Ray pods admit only the listed sources; egress stays open.

Two policies in the tenant's namespace, additive as NetworkPolicies are:
- every Ray pod (`ray.io/cluster` and `ray.io/node-type` set by KubeRay) accepts every port from
  pods of its own namespace (GCS, raylets, object manager, workers, the RayJob submitter), and
  the metrics port from the monitoring namespace when one is given;
- the head (`ray.io/node-type: head`) also accepts its dashboard port(s) from the gateway
  namespaces and from the KubeRay operator's namespace when one is given.
Only Ingress is restricted: Ray pods need DNS, the API server, package indexes and object stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from krm_fn import ray

NETWORK_API = "networking.k8s.io/v1"
CLUSTER_LABEL = "ray.io/cluster"
NODE_TYPE_LABEL = "ray.io/node-type"
HEAD = "head"
WORKER = "worker"
METRICS_PORT = 8080
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
RAY_PODS_POLICY = "ray-tenant-ray-pods"
HEAD_POLICY = "ray-tenant-ray-head"
POLICY_NAMES = (RAY_PODS_POLICY, HEAD_POLICY)


def ray_pods_selector() -> dict[str, Any]:
    """Every pod KubeRay runs as a Ray node (head or worker) of any cluster in the namespace."""
    return {
        "matchExpressions": [
            {"key": CLUSTER_LABEL, "operator": "Exists"},
            {"key": NODE_TYPE_LABEL, "operator": "In", "values": [HEAD, WORKER]},
        ]
    }


def head_selector() -> dict[str, Any]:
    """The Ray head pods of any cluster in the namespace."""
    return {
        "matchLabels": {NODE_TYPE_LABEL: HEAD},
        "matchExpressions": [{"key": CLUSTER_LABEL, "operator": "Exists"}],
    }


def namespaces_selector(names: Sequence[str]) -> dict[str, Any]:
    """Pods of the named namespaces (by the label Kubernetes gives every namespace)."""
    return {
        "namespaceSelector": {
            "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(names)}]
        }
    }


def route_gateway_namespaces(routes: Iterable[Mapping[str, Any]], namespace: str) -> list[str]:
    """The namespaces of the gateways the routes (VirtualServices, HTTPRoutes) are bound to.

    A VirtualService's `ns/name` gateway runs in `ns`; a bare name and an HTTPRoute parent without
    a namespace are in the route's own namespace (which its Ray pods admit anyway); `mesh` is the
    sidecars of the whole mesh, no gateway.
    """
    found: list[str] = []
    for route in routes:
        spec = route.get("spec")
        if not isinstance(spec, Mapping):
            continue
        if route.get("kind") == "VirtualService":
            for gateway in spec.get("gateways") or []:
                if isinstance(gateway, str) and "/" in gateway:
                    found.append(gateway.partition("/")[0])
        elif route.get("kind") == "HTTPRoute":
            for parent in spec.get("parentRefs") or []:
                if isinstance(parent, Mapping) and isinstance(parent.get("namespace"), str):
                    found.append(parent["namespace"])
    return sorted({n for n in found if n and n != namespace})


def network_policies(
    namespace: str,
    dashboard_ports: Iterable[int],
    gateway_namespaces: Sequence[str],
    operator_namespace: str,
    monitoring_namespace: str,
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The tenant's two NetworkPolicies (see the module's description)."""
    ports = [{"protocol": "TCP", "port": p} for p in sorted(set(dashboard_ports) or {ray.DASHBOARD_PORT})]
    pods_rules: list[dict[str, Any]] = [{"from": [{"podSelector": {}}]}]
    if monitoring_namespace:
        pods_rules.append(
            {
                "from": [namespaces_selector([monitoring_namespace])],
                "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
            }
        )
    sources = sorted(
        {*gateway_namespaces, *([operator_namespace] if operator_namespace else [])} - {namespace}
    )
    head_rules = [{"from": [namespaces_selector(sources)], "ports": ports}] if sources else []
    return [
        _policy(RAY_PODS_POLICY, namespace, ray_pods_selector(), pods_rules, labels),
        _policy(HEAD_POLICY, namespace, head_selector(), head_rules, labels),
    ]


def _policy(
    name: str,
    namespace: str,
    selector: dict[str, Any],
    rules: list[dict[str, Any]],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": selector, "policyTypes": ["Ingress"]}
    spec["ingress"] = rules
    return {
        "apiVersion": NETWORK_API,
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }
