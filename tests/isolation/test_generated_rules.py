"""The isolation objects of a tenant, whole, and the findings of its Ray auth, as README.md says.

Per tenant namespace (`generate.tenant_objects`): the token-reader Role + RoleBinding (rayAuth
token) or the ray-user Role + RoleBinding and the token-review ClusterRole + ClusterRoleBinding
(rayAuth kubernetes), the two NetworkPolicies, the ResourceQuota; in the gateway's namespace the
RequestAuthentication and the tenant's DENY AuthorizationPolicy; `secure_workload`'s `authOptions`
and findings; which objects count as isolation objects. Every expected object is written out here.
"""

from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

import pytest

from krm_fn.config import Tenant
from krm_fn.isolation import auth, gateway, network
from krm_fn.isolation.generate import (
    gateway_policy,
    is_isolation_object,
    secure_workload,
    shared_gateway_objects,
    tenant_objects,
)
from krm_fn.isolation.settings import AccessSpec, GatewaySettings, Jwt, NetworkSettings, TenantAccess
from krm_fn.results import ResourceRef, Result

LABELS = MappingProxyType(
    {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "mlops"}
)
GROUPS = ("ml-platform", "ml-admins")
RBAC = "rbac.authorization.k8s.io/v1"
ISSUER = "https://idp.example.com"
GATEWAY = GatewaySettings("asm-ingress", MappingProxyType({"istio": "asm-ingressgateway"}), Jwt(ISSUER))
RAY_PODS = {
    "matchExpressions": [
        {"key": "ray.io/cluster", "operator": "Exists"},
        {"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]},
    ]
}
HEADS = {
    "matchLabels": {"ray.io/node-type": "head"},
    "matchExpressions": [{"key": "ray.io/cluster", "operator": "Exists"}],
}
OWN_NAMESPACE: dict[str, Any] = {"from": [{"podSelector": {}}]}
CONTRADICTS = (
    "which contradicts spec.access.rayAuth: {mode}; set mode: token, remove authOptions (ray-tenants sets it), "
    "or set spec.access.rayAuth: none"
)


def tenant(quota: dict[str, str] | None = None, prefix: str = "/mlops/") -> Tenant:
    return Tenant("mlops", prefix, access=TenantAccess(GROUPS, MappingProxyType(quota or {})))


def access(ray_auth: str = "token", **network: Any) -> AccessSpec:
    return AccessSpec(ray_auth=ray_auth, network=NetworkSettings(**network), gateway=GATEWAY)


def meta(name: str, namespace: str | None = "mlops") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    return {**out, "labels": dict(LABELS)}


def cluster(name: str, auth_options: Any = None, **spec: Any) -> dict[str, Any]:
    body = {**spec, "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}}}
    if auth_options is not None:
        body["authOptions"] = auth_options
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name}, "spec": body}


def with_account(name: str, head: Any) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name}, "spec": head}


def job(name: str, kind: str = "RayJob", **cluster_spec: Any) -> dict[str, Any]:
    key = {"RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}[kind]
    return {"apiVersion": "ray.io/v1", "kind": kind, "metadata": {"name": name}, "spec": {key: cluster_spec}}


def virtual_service(hosts: Any, gateways: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"hosts": hosts, "http": [{"route": [{"destination": {"host": "ray-head-svc"}}]}]}
    if gateways is not None:
        spec["gateways"] = gateways
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "dash"},
        "spec": spec,
    }


def http_route(hostnames: Any, parents: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"hostnames": hostnames, "parentRefs": parents or []}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": spec,
    }


def namespaces(*names: str) -> dict[str, Any]:
    expression = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}
    return {"namespaceSelector": {"matchExpressions": [expression]}}


def policy(name: str, selector: dict[str, Any], ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name),
        "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": ingress},
    }


def subjects() -> list[dict[str, str]]:
    return [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g} for g in GROUPS]


def role_and_binding(name: str, rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"apiVersion": RBAC, "kind": "Role", "metadata": meta(name), "rules": [rule]},
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": meta(name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": subjects(),
        },
    ]


def token_reader(*secrets: str) -> list[dict[str, Any]]:
    rule = {"apiGroups": [""], "resources": ["secrets"], "resourceNames": list(secrets), "verbs": ["get"]}
    return role_and_binding("ray-tenant-token-reader", rule)


def dashboard_port(port: int = 8265) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


# --- the objects of a tenant namespace ---------------------------------------------------------


def test_token_auth_and_policies_give_the_reader_role_both_policies_and_the_quota() -> None:
    copies = [
        cluster("ray", {"mode": "token"}),
        cluster("other", {"mode": "token", "secretName": "shared-token"}),
        job("job", authOptions={"mode": "token", "secretName": "job-token"}),
        job("svc", "RayService", authOptions={"mode": "token"}),  # its cluster's name is KubeRay's
        virtual_service(["ray.example.com"], ["asm-ingress/asm-ingressgateway", "mesh", "local-gw"]),
    ]
    spec = access(operator_namespace="ray-system", monitoring_namespace="monitoring")
    made, found = tenant_objects(tenant({"pods": "10"}), spec, copies, {8265}, LABELS)
    metrics = {"from": [namespaces("monitoring")], "ports": [dashboard_port(8080)]}
    assert made == [
        *token_reader("job-token", "ray", "shared-token"),
        policy("ray-tenant-ray-pods", RAY_PODS, [OWN_NAMESPACE, metrics]),
        policy(
            "ray-tenant-ray-head",
            HEADS,
            [{"from": [namespaces("asm-ingress", "ray-system")], "ports": [dashboard_port()]}],
        ),
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta("ray-tenant"),
            "spec": {"hard": {"pods": "10"}},
        },
    ]
    assert found == []


def test_kubernetes_auth_gives_the_ray_user_role_and_the_token_review_for_each_head_account() -> None:
    copies = [
        with_account("c", {"headGroupSpec": {"template": {"spec": {"serviceAccountName": "ray-head"}}}}),
        with_account("a", {"headGroupSpec": {"template": {"spec": {"serviceAccountName": ""}}}}),
        with_account("b", {"headGroupSpec": {"template": {"spec": {"serviceAccountName": 5}}}}),
        with_account("d", {"headGroupSpec": {"template": {"spec": "pod"}}}),
        with_account("e", {"headGroupSpec": {"template": "pod"}}),
        with_account("f", {"headGroupSpec": "head"}),
        with_account("g", {"headGroupSpec": {"template": {"spec": {"serviceAccountName": "ray-head"}}}}),
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "h"}},  # no spec at all
    ]
    made, found = tenant_objects(tenant(), access("kubernetes", enabled=False), copies, set(), LABELS)
    rule = {
        "apiGroups": ["ray.io"],
        "resources": ["rayclusters"],
        "resourceNames": list("abcdefgh"),
        "verbs": ["ray:write"],
    }
    review = "ray-tenant-mlops-token-review"
    assert made == [
        *role_and_binding("ray-tenant-ray-user", rule),
        {
            "apiVersion": RBAC,
            "kind": "ClusterRole",
            "metadata": meta(review, None),
            "rules": [
                {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["subjectaccessreviews"],
                    "verbs": ["create"],
                },
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": meta(review, None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": review},
            "subjects": [
                {"kind": "ServiceAccount", "name": "default", "namespace": "mlops"},
                {"kind": "ServiceAccount", "name": "ray-head", "namespace": "mlops"},
            ],
        },
    ]
    assert found == []


def test_kubernetes_auth_without_ray_clusters_grants_nothing() -> None:
    copies = [
        job("j", authOptions={"mode": "token"}),
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {}},
    ]
    made, _ = tenant_objects(tenant(), access("kubernetes", enabled=False), copies, set(), LABELS)
    assert made == []


def test_the_token_reader_lists_only_the_secrets_kuberay_creates_for_token_auth() -> None:
    copies = [
        job("selector-job"),  # runs on a cluster it does not define: no cluster spec
        cluster("off", {"mode": "disabled"}),
        cluster("empty", {}),
        cluster("k8s", {"mode": "token", "enableK8sTokenAuth": True}),  # no Secret in this mode
        cluster("ray", {"mode": "token", "secretName": ""}),
        cluster("numbered", {"mode": "token", "secretName": 5}),  # no Secret name: the cluster's own
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {},
            "spec": {"authOptions": {"mode": "token"}},
        },
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayJob",
            "metadata": {"name": "j"},
            "spec": {"rayClusterSpec": {"authOptions": {"mode": "token"}}},
        },
    ]
    copies[0]["spec"] = {"clusterSelector": {"ray.io/cluster": "shared"}}
    made, _ = tenant_objects(tenant(), access(enabled=False), copies, set(), LABELS)
    assert made == token_reader("numbered", "ray")


@pytest.mark.parametrize(
    "copies",
    [
        [cluster("k8s", {"mode": "token", "enableK8sTokenAuth": True})],
        [job("j", authOptions={"mode": "token"})],
        [cluster("off", {"mode": "disabled"})],
    ],
)
def test_no_known_token_secret_no_reader_role(copies: list[dict[str, Any]]) -> None:
    made, _ = tenant_objects(tenant(), access(enabled=False), copies, set(), LABELS)
    assert made == []


def test_without_ray_workloads_only_the_quota_is_made_and_without_quota_nothing() -> None:
    copies = [
        virtual_service(["ray.example.com"], ["asm-ingress/gw"]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
    ]
    made, found = tenant_objects(tenant({"requests.cpu": "4"}), access("none"), copies, set(), LABELS)
    assert [(o["kind"], o["spec"]) for o in made] == [("ResourceQuota", {"hard": {"requests.cpu": "4"}})]
    assert found == []
    assert tenant_objects(tenant(), access("none"), copies, set(), LABELS) == ([], [])


def test_the_heads_admit_the_gateways_of_the_routes_and_the_operator() -> None:
    copies = [
        cluster("ray", {"mode": "token"}),
        virtual_service(
            ["ray.example.com"], ["asm-ingress/gw", "gw", "mesh", "mlops/own", "/odd", 5, "edge/gw"]
        ),
        http_route(
            ["ray.example.com"],
            [{"name": "gw", "namespace": "gw-api"}, {"name": "gw"}, "gw", {"namespace": 5}],
        ),
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "x"},
            "spec": "bad",
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"gateways": ["other/gw"]},
        },
    ]
    made, _ = tenant_objects(tenant(), access(operator_namespace="edge"), copies, {8443, 8265}, LABELS)
    head = next(o for o in made if o["metadata"]["name"] == "ray-tenant-ray-head")
    assert head["spec"]["ingress"] == [
        {
            "from": [namespaces("asm-ingress", "edge", "gw-api")],
            "ports": [dashboard_port(), dashboard_port(8443)],
        }
    ]


def test_listed_gateway_namespaces_replace_the_routes_and_the_tenant_itself_is_no_source() -> None:
    copies = [cluster("ray", {"mode": "token"}), virtual_service(["ray.example.com"], ["asm-ingress/gw"])]
    spec = access(gateway_namespaces=("mlops", "edge"), operator_namespace="mlops")
    made, _ = tenant_objects(tenant(), spec, copies, set(), LABELS)
    head = next(o for o in made if o["metadata"]["name"] == "ray-tenant-ray-head")
    assert head["spec"]["ingress"] == [{"from": [namespaces("edge")], "ports": [dashboard_port()]}]


def test_with_no_other_source_the_heads_admit_only_their_namespace() -> None:
    made, _ = tenant_objects(
        tenant(), access(gateway_namespaces=()), [cluster("ray", {"mode": "token"})], set(), LABELS
    )
    assert made[2:] == [
        policy("ray-tenant-ray-pods", RAY_PODS, [OWN_NAMESPACE]),
        policy("ray-tenant-ray-head", HEADS, []),
    ]


def test_the_ray_pods_policy_admits_the_metrics_port_from_monitoring_only() -> None:
    made = network.network_policies("mlops", [], (), "", "monitoring", LABELS)
    assert made[0]["spec"]["ingress"] == [
        OWN_NAMESPACE,
        {"from": [namespaces("monitoring")], "ports": [{"protocol": "TCP", "port": 8080}]},
    ]
    assert made[1]["spec"]["ingress"] == []


def test_a_route_that_is_no_mapping_names_no_gateway_and_the_others_are_read() -> None:
    routes: list[dict[str, Any]] = [
        {"kind": "VirtualService", "spec": "bad"},
        {"kind": "HTTPRoute", "spec": None},
        virtual_service(["ray.example.com"], ["edge/gw", "edge/gw2", "dmz/gw/x"]),  # a namespace has no "/"
    ]
    assert network.route_gateway_namespaces(routes, "mlops") == ["dmz", "edge"]


def test_the_default_dashboard_port_is_8265() -> None:
    made = network.network_policies("mlops", [], ("asm-ingress",), "", "", LABELS)
    assert made[1]["spec"]["ingress"] == [{"from": [namespaces("asm-ingress")], "ports": [dashboard_port()]}]


# --- the findings of a tenant namespace --------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "where"),
    [
        (
            [virtual_service(["ray.example.com", "", 5, "alt.example.com"])],
            "ray.example.com/mlops/ or alt.example.com/mlops/",
        ),
        ([virtual_service([]), http_route(["a.example.com"])], "*/mlops/ or a.example.com/mlops/"),
        ([http_route(None), virtual_service(None)], "*/mlops/"),
        ([], "its Ray head"),
    ],
)
def test_without_ray_auth_each_tenant_is_warned_who_can_run_code(
    routes: list[dict[str, Any]], where: str
) -> None:
    _, found = tenant_objects(
        tenant(), access("none", enabled=False), [cluster("ray"), *routes], set(), LABELS
    )
    assert found == [
        Result(
            f"anyone who reaches {where} can run code in namespace mlops",
            severity="warning",
            field="spec.access.rayAuth",
        )
    ]


OPERATOR_WARNING = (
    "the KubeRay operator submits the jobs of {} workloads through the head's dashboard port, which the "
    "tenants' NetworkPolicies close to other namespaces: set operatorNamespace to the operator's namespace "
    "(unless it runs with --use-kubernetes-proxy)"
)


def test_jobs_and_services_without_the_operator_namespace_are_a_warning() -> None:
    cron = {"apiVersion": "ray.io/v1", "kind": "RayCronJob", "metadata": {"name": "d"}, "spec": {}}
    copies = [job("b", "RayService"), job("a"), cron, job("c"), cluster("ray")]
    _, found = tenant_objects(tenant(), access(), copies, set(), LABELS)
    assert found == [
        Result(
            OPERATOR_WARNING.format("RayCronJob and RayJob and RayService"),
            severity="warning",
            field="spec.access.networkPolicy.operatorNamespace",
        )
    ]


@pytest.mark.parametrize(
    ("copies", "spec"),
    [
        ([job("a")], access(operator_namespace="ray-system")),
        ([job("a")], access(enabled=False)),
        ([cluster("ray")], access()),
    ],
)
def test_no_operator_warning_when_it_is_admitted_or_not_needed(
    copies: list[dict[str, Any]], spec: AccessSpec
) -> None:
    assert tenant_objects(tenant(), spec, copies, set(), LABELS)[1] == []


def test_a_base_named_like_a_generated_object_is_an_error_on_the_base() -> None:
    mine = {
        "apiVersion": RBAC,
        "kind": "Role",
        "metadata": {"name": "ray-tenant-token-reader", "namespace": "mlops"},
    }
    older = {
        "apiVersion": "rbac.authorization.k8s.io/v1beta1",
        "kind": "Role",
        "metadata": {"name": "ray-tenant-token-reader"},
    }
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "ray-tenant"}}
    copies = [cluster("ray", {"mode": "token"}), older, mine, quota]  # no quota: a ResourceQuota may be
    _, found = tenant_objects(tenant(), access(enabled=False), copies, set(), LABELS)
    assert found == [
        Result(
            "Role/ray-tenant-token-reader is the name ray-tenants gives a Role it generates in each tenant "
            "namespace (spec.access): rename the base",
            resource=ResourceRef(RBAC, "Role", "ray-tenant-token-reader"),
            field="metadata.name",
        )
    ]


# --- the gateway's namespace ------------------------------------------------------------------


def deny_policy(operation: dict[str, Any], groups: list[str], claim: str = "groups") -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "ray-tenant-mlops", "namespace": "asm-ingress", "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": {"istio": "asm-ingressgateway"}},
            "action": "DENY",
            "rules": [
                {"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": [{"operation": operation}]},
                {
                    "to": [{"operation": operation}],
                    "when": [{"key": f"request.auth.claims[{claim}]", "notValues": groups}],
                },
            ],
        },
    }


def test_the_deny_policy_covers_the_tenants_hosts_with_and_without_port_and_both_paths() -> None:
    copies = [virtual_service(["Ray.Example.com", "ray.example.com"]), http_route(["alt.example.com"])]
    made = gateway_policy(tenant(), access(), copies, LABELS)
    hosts = ["ray.example.com", "ray.example.com:*", "alt.example.com", "alt.example.com:*"]
    assert made == deny_policy({"hosts": hosts, "paths": ["/mlops", "/mlops/*"]}, list(GROUPS))
    # two rules, two copies: one object in two places would be written as a YAML alias
    first, second = made["spec"]["rules"]
    assert first["to"][0]["operation"]["paths"] is not second["to"][0]["operation"]["paths"]
    assert first["to"][0]["operation"]["hosts"] is not second["to"][0]["operation"]["hosts"]


@pytest.mark.parametrize(
    "hosts",
    [["ray.example.com", "*.example.com"], ["*"], []],
)
def test_a_wildcard_or_no_host_covers_the_paths_on_every_host(hosts: list[str]) -> None:
    made = gateway_policy(tenant(prefix="/teamX/"), access(), [virtual_service(hosts)], LABELS)
    assert made == deny_policy({"paths": ["/teamX", "/teamX/*"]}, list(GROUPS))


def test_a_tenant_with_a_host_of_its_own_is_covered_on_every_path() -> None:
    settings = GatewaySettings("asm-ingress", {"istio": "asm-ingressgateway"}, Jwt(ISSUER, "", "roles"))
    made = gateway.authorization_policy("mlops", ["mlops"], ["mlops.example.com"], "/", settings, LABELS)
    operation = {"hosts": ["mlops.example.com", "mlops.example.com:*"], "paths": ["/*"]}
    assert made == deny_policy(operation, ["mlops"], "roles")


def test_deny_hosts_skips_what_is_no_host() -> None:
    assert gateway.deny_hosts(["", "A.example.com", "a.example.com"]) == ["a.example.com", "a.example.com:*"]
    assert gateway.deny_hosts([""]) == []


@pytest.mark.parametrize(
    ("spec", "copies"),
    [
        (access(), [cluster("ray")]),  # no route
        (AccessSpec(gateway=GatewaySettings("asm-ingress", {"istio": "gw"})), [virtual_service(["h"])]),
        (AccessSpec(), [virtual_service(["h"])]),
    ],
)
def test_no_deny_policy_without_routes_or_without_jwt(spec: AccessSpec, copies: list[dict[str, Any]]) -> None:
    assert gateway_policy(tenant(), spec, copies, LABELS) is None


def test_the_shared_request_authentication_strips_the_token() -> None:
    keyed = AccessSpec(gateway=GatewaySettings("asm-ingress", {"istio": "gw"}, Jwt(ISSUER, f"{ISSUER}/keys")))
    expected = {
        "apiVersion": "security.istio.io/v1",
        "kind": "RequestAuthentication",
        "metadata": {"name": "ray-tenants", "namespace": "asm-ingress", "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": {"istio": "gw"}},
            "jwtRules": [{"issuer": ISSUER, "jwksUri": f"{ISSUER}/keys", "forwardOriginalToken": False}],
        },
    }
    assert shared_gateway_objects(keyed, True, LABELS) == [expected]
    unkeyed = AccessSpec(gateway=GatewaySettings("asm-ingress", {"istio": "gw"}, Jwt(ISSUER)))
    (made,) = shared_gateway_objects(unkeyed, True, LABELS)
    assert made["spec"]["jwtRules"] == [{"issuer": ISSUER, "forwardOriginalToken": False}]


@pytest.mark.parametrize(
    ("spec", "needed"),
    [
        (access(), False),
        (AccessSpec(), True),
        (AccessSpec(gateway=GatewaySettings("asm-ingress", {"istio": "gw"})), True),
    ],
)
def test_no_request_authentication_unless_a_tenant_needs_it(spec: AccessSpec, needed: bool) -> None:
    assert shared_gateway_objects(spec, needed, LABELS) == []


# --- Ray auth on the workloads ----------------------------------------------------------------


def secured(obj: dict[str, Any], mode: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    found = secure_workload(obj, AccessSpec(ray_auth=mode))
    assert all(r.resource is None and r.is_error for r in found)
    return obj, [(r.field, r.message) for r in found]


def test_token_auth_is_set_right_after_the_ray_version() -> None:
    obj, found = secured(cluster("ray", enableInTreeAutoscaling=True, rayVersion="2.52.0"), "token")
    assert found == []
    assert list(obj["spec"].items())[:2] == [("enableInTreeAutoscaling", True), ("rayVersion", "2.52.0")]
    assert list(obj["spec"])[2] == "authOptions" and obj["spec"]["authOptions"] == {"mode": "token"}


def test_without_a_ray_version_auth_comes_first() -> None:
    obj, found = secured(job("j", enableInTreeAutoscaling=True), "kubernetes")
    assert found == [
        (
            "kind",
            "rayAuth: kubernetes works for RayClusters only (KubeRay rejects a RayJob with enableK8sTokenAuth); use spec.access.rayAuth: token",
        )
    ]
    assert obj == job("j", enableInTreeAutoscaling=True)  # left as it is
    obj, found = secured(job("j", enableInTreeAutoscaling=True), "token")
    assert found == []
    assert list(obj["spec"]["rayClusterSpec"].items()) == [
        ("authOptions", {"mode": "token"}),
        ("enableInTreeAutoscaling", True),
    ]


def test_kubernetes_auth_turns_on_the_api_servers_review() -> None:
    obj, found = secured(cluster("ray", rayVersion="2.55.0"), "kubernetes")
    assert found == []
    assert obj["spec"]["authOptions"] == {"mode": "token", "enableK8sTokenAuth": True}


@pytest.mark.parametrize(
    ("obj", "mode"),
    [
        (cluster("ray", rayVersion="2.40.0"), "none"),
        (job("j"), "token"),  # a RayJob on a cluster of its own choosing, below
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {}}, "token"),
        (cluster("ray", {"mode": "token", "secretName": "mine"}), "token"),
        (cluster("ray", {"mode": "token", "enableK8sTokenAuth": True}, rayVersion="2.60"), "kubernetes"),
    ],
)
def test_what_needs_no_change_is_left_as_it_is(obj: dict[str, Any], mode: str) -> None:
    if obj["kind"] == "RayJob":
        obj["spec"] = {"clusterSelector": {"ray.io/cluster": "shared"}}
    before = copy.deepcopy(obj)
    assert secured(obj, mode) == (before, [])


VERSION = (
    "rayVersion {shown} has no {what} auth (Ray >= {least}; spec.access.rayAuth: {mode}): raise rayVersion to "
    "{least} or later (with an image of that version), {remedy}"
)
TOKEN_REMEDY = "or set spec.access.rayAuth: none"
K8S_REMEDY = "or use rayAuth: token (Ray >= 2.52)"


@pytest.mark.parametrize(
    ("version", "mode", "shown"),
    [
        ("2.51.9", "token", "'2.51.9'"),
        ("v2.51-rc1", "token", "'v2.51-rc1'"),
        (2.5, "token", "2.5"),
        (2, "token", "2"),
        ("2.54.9", "kubernetes", "'2.54.9'"),
        ("2.52", "kubernetes", "'2.52'"),
    ],
)
def test_a_ray_version_without_the_modes_auth_is_an_error(version: Any, mode: str, shown: str) -> None:
    obj, found = secured(cluster("ray", rayVersion=version), mode)
    if mode == "token":
        message = VERSION.format(shown=shown, what="token", least="2.52.0", mode=mode, remedy=TOKEN_REMEDY)
    else:
        message = VERSION.format(shown=shown, what="Kubernetes", least="2.55.0", mode=mode, remedy=K8S_REMEDY)
    assert found == [("spec.rayVersion", message)]
    assert obj["spec"]["authOptions"]["mode"] == "token"  # set all the same


@pytest.mark.parametrize(
    ("version", "mode"),
    [
        ("2.52.0", "token"),
        ("2.52", "token"),
        (" 3 ", "token"),
        (3, "token"),
        ("latest", "token"),
        (True, "token"),
        ("2.55", "kubernetes"),
        ("v2.56.0+abc", "kubernetes"),
    ],
)
def test_a_recent_or_unknown_ray_version_is_no_error(version: Any, mode: str) -> None:
    assert secured(cluster("ray", rayVersion=version), mode)[1] == []


def test_the_version_of_an_embedded_cluster_is_found_at_its_path() -> None:
    found = secured(job("j", rayVersion="2.9.3"), "token")[1]
    message = VERSION.format(shown="'2.9.3'", what="token", least="2.52.0", mode="token", remedy=TOKEN_REMEDY)
    assert found == [("spec.rayClusterSpec.rayVersion", message)]


@pytest.mark.parametrize(
    ("options", "mode", "expected"),
    [
        ("token", "token", [("spec.authOptions", "expected a mapping, got a string")]),
        (
            {"mode": "disabled"},
            "token",
            [
                (
                    "spec.authOptions",
                    "mode 'disabled' turns Ray's auth off, " + CONTRADICTS.format(mode="token"),
                )
            ],
        ),
        (
            {},
            "token",
            [
                (
                    "spec.authOptions",
                    "`authOptions: {}` leaves Ray's auth off (KubeRay reads a missing mode as disabled), "
                    + CONTRADICTS.format(mode="token"),
                )
            ],
        ),
        (
            {"secretName": "s"},
            "token",
            [
                (
                    "spec.authOptions",
                    "an authOptions without mode leaves Ray's auth off (KubeRay reads a missing mode as disabled), "
                    + CONTRADICTS.format(mode="token"),
                )
            ],
        ),
        *(
            (
                options,
                "kubernetes",
                [
                    (
                        "spec.authOptions.enableK8sTokenAuth",
                        "rayAuth: kubernetes needs enableK8sTokenAuth: true here; set it or remove authOptions",
                    )
                ],
            )
            for options in ({"mode": "token"}, {"mode": "token", "enableK8sTokenAuth": "true"})
        ),
        (
            {"mode": "token", "enableK8sTokenAuth": True, "secretName": "s"},
            "kubernetes",
            [
                (
                    "spec.authOptions.secretName",
                    "KubeRay refuses secretName with enableK8sTokenAuth: remove it for rayAuth: kubernetes",
                )
            ],
        ),
        (
            {"mode": None, "secretName": "s"},
            "kubernetes",
            [
                (
                    "spec.authOptions",
                    "mode None turns Ray's auth off, " + CONTRADICTS.format(mode="kubernetes"),
                ),
                (
                    "spec.authOptions.secretName",
                    "KubeRay refuses secretName with enableK8sTokenAuth: remove it for rayAuth: kubernetes",
                ),
            ],
        ),
        (
            {"mode": "token", "secretName": ""},
            "kubernetes",
            [
                (
                    "spec.authOptions.enableK8sTokenAuth",
                    "rayAuth: kubernetes needs enableK8sTokenAuth: true here; set it or remove authOptions",
                )
            ],
        ),
    ],
)
def test_an_auth_the_base_sets_itself_is_kept_unless_it_contradicts_the_spec(
    options: Any, mode: str, expected: list[tuple[str, str]]
) -> None:
    obj, found = secured(cluster("ray", options, rayVersion="2.60.0"), mode)
    assert found == expected
    assert obj["spec"]["authOptions"] == options  # never rewritten


def test_token_auth_is_read_from_the_embedded_cluster() -> None:
    assert auth.has_token_auth(job("j", authOptions={"mode": "token"}))
    assert not auth.has_token_auth(job("j", authOptions={"mode": "disabled"}))
    assert not auth.has_token_auth(job("j", authOptions="token"))
    assert not auth.has_token_auth({"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "j"}})


# --- which objects are isolation objects -----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("NetworkPolicy", "ray-tenant-ray-pods"),
        ("NetworkPolicy", "ray-tenant-ray-head"),
        ("Role", "ray-tenant-token-reader"),
        ("RoleBinding", "ray-tenant-token-reader"),
        ("Role", "ray-tenant-ray-user"),
        ("RoleBinding", "ray-tenant-ray-user"),
        ("ResourceQuota", "ray-tenant"),
        ("RequestAuthentication", "ray-tenants"),
        ("ClusterRole", "ray-tenant-mlops-token-review"),
        ("ClusterRoleBinding", "ray-tenant-mlops-token-review"),
        ("AuthorizationPolicy", "ray-tenant-mlops"),
    ],
)
def test_the_generated_kinds_and_names_are_isolation_objects(kind: str, name: str) -> None:
    assert is_isolation_object({"kind": kind, "metadata": {"name": name}})


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "NetworkPolicy", "metadata": {"name": "ray-tenant-ray-workers"}},
        {"kind": "ClusterRole", "metadata": {"name": "ray-tenant-token-reader"}},
        {"kind": "ClusterRole", "metadata": {"name": "mlops-token-review"}},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "ray-tenant-mlops"}},
        {"kind": "AuthorizationPolicy", "metadata": {"name": "mlops"}},
        {"kind": "ConfigMap", "metadata": {"name": "ray-tenant-mlops"}},
        {"kind": "ResourceQuota", "metadata": {"name": "ray-tenants"}},
        {"kind": "Role", "metadata": {"name": 5}},
        {"kind": "Role", "metadata": "ray-tenant-token-reader"},
        {"kind": "Role"},
    ],
)
def test_other_kinds_and_names_are_not(obj: dict[str, Any]) -> None:
    assert not is_isolation_object(obj)
