"""The rules of `spec.access`, `spec.quota` and `tenants[].groups|quota`, finding by finding.

Each case pins every finding a spec gets (field, message and severity, written out here), or the
whole settings record a valid spec gives; `parse_access` itself pins what an invalid value leaves in
the record (the default, so nothing downstream reads a rejected value).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from krm_fn.config import parse_config
from krm_fn.isolation.settings import (
    AccessSpec,
    GatewaySettings,
    Jwt,
    NetworkSettings,
    parse_access,
    parse_tenant_access,
)
from krm_fn.results import FnError
from tests.test_config_findings import FILE, typed

GATEWAY = {"namespace": "asm-ingress", "selector": {"istio": "asm-ingressgateway"}}
ISSUER = "https://idp.example.com"
NETWORK_KEYS = "enabled, gatewayNamespaces, operatorNamespace, monitoringNamespace"
NS_ERROR = "expected a namespace name (a DNS-1123 label), got "
QUANTITY_ERROR = 'expected a quantity such as "64", "256Gi" or "500m", got '
RESOURCE_ERROR = " is not a resource name (e.g. requests.cpu, requests.nvidia.com/gpu)"
LABEL_VALUE_ERROR = " is not a valid label value (a string of up to 63 characters)"
Finding = tuple[str, str, str]


def spec_with(**fields: Any) -> dict[str, Any]:
    return typed({"tenants": [{"name": "mlops"}], **fields})


def findings(doc: dict[str, Any]) -> list[Finding]:
    """Every finding of the spec, errors raised or warnings kept, as (field, message, severity)."""
    try:
        config = parse_config(doc, FILE)
    except FnError as caught:
        return [(r.field, r.message, r.severity) for r in caught.results]
    return [(r.field, r.message, r.severity) for r in config.warnings]


def access_findings(access: Any) -> list[Finding]:
    return findings(spec_with(access=access))


def gateway_with(**fields: Any) -> dict[str, Any]:
    return {"gateway": {**GATEWAY, **fields}}


def jwt_with(**fields: Any) -> dict[str, Any]:
    return gateway_with(jwt={"issuer": ISSUER, **fields})


def error(field: str, message: str) -> Finding:
    return (f"spec.access.{field}", message, "error")


@pytest.mark.parametrize(
    ("access", "expected"),
    [
        ({"networkPolicy": "off"}, [error("networkPolicy", "expected a mapping, got a string")]),
        (
            {"networkPolicy": {"enable": False}},
            [error("networkPolicy.enable", f"unknown field 'enable'; expected one of: {NETWORK_KEYS}")],
        ),
        (
            {"networkPolicy": {"gatewayNamespaces": ["asm-ingress", "", "Bad_NS", None, 7]}},
            [
                error("networkPolicy.gatewayNamespaces[1]", "expected a namespace name, got ''"),
                error("networkPolicy.gatewayNamespaces[2]", f"{NS_ERROR}'Bad_NS'"),
                error("networkPolicy.gatewayNamespaces[3]", "expected a namespace name, got nothing"),
                error("networkPolicy.gatewayNamespaces[4]", f"{NS_ERROR}a number"),
            ],
        ),
        (
            {"networkPolicy": {"operatorNamespace": 5}},
            [error("networkPolicy.operatorNamespace", f"{NS_ERROR}a number")],
        ),
        (
            {"networkPolicy": {"monitoringNamespace": "m" * 64}},
            [error("networkPolicy.monitoringNamespace", f"{NS_ERROR}'{'m' * 64}'")],
        ),
        (
            # the rejected value counts as the default (on): no "has no effect" warnings beside it
            {"networkPolicy": {"enabled": "no", "operatorNamespace": "ray-system"}},
            [error("networkPolicy.enabled", "expected true or false, got a string")],
        ),
        ({"rayAuth": 1}, [error("rayAuth", "expected one of token, kubernetes, none, got a number")]),
        ({"rayAuth": None}, [error("rayAuth", "expected one of token, kubernetes, none, got nothing")]),
        ({"gateway": "asm-ingress"}, [error("gateway", "expected a mapping, got a string")]),
        (
            gateway_with(selectors={}),
            [
                error(
                    "gateway.selectors",
                    "unknown field 'selectors'; expected one of: namespace, selector, jwt",
                )
            ],
        ),
        (gateway_with(namespace="Asm"), [error("gateway.namespace", f"{NS_ERROR}'Asm'")]),
        (gateway_with(namespace=["asm"]), [error("gateway.namespace", f"{NS_ERROR}a list")]),
        *(
            (
                gateway_with(namespace=empty, jwt={"issuer": ISSUER}),
                [
                    error(
                        "gateway.namespace",
                        "required: the namespace the ingress gateway workload runs in (e.g. asm-ingress)",
                    )
                ],
            )
            for empty in (None, "")
        ),
        (
            gateway_with(selector="istio"),
            [error("gateway.selector", "expected a mapping of label names to values, got a string")],
        ),
        (
            gateway_with(selector={}),
            [
                error(
                    "gateway.selector",
                    "required: the ingress gateway pods' labels (e.g. {istio: asm-ingressgateway})",
                )
            ],
        ),
        (
            gateway_with(selector={"bad key": "gw", "istio": "not valid!", "app": 5, 7: "x", "ok": "v" * 64}),
            [
                error("gateway.selector.bad key", "'bad key' is not a valid label name"),
                error("gateway.selector.istio", f"'not valid!'{LABEL_VALUE_ERROR}"),
                error("gateway.selector.app", f"5{LABEL_VALUE_ERROR}"),
                error("gateway.selector.7", "7 is not a valid label name"),
                error("gateway.selector.ok", f"'{'v' * 64}'{LABEL_VALUE_ERROR}"),
            ],
        ),
        (gateway_with(jwt="oidc"), [error("gateway.jwt", "expected a mapping, got a string")]),
        (
            jwt_with(audiences=["ray"]),
            [
                error(
                    "gateway.jwt.audiences",
                    "unknown field 'audiences'; expected one of: issuer, jwksUri, groupsClaim",
                )
            ],
        ),
        (jwt_with(issuer=5), [error("gateway.jwt.issuer", "expected a non-empty string, got a number")]),
        (jwt_with(issuer="  "), [error("gateway.jwt.issuer", "expected a non-empty string, got '  '")]),
        *(
            (
                gateway_with(jwt=jwt),
                [
                    error(
                        "gateway.jwt.issuer", "required: the issuer (`iss`) of the identity provider's tokens"
                    )
                ],
            )
            for jwt in ({}, {"issuer": None}, {"jwksUri": f"{ISSUER}/keys"})
        ),
        (
            jwt_with(jwksUri="ftp://idp.example.com/keys"),
            [
                error(
                    "gateway.jwt.jwksUri",
                    "expected an http(s) URL of the provider's keys, got 'ftp://idp.example.com/keys'",
                )
            ],
        ),
        (
            jwt_with(jwksUri=["https://k"]),
            [error("gateway.jwt.jwksUri", "expected a non-empty string, got a list")],
        ),
        (jwt_with(groupsClaim=""), [error("gateway.jwt.groupsClaim", "expected a non-empty string, got ''")]),
        *(
            (
                jwt_with(groupsClaim=claim),
                [error("gateway.jwt.groupsClaim", f"expected a claim name, got {claim!r}")],
            )
            for claim in ("groups[0]", "realm]")
        ),
    ],
)
def test_each_access_problem_is_every_finding_the_spec_gets(access: Any, expected: list[Finding]) -> None:
    assert access_findings(access) == expected


def test_every_problem_of_the_gateway_is_reported_together() -> None:
    access = {
        "gateway": {
            "namespace": "Asm",
            "selector": {"istio": "not valid!"},
            "jwt": {"jwksUri": "keys", "groupsClaim": "a[b]"},
        }
    }
    assert access_findings(access) == [
        error("gateway.namespace", f"{NS_ERROR}'Asm'"),
        error("gateway.selector.istio", f"'not valid!'{LABEL_VALUE_ERROR}"),
        error("gateway.jwt.issuer", "required: the issuer (`iss`) of the identity provider's tokens"),
        error("gateway.jwt.jwksUri", "expected an http(s) URL of the provider's keys, got 'keys'"),
        error("gateway.jwt.groupsClaim", "expected a claim name, got 'a[b]'"),
    ]


def test_with_policies_off_each_setting_of_theirs_is_a_warning() -> None:
    network = {
        "enabled": False,
        "gatewayNamespaces": ["asm-ingress"],
        "operatorNamespace": "ray-system",
        "monitoringNamespace": "monitoring",
    }
    assert access_findings({"networkPolicy": network}) == [
        (f"spec.access.networkPolicy.{key}", "has no effect with networkPolicy.enabled: false", "warning")
        for key in ("gatewayNamespaces", "operatorNamespace", "monitoringNamespace")
    ]


def test_with_policies_off_empty_settings_are_no_warning() -> None:
    network = {
        "enabled": False,
        "gatewayNamespaces": [],
        "operatorNamespace": "",
        "monitoringNamespace": None,
    }
    assert access_findings({"networkPolicy": network}) == []


def test_the_network_settings_are_read_as_written() -> None:
    longest = "n" * 63  # a DNS-1123 label has up to 63 characters
    network = {
        "enabled": True,
        "gatewayNamespaces": ["edge", longest, "edge"],
        "operatorNamespace": longest,
        "monitoringNamespace": "monitoring",
    }
    config = parse_config(spec_with(access={"networkPolicy": network}), FILE)
    assert config.warnings == ()
    assert config.access.network == NetworkSettings(True, ("edge", longest), longest, "monitoring")


def test_empty_namespaces_are_unset() -> None:
    network: dict[str, Any] = {"gatewayNamespaces": [], "operatorNamespace": "", "monitoringNamespace": None}
    config = parse_config(spec_with(access={"networkPolicy": network}), FILE)
    assert config.access.network == NetworkSettings(True, (), "", "")


def test_the_gateway_settings_are_read_as_written() -> None:
    jwt = {"issuer": ISSUER, "jwksUri": "http://keys.idp.svc/jwks", "groupsClaim": "X-Groups"}
    config = parse_config(spec_with(access={"gateway": {**GATEWAY, "jwt": jwt}}), FILE)
    assert config.warnings == ()
    assert config.access.gateway == GatewaySettings(
        "asm-ingress",
        MappingProxyType({"istio": "asm-ingressgateway"}),
        Jwt(ISSUER, "http://keys.idp.svc/jwks", "X-Groups"),
    )
    assert config.access.gateway_jwt


def test_a_jwt_without_keys_or_claim_reads_the_groups_claim() -> None:
    config = parse_config(spec_with(access={"gateway": {**GATEWAY, "jwt": {"issuer": ISSUER}}}), FILE)
    assert config.access.gateway is not None
    assert config.access.gateway.jwt == Jwt(ISSUER, "", "groups")


def test_a_gateway_without_jwt_checks_no_identities() -> None:
    config = parse_config(spec_with(access={"gateway": dict(GATEWAY)}), FILE)
    assert config.access.gateway == GatewaySettings("asm-ingress", {"istio": "asm-ingressgateway"}, None)
    assert not config.access.gateway_jwt


def test_a_rejected_value_leaves_the_default_in_the_record() -> None:
    access = {
        "rayAuth": "tls",
        "networkPolicy": {"enabled": "yes", "gatewayNamespaces": ["", "Bad"], "operatorNamespace": "Ray"},
        "gateway": {**GATEWAY, "jwt": {"issuer": ISSUER, "jwksUri": "keys", "groupsClaim": "a[0]"}},
    }
    record, results = parse_access({"access": access})
    assert [r.field.removeprefix("spec.access.") for r in results] == [
        "rayAuth",
        "networkPolicy.enabled",
        "networkPolicy.gatewayNamespaces[0]",
        "networkPolicy.gatewayNamespaces[1]",
        "networkPolicy.operatorNamespace",
        "gateway.jwt.jwksUri",
        "gateway.jwt.groupsClaim",
    ]
    assert (record.ray_auth, record.network) == ("token", NetworkSettings(True, (), "", ""))
    assert record.gateway is not None and record.gateway.jwt == Jwt(ISSUER, "", "groups")
    record, _ = parse_access({"access": {"gateway": {**GATEWAY, "jwt": {"issuer": 5}}}})
    assert record.gateway is not None and record.gateway.jwt is None  # no issuer: no JWT rule
    record, _ = parse_access({"access": {"gateway": {**GATEWAY, "selector": {"istio": "a b"}}}})
    assert record.gateway is None  # no valid selector: no gateway to select


@pytest.mark.parametrize(
    ("quota", "expected"),
    [
        (
            {"requests.cpu": 64, "limits.memory": "256Gi", "requests.memory": "1.5e3", "cpu": 0.5},
            {"requests.cpu": "64", "limits.memory": "256Gi", "requests.memory": "1.5e3", "cpu": "0.5"},
        ),
        (
            {"a": "+1", "b": ".5", "c": "2.", "d": "500m", "e": "1k", "f": "3Ei", "g": "1E-3", "h": "7n"},
            {"a": "+1", "b": ".5", "c": "2.", "d": "500m", "e": "1k", "f": "3Ei", "g": "1E-3", "h": "7n"},
        ),
    ],
)
def test_quantities_are_written_as_strings(quota: dict[str, Any], expected: dict[str, str]) -> None:
    config = parse_config(spec_with(quota=quota), FILE)
    assert dict(config.access.quota) == expected
    assert dict(config.tenants[0].access.quota) == expected


def test_each_bad_quota_entry_is_one_error() -> None:
    quota = {
        "requests.cpu": "-1",
        "limits.memory": "1K",
        "pods": None,
        "services": [1],
        "bad key": "1",
        5: "1",
        "configmaps": True,
        "secrets": "1Gi ",
        "requests.storage": "10",
    }
    where = "spec.quota"
    assert findings(spec_with(quota=quota)) == [
        (f"{where}.requests.cpu", f"{QUANTITY_ERROR}'-1'", "error"),
        (f"{where}.limits.memory", f"{QUANTITY_ERROR}'1K'", "error"),
        (f"{where}.pods", f"{QUANTITY_ERROR}nothing", "error"),
        (f"{where}.services", f"{QUANTITY_ERROR}a list", "error"),
        (f"{where}.bad key", f"'bad key'{RESOURCE_ERROR}", "error"),
        (f"{where}.5", f"5{RESOURCE_ERROR}", "error"),
        (f"{where}.configmaps", f"{QUANTITY_ERROR}a boolean", "error"),
        (f"{where}.secrets", f"{QUANTITY_ERROR}'1Gi '", "error"),
    ]


def test_a_tenant_quota_is_merged_over_the_spec_quota() -> None:
    doc = typed(
        {
            "quota": {"requests.cpu": "64", "pods": "100"},
            "tenants": [
                {"name": "mlops", "quota": {"pods": 10, "requests.nvidia.com/gpu": "8"}},
                {"name": "b"},
            ],
        }
    )
    mlops, other = (t.access for t in parse_config(doc, FILE).tenants)
    assert dict(mlops.quota) == {"requests.cpu": "64", "pods": "10", "requests.nvidia.com/gpu": "8"}
    assert dict(other.quota) == {"requests.cpu": "64", "pods": "100"}


def test_a_tenant_quota_problem_points_at_the_tenant() -> None:
    doc = typed({"tenants": [{"name": "mlops", "quota": ["pods"]}, {"name": "b", "quota": {"pods": "x"}}]})
    assert findings(doc) == [
        (
            "spec.tenants[0].quota",
            "expected a mapping of resource names to quantities (ResourceQuota hard), got a list",
            "error",
        ),
        ("spec.tenants[1].quota.pods", f"{QUANTITY_ERROR}'x'", "error"),
    ]


def test_groups_are_kept_in_order_once_each() -> None:
    doc = typed({"tenants": [{"name": "mlops", "groups": ["ml-platform", "ml-admins", "ml-platform"]}]})
    assert parse_config(doc, FILE).tenants[0].access.groups == ("ml-platform", "ml-admins")


def test_each_bad_group_is_one_error_on_its_entry() -> None:
    doc = typed({"tenants": [{"name": "mlops", "groups": ["ml", "  ", None, "", ["a"]]}]})
    assert findings(doc) == [
        ("spec.tenants[0].groups[1]", "expected a non-empty string, got '  '", "error"),
        ("spec.tenants[0].groups[2]", "expected a non-empty string, got nothing", "error"),
        ("spec.tenants[0].groups[3]", "expected a non-empty string, got ''", "error"),
        ("spec.tenants[0].groups[4]", "expected a non-empty string, got a list", "error"),
    ]


def test_a_tenant_with_only_bad_groups_keeps_its_own_name_as_group() -> None:
    access, results = parse_tenant_access({"groups": [3]}, "spec.tenants[0]", "mlops", AccessSpec())
    assert [(r.field, r.message) for r in results] == [
        ("spec.tenants[0].groups[0]", "expected a non-empty string, got a number")
    ]
    assert access.groups == ("mlops",)


def test_the_records_defaults_are_the_documented_defaults() -> None:
    # token auth, NetworkPolicies on (gateway namespaces from the routes), no gateway, no quota
    defaults = AccessSpec("token", NetworkSettings(True, None, "", ""), None, {})
    assert AccessSpec() == defaults
    assert parse_access({}) == (defaults, [])
    assert Jwt(ISSUER) == Jwt(ISSUER, "", "groups")
