"""The route policy on a tenant's patched copy, the expectation the spec sets, and the stream rules
that name other routes. Every finding (field path and message) is written out in full.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from krm_fn.config import TenantsConfig, parse_config
from krm_fn.routing import check_routes, find_target, patch_findings, route_copy, route_overlaps
from krm_fn.routing.httproute import find_backend
from krm_fn.routing.policy import Expected, expected_route
from krm_fn.routing.virtualservice import HeadTarget
from tests.routing.test_gateway_api import CLUSTER, spec

VS: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "dash"},
    "spec": {
        "hosts": ["ray.example.com"],
        "gateways": ["infra/gw"],
        "http": [{"route": [{"destination": {"host": "ray-head-svc", "port": {"number": 8265}}}]}],
    },
}
HTTP_ROUTE: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "dash"},
    "spec": {
        "parentRefs": [{"name": "gw", "namespace": "infra"}],
        "hostnames": ["ray.example.com"],
        "rules": [{"backendRefs": [{"name": "ray-head-svc", "port": 8265}]}],
    },
}
LOST_HTTP = (
    "the function writes each tenant's http rules (the redirect and the dashboard route) from the base's route, "
    "so this change would be lost; change the base's route instead"
)
LOST_RULES = (
    "the function writes each tenant's rules (the redirect and the dashboard rule) from the base's route, "
    "so this change would be lost; change the base's route instead"
)


def config(**routing: Any) -> TenantsConfig:
    """The tenant spec of one tenant, `team`, with these routing settings."""
    return parse_config(spec([{"name": "team"}], **routing))


def target_of(base: dict[str, Any]) -> HeadTarget:
    found = (
        find_target(base, [CLUSTER]) if base["kind"] == "VirtualService" else find_backend(base, [CLUSTER])
    )
    target, results = found
    assert results == [] and target is not None
    return target


def findings(
    base: dict[str, Any], ops: list[dict[str, Any]], cfg: TenantsConfig
) -> list[tuple[tuple[Any, ...], str]]:
    """What patch_findings says of the tenant's routed copy of `base` after `ops`."""
    target, tenant = target_of(base), cfg.tenants[0]
    before = copy.deepcopy(base)
    assert route_copy(before, target, tenant, cfg) == []
    after = jsonpatch.apply_patch(before, ops)
    kept = copy.deepcopy((before, after, base))
    out = [(f.path, f.message) for f in patch_findings(before, after, base, target, tenant, cfg)]
    assert (before, after, base) == kept  # the policy only reads
    return out


def test_a_patch_that_leaves_the_route_alone_has_no_finding() -> None:
    label = [{"op": "add", "path": "/metadata/labels", "value": {"team": "ml"}}]
    assert findings(VS, label, config()) == []
    assert findings(HTTP_ROUTE, label, config()) == []


def test_a_change_to_the_rules_the_function_writes_would_be_lost() -> None:
    rule = {"route": [{"destination": {"host": "ray-head-svc"}}]}
    # the copy's rules are written again from the base's: the added one never reaches the cluster
    assert findings(VS, [{"op": "add", "path": "/spec/http/-", "value": rule}], config()) == [
        (("spec", "http"), LOST_HTTP)
    ]
    backend = {"backendRefs": [{"name": "ray-head-svc", "port": 8265}]}
    assert findings(HTTP_ROUTE, [{"op": "add", "path": "/spec/rules/-", "value": backend}], config())[0] == (
        ("spec", "rules"),
        LOST_RULES,
    )
    # a copy whose spec the patch made unreadable, or took away, has lost its rules and its gateways
    # (a VirtualService without gateways is bound to the mesh)
    mesh = (
        ("spec", "gateways"),
        "bound to gateway 'mesh'; a tenant's route is bound only to the configured gateways (infra/gw)",
    )
    for ops in ([{"op": "replace", "path": "/spec", "value": "text"}], [{"op": "remove", "path": "/spec"}]):
        assert findings(VS, ops, config()) == [(("spec", "http"), LOST_HTTP), mesh]


def test_fields_the_tenant_spec_sets_would_be_lost_and_say_which_setting_sets_them() -> None:
    hosts = [{"op": "replace", "path": "/spec/hosts", "value": ["ray.example.com", "other.example.com"]}]
    gateways = [{"op": "replace", "path": "/spec/gateways", "value": ["infra/gw", "infra/other"]}]
    shared = config(hosts=["ray.example.com"], gateways=["infra/gw"])
    assert findings(VS, hosts, shared)[0] == (
        ("spec", "hosts"),
        "the tenant spec's routing.hosts replaces spec.hosts in every tenant's route, so this change would be lost",
    )
    assert findings(VS, gateways, shared)[0] == (
        ("spec", "gateways"),
        "the tenant spec's routing.gateways replaces spec.gateways in every tenant's route, so this change would "
        "be lost",
    )
    own = config(hostTemplate="{tenant}.ray.example.com")
    assert findings(VS, [{"op": "replace", "path": "/spec/hosts", "value": ["x.example.com"]}], own)[0] == (
        ("spec", "hosts"),
        "the tenant's host replaces spec.hosts in every tenant's route, so this change would be lost",
    )
    # without the setting, the base's hosts are the tenant's: a change is the route policy's to judge
    assert findings(VS, hosts, config()) == [
        (
            ("spec", "hosts"),
            "serves host 'other.example.com'; a tenant's route serves only the configured hosts (ray.example.com)",
        )
    ]
    assert findings(VS, gateways, config()) == [
        (
            ("spec", "gateways"),
            "bound to gateway 'infra/other'; a tenant's route is bound only to the configured gateways (infra/gw)",
        )
    ]


def test_an_http_routes_hostnames_and_parents_the_spec_sets_would_be_lost() -> None:
    hostnames = [{"op": "replace", "path": "/spec/hostnames", "value": ["x.example.com"]}]
    parents = [{"op": "replace", "path": "/spec/parentRefs/0/name", "value": "other"}]
    cfg = config(hosts=["ray.example.com"], parentRefs=[{"name": "gw", "namespace": "infra"}])
    assert findings(HTTP_ROUTE, hostnames, cfg)[0] == (
        ("spec", "hostnames"),
        "the tenant spec's routing.hosts replaces spec.hostnames in every tenant's route, so this change would be "
        "lost",
    )
    assert findings(HTTP_ROUTE, parents, cfg)[0] == (
        ("spec", "parentRefs"),
        "the tenant spec's routing.parentRefs replaces spec.parentRefs in every tenant's route, so this change "
        "would be lost",
    )
    own = config(hostTemplate="{tenant}.ray.example.com")
    assert findings(HTTP_ROUTE, hostnames, own)[0] == (
        ("spec", "hostnames"),
        "the tenant's host replaces spec.hostnames in every tenant's route, so this change would be lost",
    )
    assert findings(HTTP_ROUTE, parents, config()) == [
        (
            ("spec", "parentRefs"),
            "bound to gateway 'infra/other'; a tenant's route is bound only to the configured gateways (infra/gw)",
        )
    ]


# --- what the spec expects of a tenant's copy ---------------------------------------------------------


def with_meta(base: dict[str, Any], namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    if namespace is not None:
        out["metadata"]["namespace"] = namespace
    out["spec"] = {**out["spec"], **spec}
    return out


def test_a_tenants_http_route_expects_the_bases_parents_resolved_in_the_bases_namespace() -> None:
    cfg = config()
    tenant = cfg.tenants[0]
    base = with_meta(HTTP_ROUTE, "infra", parentRefs=[{"name": "gw"}, "text"], hostnames=["Ray.Example.com"])
    assert expected_route(base, tenant, cfg) == Expected("/team/", ("ray.example.com",), ("infra/gw",))
    bare = with_meta(HTTP_ROUTE, parentRefs=[{"name": "gw"}], hostnames=[])
    assert expected_route(bare, tenant, cfg) == Expected("/team/", ("*",), ("team/gw",))
    spec_parents = config(parentRefs=[{"name": "edge", "namespace": "gw-system", "sectionName": "https"}])
    assert expected_route(base, spec_parents.tenants[0], spec_parents) == Expected(
        "/team/", ("ray.example.com",), ("gw-system/edge",)
    )
    own = config(hostTemplate="{tenant}.ray.example.com")
    assert expected_route(base, own.tenants[0], own) == Expected(
        "/", ("team.ray.example.com",), ("infra/gw",)
    )


def test_a_tenants_virtual_service_expects_its_gateways_in_its_namespace_or_the_mesh() -> None:
    cfg = config()
    tenant = cfg.tenants[0]
    assert expected_route(with_meta(VS, gateways=["gw", 5]), tenant, cfg) == Expected(
        "/team/", ("ray.example.com",), ("team/gw",)
    )
    assert expected_route(with_meta(VS, gateways=[]), tenant, cfg) == Expected(
        "/team/", ("ray.example.com",), ("mesh",)
    )
    spec_gateways = config(gateways=["infra/edge"], hosts=["Dash.example.com"])
    assert expected_route(VS, spec_gateways.tenants[0], spec_gateways) == Expected(
        "/team/", ("dash.example.com",), ("infra/edge",)
    )


# --- the stream rules that name other routes ----------------------------------------------------------


def vs(
    name: str, namespace: str, *http: dict[str, Any], hosts: tuple[str, ...] = ("ray.example.com",)
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hosts": list(hosts), "gateways": ["infra/gw"], "http": list(http)},
    }


def dashboard(prefix: str, host: str = "ray-head-svc") -> list[dict[str, Any]]:
    return [
        {"match": [{"uri": {"exact": prefix[:-1]}}], "redirect": {"uri": prefix}},
        {
            "match": [{"uri": {"prefix": prefix}}],
            "rewrite": {"uri": "/"},
            "route": [{"destination": {"host": host, "port": {"number": 8265}}}],
        },
    ]


HEADS = {"a": {"ray-head-svc": {8265}}, "b": {"ray-head-svc": {8265}}}


def test_a_route_for_every_path_that_is_no_tenants_is_a_warning_naming_the_tenants_route() -> None:
    web = vs("web", "web", {"route": [{"destination": {"host": "web"}}]})
    found = route_overlaps([vs("dash", "a", *dashboard("/a/")), web], [True, False])
    assert [(o.index, o.finding.path, o.finding.message, o.finding.severity) for o in found] == [
        (
            1,
            ("spec", "http", 0, "match"),
            "a rule for every path overlaps prefix '/a/' of VirtualService/a/dash on host 'ray.example.com' and "
            "gateway 'infra/gw': Istio merges them in an undefined order, so this route, which serves no Ray "
            "dashboard, can take a tenant's traffic",
            "warning",
        )
    ]


def test_a_route_into_another_tenants_namespace_names_every_route_there() -> None:
    routes = [
        vs("one", "a", *dashboard("/a/")),
        vs("two", "a", *dashboard("/a2/")),
        vs("dash", "b", *dashboard("/b/", host="ray-head-svc.a.svc.cluster.local")),
    ]
    found = [(o.index, o.finding.message) for o in check_routes(routes, HEADS, [True, True, True])]
    assert found == [
        (
            2,
            "routes to 'ray-head-svc.a.svc.cluster.local' in namespace 'a' (the namespace of VirtualService/a/one, "
            "VirtualService/a/two); a tenant's route must stay in its own namespace 'b'",
        )
    ]


def test_a_redirect_to_another_host_names_the_routes_serving_it() -> None:
    away = {"match": [{"uri": {"exact": "/b"}}], "redirect": {"uri": "/b/", "authority": "Other.example.com"}}
    routes = [
        vs("one", "a", *dashboard("/a/"), hosts=("other.example.com",)),
        vs("two", "a", *dashboard("/a2/"), hosts=("other.example.com",)),
        vs("dash", "b", away, dashboard("/b/")[1]),
    ]
    found = [(o.index, o.finding.message) for o in check_routes(routes, HEADS, [True, True, True])]
    assert found == [
        (
            2,
            "redirects to host 'Other.example.com', which this route does not serve (ray.example.com): a tenant's "
            "redirect stays on its own hosts; VirtualService/a/one, VirtualService/a/two serves it",
        )
    ]
