"""What the expansion adds per tenant for each isolation setting, beyond the golden cases."""

from __future__ import annotations

from typing import Any

from krm_fn.expand import expand
from krm_fn.isolation.generate import is_isolation_object
from tests.test_expand import config, ray_cluster, virtual_service


def kinds(items: list[dict[str, Any]], namespace: str) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in items if o["metadata"].get("namespace") == namespace]


def test_a_base_with_the_name_of_a_generated_policy_is_an_error() -> None:
    mine = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "ray-tenant-ray-pods"},
        "spec": {"podSelector": {}},
    }
    out = expand([ray_cluster(), virtual_service(), mine], config("a", "b"))
    errors = [r for r in out.results if r.is_error]
    assert [(r.resource.label() if r.resource else "", r.field) for r in errors] == [
        ("NetworkPolicy/ray-tenant-ray-pods", "metadata.name")
    ]


def test_policies_off_and_no_auth_generate_nothing_but_the_copies() -> None:
    out = expand(
        [ray_cluster(), virtual_service()],
        config("a", access={"rayAuth": "none", "networkPolicy": {"enabled": False}}),
    )
    assert not out.failed
    assert kinds(out.items, "a") == [("RayCluster", "ray"), ("VirtualService", "dash")]
    cluster = next(o for o in out.items if o["kind"] == "RayCluster")
    assert "authOptions" not in cluster["spec"]
    assert [r.message for r in out.results] == [
        "anyone who reaches ray.example.com/a/ can run code in namespace a"
    ]


def test_explicit_gateway_namespaces_replace_the_routes_and_the_operator_is_admitted() -> None:
    out = expand(
        [ray_cluster(), virtual_service()],
        config(
            "a", access={"networkPolicy": {"gatewayNamespaces": ["edge"], "operatorNamespace": "ray-system"}}
        ),
    )
    head = next(o for o in out.items if o["metadata"]["name"] == "ray-tenant-ray-head")
    (rule,) = head["spec"]["ingress"]
    allowed = rule["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert allowed == ["edge", "ray-system"]  # not asm-ingress, the route's gateway
    assert rule["ports"] == [{"protocol": "TCP", "port": 8265}]


def test_without_ray_workloads_a_tenant_gets_only_its_quota() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    out = expand([cm], config("a", quota={"pods": "10"}))
    assert not out.failed, out.results
    assert kinds(out.items, "a") == [("ConfigMap", "c"), ("ResourceQuota", "ray-tenant")]


def test_the_isolation_objects_are_known_by_kind_and_name() -> None:
    out = expand(
        [ray_cluster(), virtual_service()],
        config(
            "a",
            access={
                "rayAuth": "kubernetes",
                "gateway": {"namespace": "gw", "selector": {"istio": "gw"}, "jwt": {"issuer": "https://i"}},
            },
            quota={"pods": "4"},
        ),
    )
    assert not out.failed, out.results
    made = [o for o in out.items if o["kind"] not in ("Namespace", "RayCluster", "VirtualService")]
    assert {o["kind"] for o in made} == {
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "ResourceQuota",
        "RequestAuthentication",
        "AuthorizationPolicy",
    }
    assert all(is_isolation_object(o) for o in made)
    assert not any(is_isolation_object(o) for o in out.items if o not in made)
