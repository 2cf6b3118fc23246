"""`spec.access`, `spec.quota`, `tenants[].groups` and `tenants[].quota`: defaults, and every
problem one finding on its field (the ConfigMap form's on its `data` key)."""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import parse_config
from krm_fn.results import FnError, Result
from tests.test_config_findings import CM_REF, FILE, configmap, located, problems, typed


def spec(**fields: Any) -> dict[str, Any]:
    return typed({"tenants": [{"name": "mlops"}], **fields})


def test_defaults_are_secure() -> None:
    config = parse_config(spec(), FILE)
    access = config.access
    assert access.ray_auth == "token"
    assert access.network.enabled is True
    assert access.network.gateway_namespaces is None  # the routes' gateways decide
    assert access.gateway is None and not access.gateway_jwt
    assert dict(access.quota) == {}
    assert config.tenants[0].access.groups == ("mlops",)
    assert dict(config.tenants[0].access.quota) == {}


def test_the_whole_section_is_read() -> None:
    config = parse_config(
        typed(
            {
                "access": {
                    "rayAuth": "kubernetes",
                    "networkPolicy": {
                        "enabled": True,
                        "gatewayNamespaces": ["asm-ingress", "istio-system", "asm-ingress"],
                        "operatorNamespace": "ray-system",
                        "monitoringNamespace": "monitoring",
                    },
                    "gateway": {
                        "namespace": "asm-ingress",
                        "selector": {"istio": "asm-ingressgateway"},
                        "jwt": {
                            "issuer": "https://idp.example.com",
                            "jwksUri": "https://idp.example.com/keys",
                        },
                    },
                },
                "quota": {"requests.cpu": "64", "limits.memory": "256Gi"},
                "tenants": [
                    {"name": "mlops", "groups": ["ml-platform"], "quota": {"requests.nvidia.com/gpu": 8}},
                    {"name": "research", "quota": {"requests.cpu": "16"}},
                ],
            }
        ),
        FILE,
    )
    access = config.access
    assert access.ray_auth == "kubernetes"
    assert access.network.gateway_namespaces == ("asm-ingress", "istio-system")
    assert (access.network.operator_namespace, access.network.monitoring_namespace) == (
        "ray-system",
        "monitoring",
    )
    assert access.gateway is not None and access.gateway.jwt is not None
    assert access.gateway.jwt.groups_claim == "groups"
    mlops, research = (t.access for t in config.tenants)
    assert mlops.groups == ("ml-platform",)
    # merged over spec.quota; a number is written as the string Kubernetes reads
    assert dict(mlops.quota) == {
        "requests.cpu": "64",
        "limits.memory": "256Gi",
        "requests.nvidia.com/gpu": "8",
    }
    assert dict(research.quota) == {"requests.cpu": "16", "limits.memory": "256Gi"}
    assert research.groups == ("research",)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"access": "on"}, [("spec.access", "expected a mapping, got a string")]),
        (
            {"access": {"rayAuth": "tokens"}},
            [("spec.access.rayAuth", "expected one of token, kubernetes, none, got 'tokens'")],
        ),
        (
            {"access": {"auth": "token"}},
            [("spec.access.auth", "unknown field 'auth'; expected one of: rayAuth, networkPolicy, gateway")],
        ),
        (
            {"access": {"networkPolicy": {"enabled": "yes"}}},
            [("spec.access.networkPolicy.enabled", "expected true or false, got a string")],
        ),
        (
            {"access": {"networkPolicy": {"gatewayNamespaces": "asm-ingress"}}},
            [
                (
                    "spec.access.networkPolicy.gatewayNamespaces",
                    "expected a list of namespace names, got a string",
                )
            ],
        ),
        (
            {"access": {"networkPolicy": {"operatorNamespace": "Ray_System"}}},
            [
                (
                    "spec.access.networkPolicy.operatorNamespace",
                    "expected a namespace name (a DNS-1123 label), got 'Ray_System'",
                )
            ],
        ),
        (
            {"access": {"gateway": {"jwt": {"issuer": "https://idp"}}}},
            [
                (
                    "spec.access.gateway.namespace",
                    "required: the namespace the ingress gateway workload runs in (e.g. asm-ingress)",
                ),
                (
                    "spec.access.gateway.selector",
                    "required: the ingress gateway pods' labels (e.g. {istio: asm-ingressgateway})",
                ),
            ],
        ),
        (
            {
                "access": {
                    "gateway": {"namespace": "gw", "selector": {"istio": "gw"}, "jwt": {"jwksUri": "keys"}}
                }
            },
            [
                (
                    "spec.access.gateway.jwt.issuer",
                    "required: the issuer (`iss`) of the identity provider's tokens",
                ),
                (
                    "spec.access.gateway.jwt.jwksUri",
                    "expected an http(s) URL of the provider's keys, got 'keys'",
                ),
            ],
        ),
        (
            {"quota": {"requests.cpu": "lots"}},
            [
                (
                    "spec.quota.requests.cpu",
                    'expected a quantity such as "64", "256Gi" or "500m", got \'lots\'',
                )
            ],
        ),
        (
            {"quota": ["requests.cpu"]},
            [
                (
                    "spec.quota",
                    "expected a mapping of resource names to quantities (ResourceQuota hard), got a list",
                )
            ],
        ),
    ],
)
def test_each_problem_is_one_error_on_its_field(
    fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert problems(spec(**fields)) == located(expected)


@pytest.mark.parametrize(
    ("tenant", "expected"),
    [
        (
            {"groups": []},
            [
                (
                    "spec.tenants[0].groups",
                    "expected at least one group: with none, nobody could use the tenant",
                )
            ],
        ),
        ({"groups": "ml"}, [("spec.tenants[0].groups", "expected a list of group names, got a string")]),
        ({"groups": ["ml", 3]}, [("spec.tenants[0].groups[1]", "expected a non-empty string, got a number")]),
        (
            {"quota": {"requests.cpu": True}},
            [
                (
                    "spec.tenants[0].quota.requests.cpu",
                    'expected a quantity such as "64", "256Gi" or "500m", got a boolean',
                )
            ],
        ),
    ],
)
def test_tenant_problems_point_at_the_tenant(tenant: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert problems(typed({"tenants": [{"name": "mlops", **tenant}]})) == located(expected)


def test_settings_that_do_nothing_with_policies_off_are_warnings() -> None:
    config = parse_config(
        spec(access={"networkPolicy": {"enabled": False, "monitoringNamespace": "monitoring"}}), FILE
    )
    where = "spec.access.networkPolicy.monitoringNamespace"
    assert config.warnings == tuple(
        r.replace(severity="warning")
        for r in located([(where, "has no effect with networkPolicy.enabled: false")])
    )


def test_configmap_form_has_ray_auth_and_network_policy() -> None:
    config = parse_config(configmap({"tenants": "a", "rayAuth": "none", "networkPolicy": "false"}), FILE)
    assert (config.access.ray_auth, config.access.network.enabled) == ("none", False)
    with pytest.raises(FnError) as caught:
        parse_config(configmap({"tenants": "a", "rayAuth": "tls", "networkPolicy": "maybe"}), FILE)
    assert list(caught.value.results) == [
        Result(message, resource=CM_REF, field=field, file=FILE)
        for field, message in (
            ("data.rayAuth", "expected one of token, kubernetes, none, got 'tls'"),
            ("data.networkPolicy", "expected true or false, got a string"),
        )
    ]
