"""Identity at the ingress gateway (Istio): one RequestAuthentication, a DENY policy per tenant.

Both live in the gateway's namespace (a `selector` matches workloads of the policy's own namespace
only) and select the gateway pods. The RequestAuthentication checks the identity provider's JWTs
and strips them (`forwardOriginalToken: false`: Ray answers 403 to any `Authorization` header
that is not its own token). A tenant's AuthorizationPolicy DENIES requests to its hosts and paths
that carry no valid token, or one whose groups claim holds none of the tenant's groups. DENY, not
ALLOW: once an ALLOW policy selects the shared gateway, every request it does not match is
denied, every other application on that gateway included. The gateway authorizes the path as the
client sent it, before the route's rewrite: `/<t>` and `/<t>/*` (`/<t>/*` does not match `/<t>`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from krm_fn.isolation.settings import GatewaySettings, Jwt

SECURITY_API = "security.istio.io/v1"
REQUEST_AUTHENTICATION = "ray-tenants"


def policy_name(tenant: str) -> str:
    """The name of a tenant's AuthorizationPolicy in the gateway namespace."""
    return f"ray-tenant-{tenant}"


def deny_paths(path_prefix: str) -> list[str]:
    """The paths a tenant's policy covers: the prefix without and with its subpaths (`/t`, `/t/*`);
    on a host of the tenant's own (prefix `/`), every path (`/*`)."""
    exact = path_prefix.rstrip("/")
    return [exact, f"{exact}/*"] if exact else ["/*"]


def deny_hosts(hosts: Iterable[str]) -> list[str]:
    """The Host header values a tenant's policy covers: each host with and without a port.

    A client may send `Host: ray.example.com:443`, which the gateway still routes; `*` (or no
    host) is every host: the policy then names none, and covers the paths on all of them. So does
    a wildcard host such as `*.example.com`: Istio matches a host pattern with one `*` at one end
    only, so `*.example.com:*` would be the literal suffix `.example.com:*` and
    `Host: x.example.com:443` would pass the DENY; covering the tenant's paths on every host
    denies a little more than the route serves, never less.
    """
    names = list(dict.fromkeys(h.lower() for h in hosts if isinstance(h, str) and h))
    if not names or any(h.startswith("*") for h in names):
        return []
    return [v for h in names for v in (h, f"{h}:*")]


def groups_claim_key(jwt: Jwt) -> str:
    """The Istio condition key of the groups claim (`request.auth.claims[groups]`)."""
    return f"request.auth.claims[{jwt.groups_claim}]"


def request_authentication(gateway: GatewaySettings, labels: Mapping[str, str]) -> dict[str, Any]:
    """The one RequestAuthentication of the gateway workload, shared by every tenant."""
    assert gateway.jwt is not None  # only generated with access.gateway.jwt
    rule: dict[str, Any] = {"issuer": gateway.jwt.issuer}
    if gateway.jwt.jwks_uri:
        rule["jwksUri"] = gateway.jwt.jwks_uri
    rule["forwardOriginalToken"] = False
    return {
        "apiVersion": SECURITY_API,
        "kind": "RequestAuthentication",
        "metadata": {"name": REQUEST_AUTHENTICATION, "namespace": gateway.namespace, "labels": dict(labels)},
        "spec": {"selector": {"matchLabels": dict(gateway.selector)}, "jwtRules": [rule]},
    }


def authorization_policy(
    tenant: str,
    groups: Sequence[str],
    hosts: Iterable[str],
    path_prefix: str,
    gateway: GatewaySettings,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The tenant's DENY policy: its hosts and paths need a token with one of its groups."""
    assert gateway.jwt is not None  # only generated with access.gateway.jwt
    operation: dict[str, Any] = {}
    covered = deny_hosts(hosts)
    if covered:
        operation["hosts"] = covered
    operation["paths"] = deny_paths(path_prefix)
    return {
        "apiVersion": SECURITY_API,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": policy_name(tenant), "namespace": gateway.namespace, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(gateway.selector)},
            "action": "DENY",
            "rules": [
                {"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": _to(operation)},
                {
                    "to": _to(operation),
                    "when": [{"key": groups_claim_key(gateway.jwt), "notValues": list(groups)}],
                },
            ],
        },
    }


def _to(operation: Mapping[str, Any]) -> list[dict[str, Any]]:
    # a fresh copy per rule: one object in two places would be written as a YAML alias
    return [{"operation": {k: list(v) for k, v in operation.items()}}]
