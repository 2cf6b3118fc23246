"""What the Gateway API router writes into a tenant's HTTPRoute copy, whole: spec key order, the
base rule's kept parts, the backend, host mode, and the errors on a copy it cannot write.

Expected rules are written out from the Gateway API documentation (Exact redirect with
`ReplaceFullPath`, `PathPrefix` with `ReplacePrefixMatch: /`), not read from the writer.
"""

from __future__ import annotations

import copy
from typing import Any

from krm_fn.config import TenantsConfig
from krm_fn.results import ResourceRef
from krm_fn.routing.httproute import find_backend, route_tenant_http
from tests.routing.test_gateway_api import CLUSTER
from tests.routing.test_policy_patches import config

API = "gateway.networking.k8s.io/v1"
HEADERS = {
    "type": "RequestHeaderModifier",
    "requestHeaderModifier": {"set": [{"name": "x-ray", "value": "1"}]},
}
BASE_RULE: dict[str, Any] = {
    "name": "dashboard",
    "matches": [
        {"path": {"type": "PathPrefix", "value": "/"}, "headers": [{"name": "x-team", "value": "y"}]}
    ],
    "filters": [
        HEADERS,
        {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/x"}},
        },
        {"type": "RequestRedirect", "requestRedirect": {"statusCode": 302}},
    ],
    "timeouts": {"request": "0s"},
    "backendRefs": [
        {
            "name": "ray-head-svc",
            "port": 8265,
            "namespace": "elsewhere",
            "group": "",
            "kind": "Service",
            "weight": 7,
        }
    ],
}
REWRITE = {
    "type": "URLRewrite",
    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
}
BACKEND = {"name": "ray-head-svc", "port": 8265, "weight": 7}


def base(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "HTTPRoute",
        "metadata": {"name": "dash", "namespace": "infra"},
        "spec": spec,
    }


def written(route: dict[str, Any], cfg: TenantsConfig) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    target, results = find_backend(route, [CLUSTER])
    assert results == [] and target is not None
    out = copy.deepcopy(route)
    found = route_tenant_http(out, target, cfg.tenants[0], cfg)
    return out["spec"], [(r.resource, r.field, r.message, r.severity) for r in found]


def test_path_mode_writes_the_redirect_and_the_rewritten_prefix_keeping_the_bases_other_parts() -> None:
    spec, results = written(
        base(parentRefs=[{"name": "gw"}], rules=[BASE_RULE]), config(hosts=["ray.example.com"])
    )
    assert results == []
    # hostnames where people write them: after parentRefs
    assert list(spec) == ["parentRefs", "hostnames", "rules"]
    assert spec["parentRefs"] == [{"name": "gw", "namespace": "infra"}]  # the base's namespace
    assert spec["hostnames"] == ["ray.example.com"]
    headers = [{"name": "x-team", "value": "y"}]
    assert spec["rules"] == [
        {
            "matches": [{"headers": headers, "path": {"type": "Exact", "value": "/team"}}],
            "filters": [
                {
                    "type": "RequestRedirect",
                    "requestRedirect": {
                        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/team/"},
                        "statusCode": 301,
                    },
                }
            ],
        },
        {
            "matches": [{"headers": headers, "path": {"type": "PathPrefix", "value": "/team/"}}],
            "filters": [REWRITE, HEADERS],
            "timeouts": {"request": "0s"},
            "backendRefs": [BACKEND],
        },
    ]


def test_the_bases_hostnames_stay_where_they_are_and_the_spec_replaces_their_value() -> None:
    route = base(
        hostnames=["old.example.com"], rules=[BASE_RULE], parentRefs=[{"name": "gw", "namespace": "a"}]
    )
    spec, _ = written(route, config(hosts=["ray.example.com"]))
    assert list(spec) == ["hostnames", "rules", "parentRefs"]
    assert spec["hostnames"] == ["ray.example.com"]
    # without routing.hosts the base's hostnames are the tenant's
    spec, _ = written(route, config())
    assert spec["hostnames"] == ["old.example.com"]
    # and a base without hostnames gets none
    spec, _ = written(base(parentRefs=[{"name": "gw"}], rules=[BASE_RULE]), config())
    assert "hostnames" not in spec and list(spec) == ["parentRefs", "rules"]


def test_the_spec_parent_refs_replace_the_bases() -> None:
    edge = {"name": "edge", "namespace": "gw-system", "sectionName": "https"}
    spec, _ = written(base(parentRefs=[{"name": "gw"}], rules=[BASE_RULE]), config(parentRefs=[edge]))
    assert spec["parentRefs"] == [edge]


def test_host_mode_serves_the_whole_host_with_the_bases_other_filters_only_when_it_has_some() -> None:
    spec, results = written(
        base(parentRefs=[{"name": "gw"}], rules=[BASE_RULE]), config(hostTemplate="{tenant}.r.example.com")
    )
    assert results == []
    assert spec["hostnames"] == ["team.r.example.com"]
    assert spec["rules"] == [
        {
            "matches": [
                {"headers": [{"name": "x-team", "value": "y"}], "path": {"type": "PathPrefix", "value": "/"}}
            ],
            "filters": [HEADERS],
            "timeouts": {"request": "0s"},
            "backendRefs": [BACKEND],
        }
    ]
    plain = {"backendRefs": [{"name": "ray-head-svc"}]}
    spec, _ = written(
        base(parentRefs=[{"name": "gw"}], rules=[plain]), config(hostTemplate="{tenant}.r.example.com")
    )
    assert spec["rules"] == [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": "ray-head-svc", "port": 8265}],
        }
    ]


def test_a_copy_without_parents_or_with_a_spec_of_another_type_is_an_error_on_the_copy() -> None:
    spec, results = written(base(rules=[BASE_RULE]), config())
    assert spec["parentRefs"] == []
    assert results == [
        (
            ResourceRef(API, "HTTPRoute", "dash", "infra"),
            "spec.parentRefs",
            "no parentRefs: set them on the base HTTPRoute or in the tenant spec's routing.parentRefs",
            "error",
        )
    ]
    route = base(parentRefs=[{"name": "gw"}], rules=[BASE_RULE])
    target, _ = find_backend(route, [CLUSTER])
    assert target is not None
    broken = {**route, "spec": ["text"]}
    cfg = config()
    found = route_tenant_http(broken, target, cfg.tenants[0], cfg)
    assert [(r.resource, r.field, r.message) for r in found] == [
        (ResourceRef(API, "HTTPRoute", "dash", "infra"), "spec", "expected a mapping, got a list")
    ]


def test_a_parent_ref_the_base_gave_a_namespace_keeps_it_and_one_a_patch_added_is_kept_as_written() -> None:
    route = base(parentRefs=[{"name": "gw"}, {"name": "b", "namespace": "x"}], rules=[BASE_RULE])
    target, _ = find_backend(route, [CLUSTER])
    assert target is not None
    out = copy.deepcopy(route)
    out["spec"]["parentRefs"].append({"name": "patched"})
    cfg = config()
    assert route_tenant_http(out, target, cfg.tenants[0], cfg) == []
    assert out["spec"]["parentRefs"] == [
        {"name": "gw", "namespace": "infra"},
        {"name": "b", "namespace": "x"},
        {"name": "patched"},
    ]
