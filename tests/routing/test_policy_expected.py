"""The route policy with the tenant spec's expectation: the tenant's own prefix, hosts and gateways.

This is what `ray-tenants check --config` and the patch check say of a tenant's route; each
expected finding (field path and message) is written out in full.
"""

from __future__ import annotations

from typing import Any

from krm_fn.routing.policy import Expected, check_route
from tests.routing.test_routing_rules import HEADS, dashboard, redirect, tenant, vs

OWN = Expected("/team/", ("ray.example.com",), ("infra/gw",))
HOST_MODE = Expected("/", ("team.example.com",), ("infra/gw",))


def on(obj: dict[str, Any], hosts: list[str], gateways: list[str]) -> dict[str, Any]:
    obj["spec"] = {"hosts": hosts, "gateways": gateways, **obj["spec"]}
    return obj


def found(obj: dict[str, Any], expected: Expected) -> list[tuple[tuple[str | int, ...], str]]:
    return [(f.path, f.message) for f in check_route(obj, HEADS, expected)]


def test_the_tenants_own_route_passes() -> None:
    assert found(on(tenant(), ["ray.example.com"], ["infra/gw"]), OWN) == []


def test_other_hosts_and_gateways_are_named_with_the_configured_ones() -> None:
    obj = on(tenant(), ["ray.example.com", "evil.example.com"], ["infra/gw", "infra/other"])
    assert found(obj, OWN) == [
        (
            ("spec", "hosts"),
            "serves host 'evil.example.com'; a tenant's route serves only the configured hosts "
            "(ray.example.com)",
        ),
        (
            ("spec", "gateways"),
            "bound to gateway 'infra/other'; a tenant's route is bound only to the configured gateways "
            "(infra/gw)",
        ),
    ]
    nothing = Expected("/team/", (), ())
    assert found(on(tenant(), ["ray.example.com"], ["infra/gw"]), nothing) == [
        (
            ("spec", "hosts"),
            "serves host 'ray.example.com'; a tenant's route serves only the configured hosts (none)",
        ),
        (
            ("spec", "gateways"),
            "bound to gateway 'infra/gw'; a tenant's route is bound only to the configured gateways (mesh)",
        ),
    ]


def test_another_tenants_prefix_and_exact_path_are_refused() -> None:
    obj = on(vs(redirect("/other", "/other/"), dashboard("/other/")), ["ray.example.com"], ["infra/gw"])
    assert found(obj, OWN) == [
        (
            ("spec", "http", 0, "match", 0, "uri", "exact"),
            "exact path '/other' is not the tenant's own '/team'",
        ),
        (
            ("spec", "http", 0, "redirect", "uri"),
            "redirects to '/other/'; a tenant's redirect goes to its own prefix '/team/'",
        ),
        (
            ("spec", "http", 1, "match", 0, "uri", "prefix"),
            "prefix '/other/' is not the tenant's own '/team/'",
        ),
    ]


def test_case_counts_unless_the_match_ignores_it() -> None:
    upper = on(vs(redirect("/Team", "/team/"), dashboard("/Team/")), ["ray.example.com"], ["infra/gw"])
    assert [m for _, m in found(upper, OWN)] == [
        "exact path '/Team' is not the tenant's own '/team'",
        "prefix '/Team/' is not the tenant's own '/team/'",
        "no redirect from '/Team' to '/Team/': add a rule with `match: [{uri: {exact: /Team}}]` and "
        "`redirect: {uri: /Team/}` (without it the dashboard at the bare path is a 404)",
    ]
    # a redirect whose exact match ignores case serves the bare path in any spelling
    folded = vs(
        {"match": [{"uri": {"exact": "/TEAM"}, "ignoreUriCase": True}], "redirect": {"uri": "/team/"}},
        {**dashboard("/team/"), "match": [{"uri": {"prefix": "/TEAM/"}, "ignoreUriCase": True}]},
    )
    assert found(on(folded, ["ray.example.com"], ["infra/gw"]), OWN) == []
    # one that heeds case does not redirect `/TEAM`; one to `/Team/` lands where only a folded prefix serves
    strict = vs(
        redirect("/team", "/team/"), {**dashboard("/team/"), "match": [{"uri": {"prefix": "/TEAM/"}}]}
    )
    landing = vs(redirect("/team", "/Team/"), dashboard("/team/"))
    assert [m for _, m in found(on(strict, ["ray.example.com"], ["infra/gw"]), OWN)] == [
        "prefix '/TEAM/' is not the tenant's own '/team/'",
        "no redirect from '/TEAM' to '/TEAM/': add a rule with `match: [{uri: {exact: /TEAM}}]` and "
        "`redirect: {uri: /TEAM/}` (without it the dashboard at the bare path is a 404)",
    ]
    assert [m for _, m in found(on(landing, ["ray.example.com"], ["infra/gw"]), OWN)] == [
        "redirects to '/Team/'; a tenant's redirect goes to its own prefix '/team/'",
        "no redirect from '/team' to '/team/': add a rule with `match: [{uri: {exact: /team}}]` and "
        "`redirect: {uri: /team/}` (without it the dashboard at the bare path is a 404)",
    ]


def test_on_a_host_of_its_own_the_whole_host_is_served_as_requested() -> None:
    whole = {"route": [{"destination": {"host": "ray-head-svc", "port": {"number": 8265}}}]}
    assert found(on(vs(whole), ["team.example.com"], ["infra/gw"]), HOST_MODE) == []
    assert (
        found(on(vs({**whole, "rewrite": {"uri": "/"}}), ["team.example.com"], ["infra/gw"]), HOST_MODE) == []
    )
    assert found(on(vs(dashboard("/", rewrite=None)), ["team.example.com"], ["infra/gw"]), HOST_MODE) == []
    rewritten = vs({**whole, "rewrite": {"uri": "/api/"}})
    assert found(on(rewritten, ["team.example.com"], ["infra/gw"]), HOST_MODE) == [
        (
            ("spec", "http", 0, "rewrite", "uri"),
            "rewrites the path to '/api/': on a host of its own the tenant's dashboard is served at '/' with "
            "the path as requested",
        )
    ]
    prefixed = vs(dashboard("/", rewrite="/x"))
    assert found(on(prefixed, ["team.example.com"], ["infra/gw"]), HOST_MODE) == [
        (
            ("spec", "http", 0, "rewrite", "uri"),
            "rewrites the path to '/x': on a host of its own the tenant's dashboard is served at '/' with "
            "the path as requested",
        )
    ]


def test_on_a_host_of_its_own_a_redirect_still_stays_home() -> None:
    away = vs({"redirect": {"uri": "/", "authority": "evil.example.com"}})
    assert found(on(away, ["team.example.com"], ["infra/gw"]), HOST_MODE) == [
        (
            ("spec", "http", 0, "redirect", "authority"),
            "redirects to host 'evil.example.com', which this route does not serve (team.example.com): a "
            "tenant's redirect stays on its own hosts",
        )
    ]
    elsewhere = vs({"redirect": {"uri": "/x/"}})
    assert found(on(elsewhere, ["team.example.com"], ["infra/gw"]), HOST_MODE) == [
        (
            ("spec", "http", 0, "redirect", "uri"),
            "redirects to '/x/'; a tenant's redirect goes to its own prefix '/'",
        )
    ]
