"""Every isolation layer of the tenants, from their expanded copies: what the expansion adds.

`secure_workload` gives one tenant copy its Ray auth; `tenant_objects` the objects of one tenant
namespace (RBAC, NetworkPolicies, ResourceQuota) and the spec's warnings about it;
`gateway_objects` what goes into the gateway's namespace (the shared RequestAuthentication and
each tenant's DENY policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from krm_fn import ray
from krm_fn.isolation import auth, gateway, network, quota
from krm_fn.isolation.settings import AccessSpec, TenantAccess
from krm_fn.results import ResourceRef, Result

ROUTE_KINDS = ("VirtualService", "HTTPRoute")
# workloads whose jobs the KubeRay operator submits through the head's dashboard port
OPERATOR_CLIENTS = ("RayJob", "RayService", "RayCronJob")


class IsolatedTenant(Protocol):
    """What isolation needs of a tenant (config.Tenant): its namespace, prefix and access."""

    @property
    def name(self) -> str: ...
    @property
    def path_prefix(self) -> str: ...
    @property
    def access(self) -> TenantAccess: ...


def is_isolation_object(obj: Mapping[str, Any]) -> bool:
    """An object by the kind and name the isolation layers give theirs: no copy of a base
    (a base of that kind and name is refused), whatever its labels say."""
    kind = obj.get("kind")
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str):
        return False
    fixed = {
        *(("NetworkPolicy", n) for n in network.POLICY_NAMES),
        *((k, n) for k in ("Role", "RoleBinding") for n in (auth.TOKEN_READER, auth.RAY_USER)),
        ("ResourceQuota", quota.QUOTA_NAME),
        ("RequestAuthentication", gateway.REQUEST_AUTHENTICATION),
    }
    if (kind, name) in fixed:
        return True
    tenant = name.removeprefix("ray-tenant-")
    if kind in ("ClusterRole", "ClusterRoleBinding"):
        return name == auth.token_review_name(tenant.removesuffix("-token-review"))
    return kind == "AuthorizationPolicy" and name == gateway.policy_name(tenant)


def secure_workload(copy: dict[str, Any], spec: AccessSpec) -> list[Result]:
    """Give a tenant's copy its Ray auth, in place, if it is a Ray workload; findings (no resource)."""
    return auth.apply_auth(copy, spec.ray_auth)  # nothing for what is no Ray workload


def routes_of(copies: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The tenant's routes among its copies (Istio VirtualServices, Gateway API HTTPRoutes)."""
    return [c for c in copies if c.get("kind") in ROUTE_KINDS and isinstance(c.get("spec"), Mapping)]


def route_hosts(routes: Iterable[Mapping[str, Any]]) -> list[str]:
    """The hosts the routes serve (`hosts` of a VirtualService, `hostnames` of an HTTPRoute); `*` for none."""
    found: list[str] = []
    for route in routes:
        spec = route["spec"]
        hosts = spec.get("hosts") if route.get("kind") == "VirtualService" else spec.get("hostnames")
        listed = [h for h in hosts or [] if isinstance(h, str) and h]
        found.extend(listed or ["*"])
    return list(dict.fromkeys(found))


def tenant_objects(
    tenant: IsolatedTenant,
    spec: AccessSpec,
    copies: Sequence[Mapping[str, Any]],
    dashboard_ports: Iterable[int],
    labels: Mapping[str, str],
) -> tuple[list[dict[str, Any]], list[Result]]:
    """The isolation objects of one tenant namespace, and the spec's findings (field paths only)."""
    out: list[dict[str, Any]] = []
    results: list[Result] = []
    workloads = [c for c in copies if ray.is_ray_workload(c)]
    routes = routes_of(copies)
    if workloads:
        out.extend(auth.auth_objects(tenant.name, tenant.access.groups, spec.ray_auth, workloads, labels))
        if spec.ray_auth == auth.NONE:
            hosts = route_hosts(routes)
            where = " or ".join(f"{h}{tenant.path_prefix}" for h in hosts) or "its Ray head"
            results.append(
                Result(
                    f"anyone who reaches {where} can run code in namespace {tenant.name}",
                    severity="warning",
                    field="spec.access.rayAuth",
                )
            )
        np = spec.network
        if np.enabled:
            sources = (
                np.gateway_namespaces
                if np.gateway_namespaces is not None
                else network.route_gateway_namespaces(
                    routes,
                    tenant.name,  # pragma: no mutate (equivalent: network_policies drops the tenant's own again)
                )
            )
            out.extend(
                network.network_policies(
                    tenant.name,
                    dashboard_ports,
                    sources,
                    np.operator_namespace,
                    np.monitoring_namespace,
                    labels,
                )
            )
            clients = sorted({str(w.get("kind")) for w in workloads if w.get("kind") in OPERATOR_CLIENTS})
            if clients and not np.operator_namespace:
                results.append(
                    Result(
                        f"the KubeRay operator submits the jobs of {' and '.join(clients)} workloads through "
                        "the head's dashboard port, which the tenants' NetworkPolicies close to other "
                        "namespaces: set operatorNamespace to the operator's namespace (unless it runs "
                        "with --use-kubernetes-proxy)",
                        severity="warning",
                        field="spec.access.networkPolicy.operatorNamespace",
                    )
                )
    if tenant.access.quota:
        out.append(quota.resource_quota(tenant.name, tenant.access.quota, labels))
    return out, [*results, *_name_clashes(out, copies)]


def _name_clashes(made: Sequence[Mapping[str, Any]], copies: Sequence[Mapping[str, Any]]) -> list[Result]:
    """A base whose copy would be one object with an isolation object of the tenant: an error on the base."""
    names = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in made}
    out = []
    for copy in copies:
        ref = ResourceRef.of(copy)
        if (ref.api_version, ref.kind, ref.name) in names:
            out.append(
                Result(
                    f"{ref.kind}/{ref.name} is the name ray-tenants gives a {ref.kind} it generates in each "
                    "tenant namespace (spec.access): rename the base",
                    resource=ref._replace(namespace=""),
                    field="metadata.name",
                )
            )
    return out


def gateway_policy(
    tenant: IsolatedTenant,
    spec: AccessSpec,
    copies: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
) -> dict[str, Any] | None:
    """The tenant's DENY policy in the gateway namespace, None without routes or `gateway.jwt`."""
    routes = routes_of(copies)
    if not spec.gateway_jwt or not routes:
        return None
    assert spec.gateway is not None
    return gateway.authorization_policy(
        tenant.name, tenant.access.groups, route_hosts(routes), tenant.path_prefix, spec.gateway, labels
    )


def shared_gateway_objects(spec: AccessSpec, needed: bool, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """The objects of the gateway namespace shared by all tenants, while some tenant `needed` them."""
    if not needed or spec.gateway is None or spec.gateway.jwt is None:
        return []
    return [gateway.request_authentication(spec.gateway, labels)]
