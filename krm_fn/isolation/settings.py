"""The isolation settings of the tenant spec: `spec.access`, `spec.quota`, `tenants[].groups|quota`.

Schema check -> default -> validate, every problem together, each pointing at its field. The
records are what the generators (auth, network, gateway, quota) and the check read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from krm_fn import ray
from krm_fn.results import Record, Result, Severity, describe

RAY_AUTH_MODES = ("token", "kubernetes", "none")
ACCESS_FIELDS = ("rayAuth", "networkPolicy", "gateway")
NETWORK_FIELDS = ("enabled", "gatewayNamespaces", "operatorNamespace", "monitoringNamespace")
GATEWAY_FIELDS = ("namespace", "selector", "jwt")
JWT_FIELDS = ("issuer", "jwksUri", "groupsClaim")
DEFAULT_GROUPS_CLAIM = "groups"


@functools.cache
def _quantity() -> re.Pattern[str]:
    """A Kubernetes resource quantity (`64`, `0.5`, `256Gi`, `500m`, `1e3`)."""
    return re.compile(r"^[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$")


class NetworkSettings(Record):
    """`spec.access.networkPolicy`: who may reach the tenants' Ray pods besides their own namespace."""

    _fields = __slots__ = ("enabled", "gateway_namespaces", "operator_namespace", "monitoring_namespace")

    def __init__(
        self,
        enabled: bool = True,
        gateway_namespaces: tuple[str, ...] | None = None,
        operator_namespace: str = "",
        monitoring_namespace: str = "",
    ) -> None:
        self.enabled = enabled
        # None: the namespaces of the gateways the tenant's routes are bound to
        self.gateway_namespaces = gateway_namespaces
        self.operator_namespace = operator_namespace
        self.monitoring_namespace = monitoring_namespace


class Jwt(Record):
    """`spec.access.gateway.jwt`: the identity provider whose tokens the gateway checks."""

    _fields = __slots__ = ("issuer", "jwks_uri", "groups_claim")

    def __init__(self, issuer: str, jwks_uri: str = "", groups_claim: str = DEFAULT_GROUPS_CLAIM) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri
        self.groups_claim = groups_claim


class GatewaySettings(Record):
    """`spec.access.gateway`: where the ingress gateway workload runs, its pod labels, its JWT rule."""

    _fields = __slots__ = ("namespace", "selector", "jwt")

    def __init__(self, namespace: str, selector: Mapping[str, str], jwt: Jwt | None = None) -> None:
        self.namespace = namespace
        self.selector = selector
        self.jwt = jwt


class AccessSpec(Record):
    """The validated `spec.access` and `spec.quota` (the default quota of every tenant)."""

    _fields = __slots__ = ("ray_auth", "network", "gateway", "quota")

    def __init__(
        self,
        ray_auth: str = "token",
        network: NetworkSettings = NetworkSettings(),  # noqa: B008  # immutable
        gateway: GatewaySettings | None = None,
        quota: Mapping[str, str] = MappingProxyType({}),
    ) -> None:
        self.ray_auth = ray_auth
        self.network = network
        self.gateway = gateway
        self.quota = quota

    @property
    def gateway_jwt(self) -> bool:
        """Whether the gateway checks identities (and the per-tenant policies are generated)."""
        return self.gateway is not None and self.gateway.jwt is not None


class TenantAccess(Record):
    """Who may use one tenant (`groups`) and its ResourceQuota (`spec.quota` merged with its own)."""

    _fields = __slots__ = ("groups", "quota")

    def __init__(self, groups: tuple[str, ...] = (), quota: Mapping[str, str] = MappingProxyType({})) -> None:
        self.groups = groups
        self.quota = quota


class _Findings:
    def __init__(self) -> None:
        self.results: list[Result] = []

    def __call__(self, field: str, message: str, severity: Severity = "error") -> None:
        self.results.append(Result(message, severity=severity, field=field))

    def mapping(self, raw: object, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self(path, f"expected a mapping, got {describe(raw)}")
            return {}
        for key in raw:
            if key not in allowed:
                self(f"{path}.{key}", f"unknown field {key!r}; expected one of: {', '.join(allowed)}")
        return raw

    def namespace(self, raw: object, path: str) -> str:
        if raw is None or raw == "":
            return ""
        if not isinstance(raw, str) or not _is_namespace(raw):
            shown = repr(raw) if isinstance(raw, str) else describe(raw)
            self(path, f"expected a namespace name (a DNS-1123 label), got {shown}")
            return ""
        return raw

    def text(self, raw: object, path: str, default: str = "") -> str:
        if raw is None:
            return default
        if not isinstance(raw, str) or not raw.strip():
            self(
                path,
                f"expected a non-empty string, got {repr(raw) if isinstance(raw, str) else describe(raw)}",
            )
            return default
        return raw


def _is_namespace(name: str) -> bool:
    return len(name) <= 63 and bool(ray.dns1123_label().match(name))


def parse_access(spec: Mapping[str, Any], path: str = "spec") -> tuple[AccessSpec, list[Result]]:
    """`spec.access` and `spec.quota` of the spec mapping `spec`; findings carry their field paths."""
    f = _Findings()
    access = f.mapping(spec.get("access"), f"{path}.access", ACCESS_FIELDS)
    mode = access.get("rayAuth", "token")
    if mode not in RAY_AUTH_MODES:
        shown = repr(mode) if isinstance(mode, str) else describe(mode)
        f(f"{path}.access.rayAuth", f"expected one of {', '.join(RAY_AUTH_MODES)}, got {shown}")
        mode = "token"
    network = _network(access.get("networkPolicy"), f"{path}.access.networkPolicy", f)
    gateway = _gateway(access.get("gateway"), f"{path}.access.gateway", f)
    quota = parse_quota(spec.get("quota"), f"{path}.quota", f)
    return AccessSpec(ray_auth=mode, network=network, gateway=gateway, quota=quota), f.results


def _network(raw: object, path: str, f: _Findings) -> NetworkSettings:
    np = f.mapping(raw, path, NETWORK_FIELDS)
    enabled = np.get("enabled", True)
    if not isinstance(enabled, bool):
        f(f"{path}.enabled", f"expected true or false, got {describe(enabled)}")
        enabled = True
    gateways: tuple[str, ...] | None = None
    listed = np.get("gatewayNamespaces")
    if listed is not None:
        if not isinstance(listed, list):
            f(f"{path}.gatewayNamespaces", f"expected a list of namespace names, got {describe(listed)}")
        else:
            names: list[str] = []
            for i, n in enumerate(listed):
                where = f"{path}.gatewayNamespaces[{i}]"
                if n is None or n == "":  # an entry left empty is no "unset"
                    f(where, f"expected a namespace name, got {'nothing' if n is None else repr(n)}")
                else:
                    names.append(f.namespace(n, where))
            gateways = tuple(dict.fromkeys(n for n in names if n))
    operator = f.namespace(np.get("operatorNamespace"), f"{path}.operatorNamespace")
    monitoring = f.namespace(np.get("monitoringNamespace"), f"{path}.monitoringNamespace")
    if not enabled:
        for key in ("gatewayNamespaces", "operatorNamespace", "monitoringNamespace"):
            if np.get(key) not in (None, "", []):
                f(f"{path}.{key}", "has no effect with networkPolicy.enabled: false", "warning")
    return NetworkSettings(enabled, gateways, operator, monitoring)


def _gateway(raw: object, path: str, f: _Findings) -> GatewaySettings | None:
    if raw is None:
        return None
    gw = f.mapping(raw, path, GATEWAY_FIELDS)
    if not isinstance(raw, Mapping):
        return None
    namespace = f.namespace(gw.get("namespace"), f"{path}.namespace")
    if gw.get("namespace") in (None, ""):  # `namespace:` left empty too: no gateway, no policies
        f(
            f"{path}.namespace",
            "required: the namespace the ingress gateway workload runs in (e.g. asm-ingress)",
        )
    selector = _selector(gw.get("selector"), f"{path}.selector", f)
    jwt = _jwt(gw.get("jwt"), f"{path}.jwt", f)
    if not namespace or not selector:
        return None
    return GatewaySettings(namespace, MappingProxyType(selector), jwt)


def _selector(raw: object, path: str, f: _Findings) -> dict[str, str]:
    if raw is None or raw == {}:
        f(path, "required: the ingress gateway pods' labels (e.g. {istio: asm-ingressgateway})")
        return {}
    if not isinstance(raw, Mapping):
        f(path, f"expected a mapping of label names to values, got {describe(raw)}")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not ray.is_label_key(key):
            f(f"{path}.{key}", f"{key!r} is not a valid label name")
        elif not isinstance(value, str) or not ray.is_label_value(value):
            f(f"{path}.{key}", f"{value!r} is not a valid label value (a string of up to 63 characters)")
        else:
            out[key] = value
    return out


def _jwt(raw: object, path: str, f: _Findings) -> Jwt | None:
    if raw is None:
        return None
    jwt = f.mapping(raw, path, JWT_FIELDS)
    if not isinstance(raw, Mapping):
        return None
    issuer = f.text(jwt.get("issuer"), f"{path}.issuer")
    if jwt.get("issuer") is None:  # `issuer:` left empty too: no JWT rule, no policies
        f(f"{path}.issuer", "required: the issuer (`iss`) of the identity provider's tokens")
    jwks = f.text(jwt.get("jwksUri"), f"{path}.jwksUri")
    if jwks and not jwks.startswith(("https://", "http://")):
        f(f"{path}.jwksUri", f"expected an http(s) URL of the provider's keys, got {jwks!r}")
        jwks = ""
    claim = f.text(jwt.get("groupsClaim"), f"{path}.groupsClaim", DEFAULT_GROUPS_CLAIM)
    if any(ch in claim for ch in "[]"):
        f(f"{path}.groupsClaim", f"expected a claim name, got {claim!r}")
        claim = DEFAULT_GROUPS_CLAIM
    return Jwt(issuer, jwks, claim) if issuer else None


def parse_quota(raw: object, path: str, report: _Findings) -> dict[str, str]:
    """A ResourceQuota `hard` mapping: resource name -> quantity (numbers are written as strings);
    the problems go to `report`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        report(
            path,
            f"expected a mapping of resource names to quantities (ResourceQuota hard), got {describe(raw)}",
        )
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        where = f"{path}.{key}"
        if not isinstance(key, str) or not ray.is_label_key(key):
            report(where, f"{key!r} is not a resource name (e.g. requests.cpu, requests.nvidia.com/gpu)")
            continue
        # a number is written as a string; no other YAML value but a string reads as a quantity
        # (`True`, `None`, `[1]`, `{}` as text start with a letter or a bracket)
        text = str(value)
        if not _quantity().match(text):
            shown = repr(value) if isinstance(value, str) else describe(value)
            report(where, f'expected a quantity such as "64", "256Gi" or "500m", got {shown}')
            continue
        out[key] = text
    return out


def parse_tenant_access(
    tenant: Mapping[str, Any], path: str, name: str, access: AccessSpec
) -> tuple[TenantAccess, list[Result]]:
    """`groups` (default [name]) and `quota` (merged over `spec.quota`) of one tenant entry at `path`."""
    f = _Findings()
    groups: tuple[str, ...] = (name,)
    raw = tenant.get("groups")
    if raw is not None:
        if not isinstance(raw, list):
            f(f"{path}.groups", f"expected a list of group names, got {describe(raw)}")
        elif not raw:
            f(f"{path}.groups", "expected at least one group: with none, nobody could use the tenant")
        else:
            found = []
            for i, group in enumerate(raw):
                if not isinstance(group, str) or not group.strip():
                    shown = repr(group) if isinstance(group, str) else describe(group)
                    f(f"{path}.groups[{i}]", f"expected a non-empty string, got {shown}")
                else:
                    found.append(group)
            groups = tuple(dict.fromkeys(found)) or groups
    quota = {**access.quota, **parse_quota(tenant.get("quota"), f"{path}.quota", f)}
    return TenantAccess(groups, MappingProxyType(quota)), f.results
