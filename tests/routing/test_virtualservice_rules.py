"""The Istio router's refusals, whole: a base VirtualService whose dashboard route it cannot read,
a copy whose spec is no mapping, and exportTo lists that hide a tenant's route from its gateway."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from krm_fn.results import ResourceRef
from krm_fn.routing import find_target, route_tenant
from tests.routing.test_gateway_api import CLUSTER
from tests.routing.test_policy_patches import config

API = "networking.istio.io/v1"
REF = ResourceRef(API, "VirtualService", "dash")
DEST = {"host": "ray-head-svc", "port": {"number": 8265}}


def vs(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "VirtualService", "metadata": {"name": "dash"}, "spec": spec}


@pytest.mark.parametrize(
    ("route", "field", "message"),
    [
        (
            {"match": "all", "route": [{"destination": DEST}]},
            "spec.http[0].match",
            "expected a list of match conditions (mappings), got a string",
        ),
        (
            {"match": ["x"], "route": [{"destination": DEST}]},
            "spec.http[0].match",
            "expected a list of match conditions (mappings), got a list",
        ),
        (
            {"rewrite": "/", "route": [{"destination": DEST}]},
            "spec.http[0].rewrite",
            "expected a mapping, got a string",
        ),
        (
            {"redirect": ["/x"], "route": [{"destination": DEST}]},
            "spec.http[0].redirect",
            "expected a mapping, got a list",
        ),
        (
            {"route": {"destination": DEST}},
            "spec.http[0].route",
            "expected a list of route destinations, got a mapping",
        ),
        (
            {"route": ["ray-head-svc"]},
            "spec.http[0].route[0]",
            "expected a mapping with a destination, got a string",
        ),
        (
            {"route": [{"destination": "ray-head-svc"}]},
            "spec.http[0].route[0].destination",
            "expected a mapping with host and port, got a string",
        ),
        (
            {"route": [{"destination": {"host": 5}}]},
            "spec.http[0].route[0].destination.host",
            "expected a service name, got a number",
        ),
        (
            {"route": [{"destination": {"host": "ray-head-svc", "port": 8265}}]},
            "spec.http[0].route[0].destination.port",
            "expected a mapping such as {number: 8265}, got a number",
        ),
    ],
)
def test_a_dashboard_route_of_another_shape_is_an_error_on_its_field(
    route: Any, field: str, message: str
) -> None:
    target, results = find_target(vs(http=[route]), [CLUSTER])
    assert target is None
    assert [(r.resource, r.field, r.message, r.severity) for r in results] == [(REF, field, message, "error")]


def test_a_redirect_only_rule_before_the_dashboard_route_is_skipped() -> None:
    redirect = {"match": [{"uri": {"exact": "/a"}}], "redirect": "text"}
    target, results = find_target(vs(http=[redirect, {"route": [{"destination": DEST}]}]), [CLUSTER])
    assert results == [] and target is not None
    assert target.route == {"route": [{"destination": DEST}]}


def test_with_two_workloads_the_destination_host_names_the_head_by_its_first_label() -> None:
    other = {**CLUSTER, "metadata": {"name": "other"}}
    host = "other-head-svc.team.svc.cluster.local"
    target, results = find_target(vs(http=[{"route": [{"destination": {"host": host}}]}]), [CLUSTER, other])
    assert results == [] and target is not None and target.service == "other-head-svc"


def routed(spec: Any) -> list[tuple[Any, ...]]:
    """What the router says writing tenant `team`'s copy of a base whose spec became `spec`."""
    base = vs(gateways=["infra/gw"], http=[{"route": [{"destination": DEST}]}])
    target, _ = find_target(base, [CLUSTER])
    assert target is not None
    cfg = config()
    copy_ = {**copy.deepcopy(base), "metadata": {"name": "dash", "namespace": "team"}, "spec": spec}
    return [(r.resource, r.field, r.message) for r in route_tenant(copy_, target, cfg.tenants[0], cfg)]


def test_a_copy_whose_spec_is_no_mapping_is_an_error_on_the_copy() -> None:
    assert routed(["text"]) == [
        (ResourceRef(API, "VirtualService", "dash", "team"), "spec", "expected a mapping, got a list")
    ]


def test_export_to_must_let_the_routes_gateways_see_it() -> None:
    mine = ResourceRef(API, "VirtualService", "dash", "team")
    spec = {
        "hosts": ["ray.example.com"],
        "gateways": ["infra/gw", "mesh", "edge/gw/extra"],
        "exportTo": ["."],
        "http": [{"route": [{"destination": DEST}]}],
    }
    assert routed(spec) == [
        (
            mine,
            "spec.exportTo",
            "exportTo ['.'] hides this VirtualService from gateway 'infra/gw'; add 'infra'",
        ),
        (
            mine,
            "spec.exportTo",
            "exportTo ['.'] hides this VirtualService from gateway 'edge/gw/extra'; add 'edge'",
        ),
    ]
    assert routed({**spec, "exportTo": ["infra", "edge"]}) == []
    assert routed({**spec, "exportTo": ["*"]}) == []
    assert routed({**spec, "exportTo": "infra"}) == [
        (mine, "spec.exportTo", "expected a list of namespaces ('.', '*' or names), got a string")
    ]
