"""The route policy, rule by rule, on hand-written VirtualServices: each finding's field and words.

check_route is what `ray-tenants check` reports about a VirtualService; route_overlaps is the
finding about two of them; is_tenant_route decides which ones the policy looks at at all. Every
expected finding is written out in full.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.routing import (
    RouteFinding,
    RouteOverlap,
    check_route,
    is_tenant_route,
    read_virtual_service,
    route_overlaps,
)
from krm_fn.routing.served import service_of

HEADS = {"team": {"ray-head-svc": {8265}}}


def vs(*http: Any, namespace: str | None = "team", name: str = "dash", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": meta,
        "spec": {**spec, "http": list(http)},
    }


def redirect(exact: str, to: str) -> dict[str, Any]:
    return {"match": [{"uri": {"exact": exact}}], "redirect": {"uri": to}}


def dashboard(
    prefix: str, host: Any = "ray-head-svc", port: Any = 8265, rewrite: Any = "/"
) -> dict[str, Any]:
    rule: dict[str, Any] = {"match": [{"uri": {"prefix": prefix}}]}
    if rewrite is not None:
        rule["rewrite"] = {"uri": rewrite}
    dest: dict[str, Any] = {"host": host}
    if port is not None:
        dest["port"] = {"number": port}
    rule["route"] = [{"destination": dest}]
    return rule


def tenant(prefix: str = "/team/", **rule: Any) -> dict[str, Any]:
    """A tenant's route as the function writes it, for `prefix`."""
    return vs(redirect(prefix[:-1], prefix), dashboard(prefix, **rule))


RULE = ("spec", "http", 1)
HOST = (*RULE, "route", 0, "destination", "host")
PORT = (*RULE, "route", 0, "destination", "port", "number")
PREFIX = (*RULE, "match", 0, "uri", "prefix")


# --- which VirtualServices are tenant routes -------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "heads", "generated", "expected"),
    [
        (tenant(), {}, False, True),  # a head service by KubeRay's naming
        (tenant(host="dash-svc"), {"team": {"dash-svc": {8265}}}, False, True),  # a known head
        (tenant(host="dash-svc.ml"), {"ml": {"dash-svc": {8265}}}, False, True),  # in another namespace
        (tenant(host="dash-svc.ml"), {"team": {"dash-svc": {8265}}}, False, False),
        (tenant(host="web"), HEADS, False, False),
        (tenant(host="web"), HEADS, True, True),  # the function wrote it
        (tenant(host=""), {"team": {"": {1}}}, False, False),
        ({**tenant(), "kind": "Gateway"}, HEADS, True, False),
        ({**tenant(), "spec": "text"}, HEADS, False, False),
    ],
)
def test_which_virtual_services_serve_a_ray_dashboard(
    obj: dict[str, Any], heads: Any, generated: bool, expected: bool
) -> None:
    assert is_tenant_route(obj, heads, generated) is expected


def test_a_route_rule_without_a_destination_is_no_dashboard_route() -> None:
    obj = vs({"route": ["text", {"destination": "x"}, {}]})
    assert is_tenant_route(obj, HEADS) is False


# --- check_route ------------------------------------------------------------------------------


def test_the_route_the_function_writes_passes() -> None:
    assert check_route(tenant(), HEADS) == []
    assert check_route(tenant(host="ray-head-svc.team.svc.cluster.local"), HEADS) == []


def test_a_rule_that_matches_every_path_is_refused_once() -> None:
    everything = {"route": [{"destination": {"host": "ray-head-svc"}}]}
    headers_only = {"match": [{"headers": {"x": {"exact": "1"}}}], **everything}
    message = (
        "this rule matches every path on its hosts; a tenant owns only its prefix "
        "(Istio orders VirtualServices on one host arbitrarily)"
    )
    assert check_route(vs(everything, headers_only), HEADS) == [
        RouteFinding(("spec", "http", 0, "match"), message),
        RouteFinding(("spec", "http", 1, "match"), message),
    ]


def test_a_redirect_without_a_uri_match_is_a_catch_all_too() -> None:
    """It answers every path on the shared host with a redirect: every other tenant's requests too."""
    assert check_route(vs(redirect("/team", "/team/"), {"redirect": {"uri": "/x/"}}), HEADS) == [
        RouteFinding(
            ("spec", "http", 1, "match"),
            "this rule matches every path on its hosts; a tenant owns only its prefix "
            "(Istio orders VirtualServices on one host arbitrarily)",
        )
    ]


def test_the_catch_all_prefix_is_refused() -> None:
    assert check_route(vs(dashboard("/")), HEADS) == [
        RouteFinding(
            ("spec", "http", 0, "match", 0, "uri", "prefix"),
            "prefix '/' catches every other tenant's traffic",
        )
    ]


def test_a_prefix_without_its_trailing_slash_is_refused() -> None:
    assert check_route(vs(redirect("/team", "/team/"), dashboard("/team")), HEADS) == [
        RouteFinding(
            PREFIX,
            "prefix '/team' does not end in '/': it also matches '/team-2/' and sends '//api' upstream; "
            "use '/team/' with an exact redirect from '/team'",
        )
    ]


@pytest.mark.parametrize(
    "first",
    [
        None,
        redirect("/team", "/other/"),  # a redirect elsewhere does not count
        redirect("/other", "/team/"),
    ],
)
def test_a_prefix_needs_the_exact_redirect_to_it(first: dict[str, Any] | None) -> None:
    rules = [first] if first else []
    findings = check_route(vs(*rules, dashboard("/team/")), HEADS)
    index = len(rules)
    assert findings == [
        RouteFinding(
            ("spec", "http", index),
            "no redirect from '/team' to '/team/': add a rule with `match: [{uri: {exact: /team}}]` and "
            "`redirect: {uri: /team/}` (without it the dashboard at the bare path is a 404)",
        )
    ]


def test_a_regex_redirect_is_no_exact_redirect_and_a_regex_is_refused() -> None:
    regex = {"match": [{"uri": {"regex": "/team"}}], "redirect": {"uri": "/team/"}}
    findings = check_route(vs(regex, dashboard("/team/")), HEADS)
    assert [f.path for f in findings] == [
        ("spec", "http", 0, "match", 0, "uri", "regex"),
        ("spec", "http", 1),
    ]
    assert findings[0].message == (
        "regex '/team': a tenant's route matches only its own prefix (`exact` and `prefix`); "
        "a regex can take any tenant's paths"
    )
    assert findings[1].message.startswith("no redirect from '/team' to '/team/'")


def test_a_redirect_in_any_match_of_a_rule_counts() -> None:
    two = {"match": [{"uri": {"exact": "/old"}}, {"uri": {"exact": "/team"}}], "redirect": {"uri": "/team/"}}
    assert check_route(vs(two, dashboard("/team/")), HEADS) == []


@pytest.mark.parametrize(
    ("rewrite", "path", "shown"),
    [(None, RULE, "None"), ("/team/", (*RULE, "rewrite", "uri"), "'/team/'")],
)
def test_the_prefix_must_be_rewritten_to_the_root(rewrite: Any, path: Any, shown: str) -> None:
    assert check_route(tenant(rewrite=rewrite), HEADS) == [
        RouteFinding(
            path,
            f"expected `rewrite: {{uri: /}}` on prefix '/team/', got {shown}: "
            "the Ray dashboard and Jobs API answer at '/'",
        )
    ]


def test_a_route_into_another_namespace_is_refused_and_nothing_else_said_about_it() -> None:
    assert check_route(tenant(host="ray-head-svc.ml.svc.cluster.local", port=1), HEADS) == [
        RouteFinding(
            HOST,
            "routes to 'ray-head-svc.ml.svc.cluster.local' in namespace 'ml'; a tenant's route must stay "
            "in its own namespace 'team'",
        )
    ]


@pytest.mark.parametrize(
    ("host", "heads", "expected"),
    [
        ("web", HEADS, "one of ray-head-svc"),
        ("web", {"team": {"b-head-svc": {8265}, "a-head-svc": {8265}}}, "one of a-head-svc, b-head-svc"),
        ("web", {}, "a `<raycluster>-head-svc`"),
        ("", {}, "a `<raycluster>-head-svc`"),
    ],
)
def test_a_route_to_what_is_not_a_head_service_names_the_heads(host: str, heads: Any, expected: str) -> None:
    findings = check_route(tenant(host=host), heads)
    assert findings[0] == RouteFinding(
        HOST,
        f"routes to {host!r}, which is not the head service of a Ray workload in team; expected {expected}",
    )


def test_without_a_namespace_the_message_says_its_namespace() -> None:
    obj = tenant(host="web")
    del obj["metadata"]["namespace"]
    assert check_route(obj, {}) == [
        RouteFinding(
            HOST,
            "routes to 'web', which is not the head service of a Ray workload in its namespace; "
            "expected a `<raycluster>-head-svc`",
        )
    ]


def test_a_known_head_in_a_namespace_needs_no_kuberay_name() -> None:
    assert check_route(tenant(host="dash"), {"team": {"dash": {8265}}}) == []
    # where the namespace's heads are known, a KubeRay-style name is not enough
    assert [f.path for f in check_route(tenant(host="x-head-svc"), HEADS)] == [HOST]


@pytest.mark.parametrize(
    ("port", "heads", "path", "message"),
    [
        (8080, HEADS, PORT, "expected the dashboard port 8265, got 8080"),
        (None, HEADS, (*RULE, "route", 0, "destination"), "expected the dashboard port 8265, got None"),
        (
            8265,
            {"team": {"ray-head-svc": {9000, 80}}},
            PORT,
            "expected the dashboard port 80 or 9000, got 8265",
        ),
        (8265, {}, None, None),
        (8265.0, {}, None, None),
    ],
)
def test_the_route_goes_to_the_dashboard_port(port: Any, heads: Any, path: Any, message: Any) -> None:
    expected = [RouteFinding(path, message)] if message else []
    assert check_route(tenant(port=port), heads) == expected


def test_every_destination_of_the_rule_is_checked() -> None:
    obj = tenant()
    obj["spec"]["http"][1]["route"].append({"destination": {"host": "ray-head-svc", "port": {"number": 1}}})
    assert check_route(obj, HEADS) == [
        RouteFinding(
            (*RULE, "route", 1, "destination", "port", "number"), "expected the dashboard port 8265, got 1"
        )
    ]


def test_rules_and_matches_of_the_wrong_shape_are_skipped() -> None:
    obj = vs("text", {"match": ["text", {"uri": {"prefix": 5}}], "route": []})
    assert check_route(obj, HEADS) == []
    assert check_route({**tenant(), "spec": {"http": "text"}}, HEADS) == []


# --- overlaps ------------------------------------------------------------------------------------


def test_overlapping_prefixes_on_one_host_and_gateway_are_one_finding_per_pair() -> None:
    gw: dict[str, Any] = {"hosts": ["ray.example.com"], "gateways": ["istio-system/gw"]}
    first = vs(redirect("/a", "/a/"), dashboard("/a/"), namespace="a", **gw)
    second = vs(dashboard("/a/b/"), {"match": [{"uri": {"prefix": "/a/b/c/"}}]}, namespace="b", **gw)
    apart = vs(dashboard("/z/"), namespace="z", **gw)
    assert route_overlaps([first, apart, second]) == [
        RouteOverlap(
            2,
            RouteFinding(
                ("spec", "http", 0, "match", 0, "uri", "prefix"),
                "prefix '/a/b/' is nested in '/a/' of VirtualService/a/dash on host 'ray.example.com' and "
                "gateway 'istio-system/gw': Istio merges them in an undefined order",
            ),
        )
    ]


def test_an_earlier_longer_prefix_is_contained_by_the_later_one() -> None:
    deep = vs(dashboard("/a/b/"), namespace="deep", hosts=["h"])
    wide = vs(dashboard("/a/"), namespace="wide", hosts=["h"])
    assert route_overlaps([deep, wide]) == [
        RouteOverlap(
            1,
            RouteFinding(
                ("spec", "http", 0, "match", 0, "uri", "prefix"),
                "prefix '/a/' contains '/a/b/' of VirtualService/deep/dash on host 'h' and gateway 'mesh': "
                "Istio merges them in an undefined order",
            ),
        )
    ]


def test_prefixes_overlap_only_on_a_shared_host_and_gateway() -> None:
    one = vs(dashboard("/a/"), namespace="one", hosts=["h"], gateways=["gw"])
    two = vs(dashboard("/a/"), namespace="two", hosts=["h"], gateways=["gw"])
    # `gw` is each VirtualService's own namespace's gateway: one/gw and two/gw
    assert route_overlaps([one, two]) == []
    other_host = vs(dashboard("/a/"), namespace="two", hosts=["other"], gateways=["one/gw"])
    assert route_overlaps([one, other_host]) == []
    same = vs(dashboard("/a/"), namespace="two", hosts=["h"], gateways=["one/gw"])
    assert [(o.index, o.finding.message) for o in route_overlaps([one, same])] == [
        (
            1,
            "prefix '/a/' is the same as '/a/' of VirtualService/one/dash on host 'h' and gateway 'one/gw': "
            "Istio merges them in an undefined order",
        )
    ]


def test_a_route_is_read_with_every_host_gateway_and_match_of_each_rule() -> None:
    obj = vs(
        {"match": [{"uri": {"exact": "/x"}}, {"uri": {"prefix": "/x/"}}]},
        "text",
        {"match": "text"},
        namespace="ns",
        hosts=["h1", "h2"],
        gateways=["gw", "mesh", "other/gw", 5],
    )
    route = read_virtual_service(obj)
    assert (route.hosts, route.gateways) == (("h1", "h2"), ("ns/gw", "mesh", "other/gw"))
    assert [(r.path, [(m.kind, m.value, m.path) for m in r.matches]) for r in route.rules] == [
        (
            ("spec", "http", 0),
            [
                ("exact", "/x", ("spec", "http", 0, "match", 0, "uri", "exact")),
                ("prefix", "/x/", ("spec", "http", 0, "match", 1, "uri", "prefix")),
            ],
        ),
        (("spec", "http", 2), []),  # the rule that is no mapping is left out, its index kept
    ]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("svc", ("svc", "home")),
        ("svc.ns", ("svc", "ns")),
        ("svc.ns.svc.cluster.local", ("svc", "ns")),
        ("", ("", "home")),
        (None, ("", "home")),
        (5, ("", "home")),
    ],
)
def test_service_of_a_destination_host(host: Any, expected: tuple[str, str]) -> None:
    assert service_of(host, "home") == expected
