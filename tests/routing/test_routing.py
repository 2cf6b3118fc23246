"""Istio routing, unit by unit: which head a base VirtualService serves, and the tenant's two rules.

Every expectation here is written out by hand (the whole list of findings, the whole rule), so
that a changed message, field path, resource or rule shows up as a failure.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from krm_fn.config import Tenant, TenantsConfig
from krm_fn.results import ResourceRef, Result
from krm_fn.routing import HeadTarget, find_target, is_virtual_service, route_tenant

VS_API = "networking.istio.io/v1"
REF = ResourceRef(VS_API, "VirtualService", "dashboard", "ns")
TEAM = Tenant("team", "/team/")


def raycluster(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {"headGroupSpec": {"template": {"spec": {}}}},
    }


RC = raycluster("rc")
TWO = [raycluster("a"), raycluster("b")]


def vs(http: Any = None, **spec: Any) -> dict[str, Any]:
    body = dict(spec)
    if http is not None:
        body["http"] = http
    return {
        "apiVersion": VS_API,
        "kind": "VirtualService",
        "metadata": {"name": "dashboard", "namespace": "ns"},
        "spec": body,
    }


def route_to(host: Any, **dest: Any) -> dict[str, Any]:
    return {"route": [{"destination": {"host": host, **dest}}]}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService"}, True),
        ({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService"}, True),
        ({"apiVersion": "example.com/v1", "kind": "VirtualService"}, False),
        ({"apiVersion": "networking.istio.io.example.com/v1", "kind": "VirtualService"}, False),
        ({"kind": "VirtualService"}, False),
        ({"apiVersion": 1, "kind": "VirtualService"}, False),
        ({"apiVersion": "networking.istio.io/v1", "kind": "Gateway"}, False),
        ({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule"}, False),
    ],
)
def test_only_istio_virtual_services_are_routed(obj: dict[str, Any], expected: bool) -> None:
    assert is_virtual_service(obj) is expected


# --- find_target ------------------------------------------------------------------------


def test_a_vs_without_spec_routes_the_only_workload_on_the_default_port() -> None:
    obj = vs()
    del obj["spec"]
    assert find_target(obj, [RC]) == (HeadTarget("rc-head-svc", 8265, {}), [])


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ("text", "spec", "expected a mapping"),
        (["a"], "spec", "expected a mapping"),
        ({"http": "text"}, "spec.http", "expected a list of HTTP routes"),
        ({"http": {"route": []}}, "spec.http", "expected a list of HTTP routes"),
        ({"http": [route_to("rc-head-svc"), "text"]}, "spec.http", "expected a list of HTTP routes"),
        ({"http": ["text"]}, "spec.http", "expected a list of HTTP routes"),
    ],
)
def test_malformed_spec_is_one_error_on_its_field(spec: Any, field: str, message: str) -> None:
    obj = {**vs(), "spec": spec}
    assert find_target(obj, [RC]) == (None, [Result(message, resource=REF, field=field)])


def test_redirect_only_rules_are_skipped_the_dashboard_route_is_the_template() -> None:
    redirect = {"match": [{"uri": {"exact": "/ray"}}], "redirect": {"uri": "/ray/"}}
    dashboard = route_to("b-head-svc", port={"number": 8080})
    target, results = find_target(vs([redirect, dashboard]), TWO)
    assert results == []
    assert target == HeadTarget("b-head-svc", 8080, dashboard)


TOO_MANY = (
    "a base VirtualService routes one Ray dashboard, found 2 HTTP routes; "
    "move other routes to a VirtualService of their own"
)


@pytest.mark.parametrize(
    "http",
    [
        # a rule with neither redirect nor route (directResponse) is a route of its own
        [route_to("rc-head-svc"), {"directResponse": {"status": 404}}],
        # a rule with a redirect and a route is a route, not a redirect-only rule
        [{"redirect": {"uri": "/x/"}, **route_to("rc-head-svc")}, route_to("rc-head-svc")],
        [route_to("rc-head-svc"), route_to("rc-head-svc")],
    ],
)
def test_more_than_one_route_is_refused(http: list[Any]) -> None:
    assert find_target(vs(http), [RC]) == (None, [Result(TOO_MANY, resource=REF, field="spec.http")])


@pytest.mark.parametrize(
    ("http", "workloads", "message", "field"),
    [
        (
            [],
            TWO,
            "names not the head service of a base Ray workload (none of a-head-svc, b-head-svc found)",
            "spec.http[0].route[0].destination.host",
        ),
        (
            [],
            [],
            "names not the head service of a base Ray workload (no Ray workload found)",
            "spec.http[0].route[0].destination.host",
        ),
        (
            [{"redirect": {"uri": "/r/"}}, route_to("c-head-svc")],
            TWO,
            "routes to 'c-head-svc', which is not the head service of a base Ray workload "
            "(none of a-head-svc, b-head-svc found)",
            "spec.http[1].route[0].destination.host",
        ),
        (
            [route_to("a-head-svc.team.svc.cluster")],
            [],
            "routes to 'a-head-svc.team.svc.cluster', which is not the head service of a base Ray "
            "workload (no Ray workload found)",
            "spec.http[0].route[0].destination.host",
        ),
        (
            # the host is split at the first dot only: the short name is what counts
            [route_to("a head svc")],
            TWO,
            "routes to 'a head svc', which is not the head service of a base Ray workload "
            "(none of a-head-svc, b-head-svc found)",
            "spec.http[0].route[0].destination.host",
        ),
    ],
)
def test_a_route_to_no_known_head_is_an_error_naming_the_host(
    http: list[Any], workloads: list[dict[str, Any]], message: str, field: str
) -> None:
    expected = f"{message}; set the route's destination host to `<raycluster>-head-svc`"
    assert find_target(vs(http), workloads) == (None, [Result(expected, resource=REF, field=field)])


@pytest.mark.parametrize(
    "host",
    ["b-head-svc", "b-head-svc.ns", "b-head-svc.ns.svc.cluster.local", "b-head-svc.other.svc.example.org"],
)
def test_the_short_name_before_the_first_dot_picks_the_head(host: str) -> None:
    target, results = find_target(vs([route_to(host)]), TWO)
    assert results == []
    assert target is not None and target.service == "b-head-svc"


@pytest.mark.parametrize(
    "route",
    [
        {"match": [{"uri": {"prefix": "/"}}]},  # no route list at all
        {"route": []},
        {"route": [{"destination": {"host": "elsewhere"}}]},
    ],
)
def test_with_one_workload_any_destination_routes_to_it(route: dict[str, Any]) -> None:
    assert find_target(vs([route]), [RC]) == (HeadTarget("rc-head-svc", 8265, route), [])


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ({"route": {"destination": {"host": "x"}}}, "spec.http[0].route"),  # a mapping where the list belongs
        ({"route": ["text"]}, "spec.http[0].route[0]"),
        ({"route": [{"destination": "text"}]}, "spec.http[0].route[0].destination"),
        ({"route": [{"destination": {"host": 5}}]}, "spec.http[0].route[0].destination.host"),
        (
            {"route": [{"destination": {"host": "elsewhere", "port": "text"}}]},
            "spec.http[0].route[0].destination.port",
        ),
    ],
)
def test_a_route_of_the_wrong_shape_is_an_error_on_its_field(route: dict[str, Any], field: str) -> None:
    # even with one workload to route to: a malformed base route is never guessed at
    target, results = find_target(vs([route]), [RC])
    assert target is None
    assert [(r.field, r.severity) for r in results] == [(field, "error")]


@pytest.mark.parametrize("port", [1, 80, 65535])
def test_the_routes_port_is_kept(port: int) -> None:
    target, results = find_target(vs([route_to("rc-head-svc", port={"number": port})]), [RC])
    assert results == [] and target is not None and target.port == port


@pytest.mark.parametrize("port", [0, -1, 65536, 65537, True, False, "80", 80.0])
def test_a_bad_port_is_an_error_on_its_field(port: Any) -> None:
    http = [{"redirect": {"uri": "/r/"}}, route_to("rc-head-svc", port={"number": port})]
    assert find_target(vs(http), [RC]) == (
        None,
        [
            Result(
                f"expected a port number, got {port!r}",
                resource=REF,
                field="spec.http[1].route[0].destination.port.number",
            )
        ],
    )


# --- route_tenant ---------------------------------------------------------------------------


def target(route: dict[str, Any] | None = None, port: int = 8265) -> HeadTarget:
    return HeadTarget("rc-head-svc", port, route if route is not None else route_to("rc-head-svc"))


def test_the_two_rules_of_a_tenant() -> None:
    obj = vs([], hosts=["ray.example.com"], gateways=["istio-system/gw"])
    assert route_tenant(obj, target(port=8080), TEAM, TenantsConfig()) == []
    assert obj["spec"] == {
        "hosts": ["ray.example.com"],
        "gateways": ["istio-system/gw"],
        "http": [
            {
                "name": "team-dashboard-redirect",
                "match": [{"uri": {"exact": "/team"}}],
                "redirect": {"uri": "/team/"},
            },
            {
                "name": "team-dashboard",
                "match": [{"uri": {"prefix": "/team/"}}],
                "rewrite": {"uri": "/"},
                "route": [
                    {"destination": {"host": "rc-head-svc.team.svc.cluster.local", "port": {"number": 8080}}}
                ],
            },
        ],
    }


def test_other_fields_of_the_base_route_are_kept_its_own_redirect_rewrite_and_name_are_not() -> None:
    base = {
        "name": "base-dashboard",
        "match": [{"headers": {"x-team": {"exact": "1"}}, "uri": {"prefix": "/ray/"}}, "text"],
        "redirect": {"uri": "/elsewhere/"},
        "rewrite": {"uri": "/base/", "authority": "ray.internal"},
        "timeout": "30s",
        "retries": {"attempts": 3},
        "route": [
            {"destination": {"host": "rc-head-svc", "subset": "v1", "port": {"number": 1}}, "weight": 100},
            {"destination": {"host": "other"}},
        ],
    }
    original = copy.deepcopy(base)
    obj = vs([], hosts=["h"], gateways=["g"])
    config = TenantsConfig(cluster_domain="example.org")
    assert route_tenant(obj, target(base, port=9000), TEAM, config) == []
    headers = {"headers": {"x-team": {"exact": "1"}}}
    assert obj["spec"]["http"] == [
        {
            "name": "team-dashboard-redirect",
            "match": [{**headers, "uri": {"exact": "/team"}}],
            "redirect": {"uri": "/team/"},
        },
        {
            "name": "team-dashboard",
            "match": [{**headers, "uri": {"prefix": "/team/"}}],
            "rewrite": {"uri": "/", "authority": "ray.internal"},
            "timeout": "30s",
            "retries": {"attempts": 3},
            "route": [
                {
                    "destination": {
                        "host": "rc-head-svc.team.svc.example.org",
                        "subset": "v1",
                        "port": {"number": 9000},
                    },
                    "weight": 100,
                }
            ],
        },
    ]
    assert base == original  # the template is shared by every tenant


def test_a_rewrite_that_is_not_a_mapping_is_replaced() -> None:
    obj = vs([], hosts=["h"], gateways=["g"])
    route_tenant(obj, target({**route_to("rc-head-svc"), "rewrite": "text"}), TEAM, TenantsConfig())
    assert obj["spec"]["http"][1]["rewrite"] == {"uri": "/"}


def test_the_spec_overrides_hosts_and_gateways() -> None:
    obj = vs([], hosts=["old"], gateways=["old/gw"])
    config = TenantsConfig(hosts=("ray.example.com",), gateways=("asm/gw",))
    assert route_tenant(obj, target(), TEAM, config) == []
    assert (obj["spec"]["hosts"], obj["spec"]["gateways"]) == (["ray.example.com"], ["asm/gw"])


def test_missing_hosts_and_gateways_are_errors_on_their_fields() -> None:
    obj = vs()
    del obj["spec"]
    assert route_tenant(obj, target(), TEAM, TenantsConfig()) == [
        Result(
            "no hosts: set them on the base VirtualService or in the tenant spec's routing.hosts",
            resource=REF,
            field="spec.hosts",
        ),
        Result(
            "no gateways: set them on the base VirtualService or in the tenant spec's routing.gateways",
            resource=REF,
            field="spec.gateways",
        ),
    ]
    assert [r["name"] for r in obj["spec"]["http"]] == ["team-dashboard-redirect", "team-dashboard"]


@pytest.mark.parametrize(
    ("export", "hidden"),
    [
        (None, []),
        (["*"], []),
        (["."], ["istio-system/gw", "a/b/c"]),  # "." is the tenant's own namespace
        (["istio-system"], ["team/gw", "a/b/c"]),
        (["istio-system", "a", "team"], []),  # a gateway's namespace is before its first "/"
        (["a/b"], ["istio-system/gw", "team/gw", "a/b/c"]),
        (["gw", "b"], ["istio-system/gw", "team/gw", "a/b/c"]),
    ],
)
def test_export_to_must_let_every_gateway_namespace_see_the_vs(
    export: list[str] | None, hidden: list[str]
) -> None:
    # "mesh" and a gateway without a namespace are never hidden
    gateways = ["mesh", "gw", "istio-system/gw", "team/gw", "a/b/c"]
    extra = {} if export is None else {"exportTo": export}
    obj = vs([], hosts=["h"], gateways=gateways, **extra)
    assert route_tenant(obj, target(), TEAM, TenantsConfig()) == [
        Result(
            f"exportTo {export} hides this VirtualService from gateway {g!r}; add {g.split('/')[0]!r}",
            resource=REF,
            field="spec.exportTo",
        )
        for g in hidden
    ]
