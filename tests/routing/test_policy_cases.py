"""Route policy cases at the edges: other protocols, several destinations, case, paths ending in
`X`, hosts without a name, and overlaps across routes without hostnames. Findings written out whole.
"""

from __future__ import annotations

from typing import Any

from krm_fn.routing import check_route, check_routes, route_overlaps
from krm_fn.routing.policy import Expected
from tests.routing.test_routing_rules import HEADS, dashboard, redirect, tenant, vs

OWN = Expected("/team/", ("ray.example.com",), ("infra/gw",))
NOT_HEAD = "which is not the head service of a Ray workload in team; expected one of ray-head-svc"


def found(obj: dict[str, Any], expected: Expected | None = None) -> list[tuple[tuple[Any, ...], str]]:
    return [(f.path, f.message) for f in check_route(obj, HEADS, expected)]


def test_an_object_that_is_no_route_has_no_finding() -> None:
    assert check_route({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}, HEADS) == []


def test_a_tcp_rule_is_refused_and_only_its_namespace_is_checked_and_http_rules_after_it_too() -> None:
    obj = tenant()
    obj["spec"]["tcp"] = [
        {"route": [{"destination": {"host": "redis", "port": {"number": 6379}}}]},
        {"route": [{"destination": {"host": "db.other.svc.cluster.local"}}]},
    ]
    obj["spec"]["http"].append(
        {**dashboard("/team/"), "route": [{"destination": {"host": "web", "port": {"number": 8265}}}]}
    )
    tcp = "a tcp rule takes whole connections on its gateway, not a path: a tenant's route serves HTTP under its own prefix only"
    assert found(obj) == [
        (("spec", "http", 2, "route", 0, "destination", "host"), f"routes to 'web', {NOT_HEAD}"),
        (("spec", "tcp", 0), tcp),
        (("spec", "tcp", 1), tcp),
        (
            ("spec", "tcp", 1, "route", 0, "destination", "host"),
            "routes to 'db.other.svc.cluster.local' in namespace 'other'; a tenant's route must stay in its own "
            "namespace 'team'",
        ),
    ]


def test_every_destination_of_a_rule_is_checked() -> None:
    rule = dashboard("/team/")
    rule["route"] = [
        {"destination": {"host": "ray-head-svc.other.svc.cluster.local", "port": {"number": 8265}}},
        {"destination": {"host": "web", "port": {"number": 8265}}},
        {"destination": {"host": "ray-head-svc", "port": {"number": 80}}},
    ]
    assert found(vs(redirect("/team", "/team/"), rule)) == [
        (
            ("spec", "http", 1, "route", 0, "destination", "host"),
            "routes to 'ray-head-svc.other.svc.cluster.local' in namespace 'other'; a tenant's route must stay in "
            "its own namespace 'team'",
        ),
        (("spec", "http", 1, "route", 1, "destination", "host"), f"routes to 'web', {NOT_HEAD}"),
        (
            ("spec", "http", 1, "route", 2, "destination", "port", "number"),
            "expected the dashboard port 8265, got 80",
        ),
    ]


def test_the_configured_hosts_and_gateways_are_listed_in_full() -> None:
    two = Expected("/team/", ("a.example.com", "b.example.com"), ("infra/a", "infra/b"))
    obj = tenant()
    obj["spec"] = {"hosts": ["c.example.com"], "gateways": ["infra/c"], **obj["spec"]}
    assert found(obj, two) == [
        (
            ("spec", "hosts"),
            "serves host 'c.example.com'; a tenant's route serves only the configured hosts "
            "(a.example.com, b.example.com)",
        ),
        (
            ("spec", "gateways"),
            "bound to gateway 'infra/c'; a tenant's route is bound only to the configured gateways (infra/a, infra/b)",
        ),
    ]


def test_paths_ending_in_x_are_compared_as_written() -> None:
    box = Expected("/BOX/", ("ray.example.com",), ("mesh",))
    obj = vs(redirect("/BOX", "/BOX/"), dashboard("/BOX/"), hosts=["ray.example.com"])
    assert found(obj, box) == []
    other = vs(redirect("/BO", "/BOX/"), dashboard("/BOX/"), hosts=["ray.example.com"])
    assert found(other, box) == [
        (("spec", "http", 0, "match", 0, "uri", "exact"), "exact path '/BO' is not the tenant's own '/BOX'"),
        (
            ("spec", "http", 1),
            "no redirect from '/BOX' to '/BOX/': add a rule with `match: [{uri: {exact: /BOX}}]` and "
            "`redirect: {uri: /BOX/}` (without it the dashboard at the bare path is a 404)",
        ),
    ]


def test_a_prefix_rule_whose_rewrite_sets_no_path_is_named_at_the_rule() -> None:
    rule = dashboard("/team/", rewrite=None)
    rule["rewrite"] = {"authority": "dash"}
    assert found(vs(redirect("/team", "/team/"), rule)) == [
        (
            ("spec", "http", 1),
            "expected `rewrite: {uri: /}` on prefix '/team/', got None: the Ray dashboard and Jobs API answer at '/'",
        )
    ]


def test_on_its_own_host_a_rule_matching_headers_only_serves_the_whole_host() -> None:
    own = Expected("/", ("team.example.com",), ("mesh",))
    rule = {
        "match": [{"headers": {"x-team": {"exact": "team"}}}],
        "route": [{"destination": {"host": "ray-head-svc", "port": {"number": 8265}}}],
    }
    assert found(vs(rule, hosts=["team.example.com"]), own) == []
    assert found(vs(rule, hosts=["team.example.com"])) == [
        (
            ("spec", "http", 0, "match"),
            "this rule matches every path on its hosts; a tenant owns only its prefix (Istio orders "
            "VirtualServices on one host arbitrarily)",
        )
    ]


def test_a_redirect_to_its_own_host_in_capitals_stays_home() -> None:
    home = {
        "match": [{"uri": {"exact": "/team"}}],
        "redirect": {"uri": "/team/", "authority": "RAY.example.com"},
    }
    assert found(vs(home, dashboard("/team/"), hosts=["ray.example.com"])) == []
    away = {
        "match": [{"uri": {"exact": "/team"}}],
        "redirect": {"uri": "/team/", "authority": "x.example.com"},
    }
    assert found(vs(away, dashboard("/team/"), hosts=["a.example.com", "b.example.com"]))[0] == (
        ("spec", "http", 0, "redirect", "authority"),
        "redirects to host 'x.example.com', which this route does not serve (a.example.com, b.example.com): a "
        "tenant's redirect stays on its own hosts",
    )
    assert found(vs(away, dashboard("/team/")))[0] == (
        ("spec", "http", 0, "redirect", "authority"),
        "redirects to host 'x.example.com', which this route does not serve (no hosts): a tenant's redirect stays "
        "on its own hosts",
    )


def test_a_redirect_that_heeds_case_serves_only_the_spelling_it_names() -> None:
    upper = {**dashboard("/TEAM/"), "match": [{"uri": {"prefix": "/TEAM/"}, "ignoreUriCase": True}]}
    folded_exact = {
        "match": [{"uri": {"exact": "/Team"}, "ignoreUriCase": True}],
        "redirect": {"uri": "/TEAM/"},
    }
    assert found(vs(folded_exact, upper)) == []
    strict_exact = redirect("/team", "/TEAM/")
    assert found(vs(strict_exact, upper)) == [
        (
            ("spec", "http", 1),
            "no redirect from '/TEAM' to '/TEAM/': add a rule with `match: [{uri: {exact: /TEAM}}]` and "
            "`redirect: {uri: /TEAM/}` (without it the dashboard at the bare path is a 404)",
        )
    ]


# --- overlaps across routes ------------------------------------------------------------------------


def http_route(
    name: str, namespace: str, prefix: str, hostnames: list[str] | None = None, gw: str = "gw"
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "parentRefs": [{"name": gw, "namespace": "infra"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "backendRefs": [{"name": "ray-head-svc", "port": 8265}],
            }
        ],
    }
    if hostnames is not None:
        spec["hostnames"] = hostnames
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def overlaps(routes: list[dict[str, Any]], mine: list[bool] | None = None) -> list[tuple[int, str]]:
    return [(o.index, o.finding.message) for o in route_overlaps(routes, mine)]


GAPI = "the Gateway API gives the more specific match, then the oldest route, the request"


def test_a_route_without_hostnames_meets_every_host_of_its_gateway_only() -> None:
    anywhere = http_route("a", "a", "/a/")
    named = http_route("b", "b", "/a/", ["ray.example.com"])
    assert overlaps([anywhere, named]) == [
        (
            1,
            f"prefix '/a/' is the same as '/a/' of HTTPRoute/a/a on host 'ray.example.com' and gateway 'infra/gw': "
            f"{GAPI}",
        )
    ]
    assert overlaps([anywhere, http_route("b", "b", "/a/", ["ray.example.com"], gw="other")]) == []
    assert overlaps([anywhere, http_route("b", "b", "/a/")]) == [
        (1, f"prefix '/a/' is the same as '/a/' of HTTPRoute/a/a on host '*' and gateway 'infra/gw': {GAPI}")
    ]


def test_overlaps_between_routes_that_are_no_tenants_do_not_hide_the_tenants() -> None:
    web = [http_route(f"web{i}", "web", "/", ["ray.example.com"]) for i in range(2)]
    dash = http_route("dash", "a", "/a/", ["ray.example.com"])
    assert [i for i, _ in overlaps([*web, dash], [False, False, True])] == [0, 1]


def test_a_tcp_rule_first_does_not_hide_the_http_rules_after_it() -> None:
    first = vs(*tenant("/a/")["spec"]["http"], namespace="a", hosts=["ray.example.com"])
    first["spec"]["http"].insert(0, {"match": [{"port": 1}], "route": [{"destination": {"host": "x"}}]})
    first["spec"] = {"tcp": [{"route": [{"destination": {"host": "x"}}]}], **first["spec"]}
    second = vs(*tenant("/a/")["spec"]["http"], namespace="b", name="two", hosts=["ray.example.com"])
    assert [i for i, _ in overlaps([first, second])] == [1]
    assert [o.index for o in check_routes([first, second], HEADS, [True, True])][-1] == 1
