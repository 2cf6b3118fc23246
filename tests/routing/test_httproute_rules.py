"""The Gateway API router's readers, rule by rule: what an HTTPRoute serves, which listeners admit
it, and the base HTTPRoutes it refuses. Expected values are written out from the Gateway API
specification (HTTPRoute defaults, listener `allowedRoutes`, hostname intersection).
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.results import ResourceRef
from krm_fn.routing.httproute import find_backend, listener_problems, parent_key, read_http_route
from krm_fn.routing.served import Destination, Match, Redirect, Rewrite, Rule
from tests.routing.test_gateway_api import CLUSTER as HEAD

API = "gateway.networking.k8s.io/v1"
REF = ResourceRef(API, "HTTPRoute", "dash", "team")


def route(namespace: str | None = "team", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "dash"}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": API, "kind": "HTTPRoute", "metadata": meta, "spec": spec}


def gateway(*listeners: dict[str, Any], name: str = "gw", namespace: str = "infra") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"gatewayClassName": "istio", "listeners": list(listeners)},
    }


def listener(name: str = "http", port: int = 80, **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": "HTTP", **extra}


def admits(namespaces: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return listener(allowedRoutes={"namespaces": namespaces}, **extra)


# --- what an HTTPRoute serves ---------------------------------------------------------------------


def test_a_route_without_hostnames_serves_every_host_and_hosts_are_lower_case() -> None:
    assert read_http_route(route()).hosts == ("*",)
    assert read_http_route(route(hostnames=["Ray.Example.com", 5, "b.example.com"])).hosts == (
        "ray.example.com",
        "b.example.com",
    )


def test_parents_are_gateways_by_namespace_and_name_and_other_kinds_are_told_apart() -> None:
    parents = [
        {"name": "gw"},
        {"name": "gw", "namespace": "infra"},
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": "x"},
        {"group": "", "kind": "Service", "name": "gw"},
        {"group": "example.com", "name": "gw"},
        "text",
    ]
    assert read_http_route(route(parentRefs=parents)).gateways == (
        "team/gw",
        "infra/gw",
        "x/gw",
        "Service:team/gw",
        "Gateway:team/gw",
    )
    assert parent_key({"name": "gw"}, "") == "/gw"


def test_each_rule_is_read_with_its_matches_backends_redirect_and_rewrite() -> None:
    rules = [
        {
            "matches": [
                {"path": {"type": "Exact", "value": "/team"}},
                {"headers": [{"name": "x", "value": "y"}]},
                {"path": {"type": "RegularExpression", "value": "/t.*"}},
                {"path": {"type": "Unknown", "value": "/u"}},
                "text",
            ],
            "filters": [
                {
                    "type": "RequestRedirect",
                    "requestRedirect": {
                        "hostname": "other.example.com",
                        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/team/"},
                    },
                }
            ],
        },
        {
            "backendRefs": [
                {"name": "ray-head-svc", "port": 8265},
                {"name": "web", "namespace": "web", "kind": "Service", "group": "core"},
                {"name": "bucket", "kind": "Backend", "group": "example.com"},
                "text",
            ],
            "filters": [
                {
                    "type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                },
                {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "copy", "port": 1}}},
            ],
        },
        {
            "backendRefs": [
                {
                    "name": "ray-head-svc",
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {
                                "hostname": "h",
                                "path": {"type": "ReplaceFullPath", "replaceFullPath": "/x"},
                            },
                        }
                    ],
                }
            ]
        },
        "text",
    ]
    first, second, third = read_http_route(route(rules=rules)).rules
    r0, r1, r2 = ("spec", "rules", 0), ("spec", "rules", 1), ("spec", "rules", 2)
    assert first == Rule(
        r0,
        "http",
        (
            Match("exact", "/team", (*r0, "matches", 0, "path", "value")),
            Match("path-prefix", "/", (*r0, "matches", 1, "path", "value")),
            Match("regex", "/t.*", (*r0, "matches", 2, "path", "value")),
            Match("regex", "/u", (*r0, "matches", 3, "path", "value")),
        ),
        (),
        Redirect(
            "/team/",
            "other.example.com",
            (*r0, "filters", 0, "requestRedirect"),
            ("path", "replaceFullPath"),
            ("hostname",),
        ),
        None,
    )
    assert second.matches == ()
    assert second.destinations == (
        Destination(
            "ray-head-svc",
            "ray-head-svc",
            "team",
            8265,
            (*r1, "backendRefs", 0),
            "route",
            ("name",),
            ("port",),
        ),
        Destination("web", "web", "web", None, (*r1, "backendRefs", 1), "route", ("name",), ("port",)),
        Destination("bucket", "", "team", None, (*r1, "backendRefs", 2), "route", ("name",), ("port",)),
        Destination(
            "copy",
            "copy",
            "team",
            1,
            (*r1, "filters", 1, "requestMirror", "backendRef"),
            "mirror",
            ("name",),
            ("port",),
        ),
    )
    assert second.redirect is None
    assert second.rewrite == Rewrite(
        "/", None, (*r1, "filters", 0, "urlRewrite"), ("path", "replacePrefixMatch"), ("hostname",)
    )
    # a full-path rewrite sends every path to one: no prefix rewrite at all
    assert third.rewrite == Rewrite(
        None,
        "h",
        (*r2, "backendRefs", 0, "filters", 0, "urlRewrite"),
        ("path", "replaceFullPath"),
        ("hostname",),
    )


# --- which listeners admit a route ----------------------------------------------------------------


def problems(gw: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any) -> list[tuple[int, str]]:
    obj = route(**{"parentRefs": [{"name": "gw", "namespace": "infra"}], **spec})
    return listener_problems(obj, labels or {}, [gw])


LABEL = "Gateway/infra/gw"


def test_a_listener_admits_routes_from_its_own_namespace_by_default() -> None:
    assert problems(gateway(listener())) == [
        (
            0,
            f"{LABEL} admits no route from namespace 'team': listener 'http' admits routes from its own namespace "
            "only (allowedRoutes.namespaces.from: Same)",
        )
    ]
    own = route(namespace="infra", parentRefs=[{"name": "gw"}])
    assert listener_problems(own, {}, [gateway(listener())]) == []
    assert problems(gateway(admits({"from": "All"}))) == []


def test_a_selector_listener_admits_namespaces_whose_labels_match() -> None:
    selector = admits({"from": "Selector", "selector": {"matchLabels": {"access": "yes"}}})
    assert problems(gateway(selector), {"access": "yes"}) == []
    assert problems(gateway(selector), {"access": "no"}) == [
        (
            0,
            f"{LABEL} admits no route from namespace 'team': the namespace selector of listener 'http' does not "
            "match the namespace's labels {'access': 'no'}",
        )
    ]
    # every Namespace carries its own name as a label
    by_name = admits(
        {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}
    )
    assert problems(gateway(by_name)) == []
    assert problems(gateway(admits({"from": "Selector"})))[0][1].endswith(
        "the namespace selector of listener 'http' does not match the namespace's labels {}"
    )
    assert problems(gateway(admits({"from": "Everywhere"}))) == [
        (0, f"{LABEL} admits no route from namespace 'team': listener 'http' admits routes from 'Everywhere'")
    ]


def test_a_listener_must_allow_the_http_route_kind() -> None:
    kinds = {
        "namespaces": {"from": "All"},
        "kinds": [{"kind": "GRPCRoute"}, {"group": "example.com", "kind": "HTTPRoute"}],
    }
    assert problems(gateway(listener(allowedRoutes=kinds))) == [
        (0, f"{LABEL} admits no route from namespace 'team': listener 'http' allows no HTTPRoute kind")
    ]
    ok = {"namespaces": {"from": "All"}, "kinds": [{"kind": "HTTPRoute"}]}
    assert problems(gateway(listener(allowedRoutes=ok))) == []
    assert problems(gateway(listener(allowedRoutes={"namespaces": {"from": "All"}, "kinds": []}))) == []


@pytest.mark.parametrize(
    ("listener_host", "route_hosts", "admitted"),
    [
        ("*.example.com", ["a.example.com"], True),
        ("*.example.com", ["a.b.example.com"], True),
        ("*.example.com", ["example.com"], False),
        ("a.example.com", ["*.example.com"], True),
        ("A.Example.com", ["a.example.com"], True),
        ("a.example.com", ["b.example.com"], False),
        ("a.example.com", ["b.example.com", "a.example.com"], True),
        ("a.example.com", [], True),
        ("", ["b.example.com"], True),
        ("*.example.com", ["badexample.com"], False),
        ("*.example.com", [".example.com"], False),
        ("*.example.com", ["x.example.com"], True),
    ],
)
def test_a_listener_hostname_must_intersect_the_routes(
    listener_host: str, route_hosts: list[str], admitted: bool
) -> None:
    gw = gateway(admits({"from": "All"}, hostname=listener_host))
    found = problems(gw, hostnames=route_hosts)
    assert found == (
        []
        if admitted
        else [
            (
                0,
                f"{LABEL} admits no route from namespace 'team': listener 'http' serves {listener_host!r}, none "
                f"of the route's hostnames {route_hosts}",
            )
        ]
    )


def test_section_name_and_port_narrow_the_listeners_and_every_refusal_is_listed() -> None:
    gw = gateway(listener("http"), admits({"from": "All"}, name="https", port=443))
    assert problems(gw, parentRefs=[{"name": "gw", "namespace": "infra", "sectionName": "https"}]) == []
    assert problems(gw, parentRefs=[{"name": "gw", "namespace": "infra", "port": 443}]) == []
    assert problems(gw, parentRefs=[{"name": "gw", "namespace": "infra", "sectionName": "http"}]) == [
        (
            0,
            f"{LABEL} admits no route from namespace 'team': listener 'http' admits routes from its own namespace "
            "only (allowedRoutes.namespaces.from: Same)",
        )
    ]
    assert problems(gw, parentRefs=[{"name": "gw", "namespace": "infra", "port": 8080}]) == [
        (0, f"{LABEL} admits no route from namespace 'team': no listener matches its sectionName or port")
    ]
    both = gateway(listener("a"), listener("b", hostname="x.example.com"))
    assert problems(both, hostnames=["y.example.com"]) == [
        (
            0,
            f"{LABEL} admits no route from namespace 'team': listener 'a' admits routes from its own namespace "
            "only (allowedRoutes.namespaces.from: Same); listener 'b' admits routes from its own namespace only "
            "(allowedRoutes.namespaces.from: Same)",
        )
    ]
    # one listener that admits is enough
    assert problems(gateway(listener("a"), admits({"from": "All"}, name="b"))) == []


def test_only_parent_refs_to_the_gateways_given_are_judged() -> None:
    gw = gateway(listener())
    refs = [
        "text",
        {"name": "other", "namespace": "infra"},
        {"name": "gw", "namespace": "elsewhere"},
        {"name": "gw"},  # the route's own namespace
        {"name": "gw", "namespace": "infra", "kind": "Service"},
        {"name": "gw", "namespace": "infra", "group": "example.com"},
        {"name": "gw", "namespace": "infra", "group": "gateway.networking.k8s.io", "kind": "Gateway"},
    ]
    assert [i for i, _ in problems(gw, parentRefs=refs)] == [6]
    assert (
        listener_problems(route(parentRefs=[{"name": "gw"}]), {}, [gateway(listener(), namespace="team")])
        == []
    )


# --- base HTTPRoutes the router refuses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ("text", "spec", "expected a mapping, got a string"),
        ({"rules": "all"}, "spec.rules", "expected a list of route rules (mappings), got a string"),
        ({"rules": ["x"]}, "spec.rules", "expected a list of route rules (mappings), got a list"),
        (
            {"rules": [{"backendRefs": [{"name": "ray-head-svc"}]}, {"matches": []}]},
            "spec.rules",
            "a base HTTPRoute routes one Ray dashboard, found 2 rules with backends; move other rules to an "
            "HTTPRoute of their own",
        ),
        (
            {"rules": [{"matches": {"path": {}}}]},
            "spec.rules[0].matches",
            "expected a list of mappings, got a mapping",
        ),
        ({"rules": [{"filters": ["x"]}]}, "spec.rules[0].filters", "expected a list of mappings, got a list"),
        (
            {"rules": [{"backendRefs": "svc"}]},
            "spec.rules[0].backendRefs",
            "expected a list of mappings, got a string",
        ),
        (
            {"rules": [{"matches": [{}, {}], "backendRefs": [{"name": "ray-head-svc"}]}]},
            "spec.rules[0].matches",
            "the dashboard rule takes at most one match: a URLRewrite with ReplacePrefixMatch needs exactly one "
            "PathPrefix match in its rule",
        ),
        (
            {"parentRefs": {"name": "gw"}, "rules": [{"backendRefs": [{"name": "ray-head-svc"}]}]},
            "spec.parentRefs",
            "expected a list of parent references, got a mapping",
        ),
        (
            {"parentRefs": ["gw"], "rules": [{"backendRefs": [{"name": "ray-head-svc"}]}]},
            "spec.parentRefs",
            "expected a list of parent references, got a list",
        ),
    ],
)
def test_a_base_route_that_cannot_be_copied_is_an_error_on_its_field(
    spec: Any, field: str, message: str
) -> None:
    obj = route(namespace=None)
    obj["spec"] = spec
    target, results = find_backend(obj, [HEAD])
    assert target is None
    assert [(r.resource, r.field, r.message, r.severity) for r in results] == [
        (ResourceRef(API, "HTTPRoute", "dash"), field, message, "error")
    ]


def test_a_redirect_only_rule_is_not_the_dashboard_rule() -> None:
    redirect = {"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}]}
    obj = route(rules=[redirect, {"backendRefs": [{"name": "ray-head-svc", "port": 8265}]}])
    target, results = find_backend(obj, [HEAD])
    assert results == []
    assert target is not None and (target.service, target.port) == ("ray-head-svc", 8265)
    assert target.route == {"backendRefs": [{"name": "ray-head-svc", "port": 8265}]}
    # with no rule at all, the only head is served on the dashboard port
    target, results = find_backend(route(parentRefs=[{"name": "gw"}]), [HEAD])
    assert results == [] and target is not None
    assert (target.service, target.port, target.parent_refs) == (
        "ray-head-svc",
        8265,
        ({"name": "gw", "namespace": "team"},),
    )


def test_only_a_service_of_the_core_group_is_a_service_backend() -> None:
    refs = [
        {"name": "a"},
        {"name": "b", "group": "core"},
        {"name": "c", "kind": "ConfigMap"},
        {"name": "d", "kind": "Service", "group": "example.com"},
        {"name": "e", "group": ""},
    ]
    (rule,) = read_http_route(route(rules=[{"backendRefs": refs}])).rules
    assert [(d.host, d.service, d.role) for d in rule.destinations] == [
        ("a", "a", "route"),
        ("b", "b", "route"),
        ("c", "", "route"),
        ("d", "", "route"),
        ("e", "e", "route"),
    ]


def test_a_match_that_is_no_mapping_does_not_hide_the_ones_after_it() -> None:
    rules = [{"matches": ["text", {"path": {"type": "Exact", "value": "/a"}}]}]
    (rule,) = read_http_route(route(rules=rules)).rules
    assert [(m.kind, m.value) for m in rule.matches] == [("exact", "/a")]


def test_a_base_parent_ref_without_a_namespace_takes_the_bases_or_is_an_error_without_one() -> None:
    refs = [{"name": "gw"}, {"name": "b", "namespace": "x"}]
    target, results = find_backend(route(namespace="infra", parentRefs=refs), [HEAD])
    assert results == [] and target is not None
    assert target.parent_refs == ({"name": "gw", "namespace": "infra"}, {"name": "b", "namespace": "x"})
    target, results = find_backend(
        route(namespace=None, parentRefs=[{"name": "b", "namespace": "x"}, {"name": "gw"}]), [HEAD]
    )
    assert target is None
    assert [(r.resource, r.field, r.message, r.severity) for r in results] == [
        (
            ResourceRef(API, "HTTPRoute", "dash"),
            "spec.parentRefs[1].namespace",
            "no namespace: a tenant's copy lives in the tenant's namespace and would look for the Gateway there; "
            "set the Gateway's namespace",
            "error",
        )
    ]


def test_with_two_workloads_the_backend_must_name_one_of_their_heads() -> None:
    other = {**HEAD, "metadata": {"name": "other"}}
    target, results = find_backend(
        route(rules=[{"backendRefs": [{"name": "other-head-svc"}]}]), [HEAD, other]
    )
    assert results == [] and target is not None and target.service == "other-head-svc"
    target, results = find_backend(route(rules=[{"backendRefs": [{"name": "web"}]}]), [HEAD, other])
    assert target is None
    assert [(r.field, r.message) for r in results] == [
        (
            "spec.rules[0].backendRefs[0].name",
            "routes to 'web', which is not the head service of a base Ray workload (none of other-head-svc, "
            "ray-head-svc found); set the backendRef's name to `<raycluster>-head-svc`",
        )
    ]
