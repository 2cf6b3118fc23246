"""What a route serves: the VirtualService reader, gateway names, regex literal starts, and the
overlap of exact paths, prefixes, regexes and case-insensitive matches.

Oracles are independent of the code: Istio's gateway resolution written out as a table, Python's
`re` for what a regex matches, and a pairwise comparison for overlaps.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krm_fn.results import ResourceRef
from krm_fn.routing import (
    Claim,
    Destination,
    Match,
    Redirect,
    Rewrite,
    Route,
    Rule,
    find_overlaps,
    normalize_gateway,
    read_virtual_service,
    served_overlaps,
)
from krm_fn.routing.served import literal_prefix

# as Istio resolves a VirtualService's gateway names (pilot's resolveGatewayName)
GATEWAYS = [
    ("gw", "ns/gw"),
    ("./gw", "ns/gw"),
    ("other/gw", "other/gw"),
    ("gw.other.svc.cluster.local", "other/gw"),
    ("gw.other", "other/gw"),
    ("mesh", "mesh"),
]


@pytest.mark.parametrize(("name", "resolved"), GATEWAYS)
def test_gateway_names_resolve_as_istio_resolves_them(name: str, resolved: str) -> None:
    assert normalize_gateway(name, "ns") == resolved


def test_a_virtual_service_as_what_it_serves() -> None:
    vs: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "dash", "namespace": "team"},
        "spec": {
            "hosts": ["Ray.Example.com"],
            "gateways": ["gw", "gw.istio.svc.cluster.local"],
            "http": [
                {"match": [{"uri": {"exact": "/team"}}], "redirect": {"uri": "/team/", "authority": "x.org"}},
                {
                    "match": [
                        {"uri": {"prefix": "/team/"}, "ignoreUriCase": True, "gateways": ["mesh"]},
                        {"headers": {}},
                    ],
                    "rewrite": {"uri": "/"},
                    "route": [{"destination": {"host": "head", "port": {"number": 8265}}}],
                    "mirror": {"host": "copy.other"},
                    "mirrors": [{"destination": {"host": "copy2.other.svc.cluster.local"}}],
                },
                {"route": [{"destination": {"host": "web"}}]},
                "not a rule",
            ],
            "tcp": [{"route": [{"destination": {"host": "db.other", "port": {"number": 5432}}}]}],
        },
    }
    rule1 = ("spec", "http", 1)
    assert read_virtual_service(vs) == Route(
        ResourceRef("networking.istio.io/v1", "VirtualService", "dash", "team"),
        "team",
        ("ray.example.com",),
        ("team/gw", "istio/gw"),
        (
            Rule(
                ("spec", "http", 0),
                matches=(Match("exact", "/team", ("spec", "http", 0, "match", 0, "uri", "exact")),),
                redirect=Redirect("/team/", "x.org", ("spec", "http", 0, "redirect")),
            ),
            Rule(
                rule1,
                matches=(
                    Match("prefix", "/team/", (*rule1, "match", 0, "uri", "prefix"), True, ("mesh",)),
                    Match("any", "", (*rule1, "match", 1)),
                ),
                destinations=(
                    Destination("head", "head", "team", 8265, (*rule1, "route", 0, "destination")),
                    Destination("copy.other", "copy", "other", None, (*rule1, "mirror"), "mirror"),
                    Destination(
                        "copy2.other.svc.cluster.local",
                        "copy2",
                        "other",
                        None,
                        (*rule1, "mirrors", 0, "destination"),
                        "mirror",
                    ),
                ),
                rewrite=Rewrite("/", None, (*rule1, "rewrite")),
            ),
            Rule(
                ("spec", "http", 2),
                destinations=(
                    Destination("web", "web", "team", None, ("spec", "http", 2, "route", 0, "destination")),
                ),
            ),
            Rule(
                ("spec", "tcp", 0),
                "tcp",
                destinations=(
                    Destination(
                        "db.other", "db", "other", 5432, ("spec", "tcp", 0, "route", 0, "destination")
                    ),
                ),
            ),
        ),
    )


def test_no_gateways_is_the_mesh() -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "a"},
        "spec": {},
    }
    assert read_virtual_service(vs).gateways == ("mesh",)


@pytest.mark.parametrize(
    ("regex", "start"),
    [
        ("/mlops/.*", "/mlops/"),
        ("^/mlops/.*", "/mlops/"),
        ("/mlops\\.v1/.*", "/mlops.v1/"),
        ("/mlops/?", "/mlops"),  # the slash may be absent
        ("/ml+ops/", "/ml"),
        ("/a[bc]/", "/a"),
        ("(/research|/mlops)/.*", ""),
        ("/a|/b", ""),
        ("(?i)/mlops/.*", ""),
        ("\\d+/x", ""),
        (".*", ""),
    ],
)
def test_the_literal_start_of_a_regex(regex: str, start: str) -> None:
    assert literal_prefix(regex) == start


PIECES = st.sampled_from(
    ["/", "a", "B", "-", "\\.", ".", ".*", "[a-z]+", "x?", "y*", "(a|b)", "z{1,2}", "\\d", "(c)"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=6).map("".join), st.data())
def test_every_path_a_regex_matches_starts_with_its_literal_start(regex: str, data: st.DataObject) -> None:
    """Soundness: the overlap rule never misses a path a regex takes."""
    path = data.draw(st.from_regex(re.compile(regex), fullmatch=True))
    assert path.startswith(literal_prefix(regex))


KINDS = st.sampled_from(["prefix", "exact"])
VALUES = st.lists(st.sampled_from(["/", "a", "A", "b"]), min_size=1, max_size=4).map(
    lambda p: "/" + "".join(p)
)


def meet(a: Claim[int], b: Claim[int]) -> bool:
    """Is there a path both claims match? Pairwise, from what prefix and exact mean."""
    x, y = (a.prefix.lower(), b.prefix.lower()) if a.ignore_case or b.ignore_case else (a.prefix, b.prefix)
    if a.kind == b.kind == "exact":
        return x == y
    if a.kind == "exact":
        return x.startswith(y)
    if b.kind == "exact":
        return y.startswith(x)
    return x.startswith(y) or y.startswith(x)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(KINDS, VALUES, st.booleans()), max_size=10))
def test_overlaps_of_exact_paths_and_prefixes_in_any_case(claims: list[tuple[Any, str, bool]]) -> None:
    entries = [Claim(v, i, (), kind, ic) for i, (kind, v, ic) in enumerate(claims)]
    found = {(o.later.owner, o.earlier.owner) for o in find_overlaps(entries)}
    expected = {(j, i) for j in range(len(entries)) for i in range(j) if meet(entries[i], entries[j])}
    assert found == expected


def route(name: str, *matches: Match, gateways: tuple[str, ...] = ("gw/gw",)) -> Route:
    rules = tuple(Rule(("spec", "http", i), matches=(m,)) for i, m in enumerate(matches))
    return Route(ResourceRef("v1", "VirtualService", name, name), name, ("h",), gateways, rules)


def test_a_whole_segment_prefix_is_its_path_and_what_is_under_it() -> None:
    """Gateway API's PathPrefix `/t` matches `/t` and `/t/x`, not `/tx`: no overlap with `/tx/`."""
    segments = route("a", Match("path-prefix", "/t", ("p",)))
    others = [
        route("b", Match("prefix", "/tx/", ("q",))),
        route("c", Match("exact", "/t", ("q",))),
        route("d", Match("prefix", "/t/x/", ("q",))),
    ]
    found = served_overlaps([segments, *others], [True] * 4)
    assert sorted(o.index for o in found) == [2, 3]


def test_a_match_bound_to_its_own_gateways_meets_only_routes_there() -> None:
    a = route("a", Match("prefix", "/t/", ("p",)))
    elsewhere = route("b", Match("prefix", "/t/", ("q",), gateways=("other/gw",)))
    there = route("c", Match("prefix", "/t/", ("q",), gateways=("gw/gw",)), gateways=("other/gw",))
    assert [o.index for o in served_overlaps([a, elsewhere], [True, True])] == []
    assert [o.index for o in served_overlaps([a, there], [True, True])] == [1]


def test_two_routes_that_are_no_tenants_are_not_compared() -> None:
    a, b = route("a", Match("prefix", "/t/", ("p",))), route("b", Match("prefix", "/t/", ("q",)))
    assert served_overlaps([a, b], [False, False]) == []
    (only,) = served_overlaps([a, b], [True, False])
    assert (only.index, only.finding.severity) == (1, "warning")
    (only,) = served_overlaps([a, b], [False, True])
    assert (only.index, only.finding.severity) == (0, "warning")
