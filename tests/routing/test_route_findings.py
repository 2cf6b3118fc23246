"""What the route generation says about hosts, gateways and exportTo of the wrong type, and the
literal start the route reader takes from a regex: each expectation written out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import TenantsConfig
from krm_fn.results import Result
from krm_fn.routing import route_tenant
from krm_fn.routing.served import literal_prefix
from tests.routing.test_routing import REF, TEAM, target, vs


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"hosts": "text", "gateways": ["g"]}, "spec.hosts", "expected a list of strings, got a string"),
        (
            {"hosts": ["a", {"x": 1}], "gateways": ["g"]},
            "spec.hosts",
            "expected a list of strings, got a list holding a mapping",
        ),
        (
            {"hosts": ["h"], "gateways": ["g", 5]},
            "spec.gateways",
            "expected a list of strings, got a list holding a number",
        ),
        (
            {"hosts": ["h"], "gateways": ["g"], "exportTo": [".", 1]},
            "spec.exportTo",
            "expected a list of namespaces ('.', '*' or names), got a list holding a number",
        ),
        (
            {"hosts": ["h"], "gateways": ["g"], "exportTo": "ns"},
            "spec.exportTo",
            "expected a list of namespaces ('.', '*' or names), got a string",
        ),
    ],
)
def test_hosts_gateways_and_export_to_of_the_wrong_type_name_what_they_hold(
    spec: dict[str, Any], field: str, message: str
) -> None:
    assert route_tenant(vs([], **spec), target(), TEAM, TenantsConfig()) == [
        Result(message, resource=REF, field=field)
    ]


@pytest.mark.parametrize(
    ("regex", "start"),
    [
        ("/abc", "/abc"),
        ("/team/.*", "/team/"),
        ("^/x/.*", "/x/"),
        ("/aXb/.*", "/aXb/"),  # letters are literal, whatever they are
        ("/a\\.b", "/a.b"),  # an escaped dot is a dot
        ("/a\\d", "/a"),  # a class ends it
        ("/a\\", "/a"),
        ("/ab*", "/a"),  # a character that may be absent is not part of it
        ("/ab?", "/a"),
        ("/ab{2}", "/a"),
        ("/a*b", "/"),
        ("/ab+", "/ab"),
        ("/a\\.*", "/a"),
        ("/a[bc]", "/a"),
        ("/a(b)", "/a"),
        ("/a.", "/a"),
        ("(/a|/b)/.*", ""),
        ("(?i)/a/.*", ""),
    ],
)
def test_the_literal_start_of_a_regex(regex: str, start: str) -> None:
    assert literal_prefix(regex) == start
