"""Routing of tenants: route generation, what a route serves, route policy and path overlap, one rule each.

virtualservice.py (Istio) and httproute.py (Gateway API) write a tenant's rules and read any
route into the router-neutral records of served.py; routers.py puts the routers side by side
for the expansion; policy.py verifies routes (as those records) against the tenant's rules;
overlap.py decides which paths take each other's traffic (for the tenant spec and the check).
"""

from krm_fn.routing.httproute import is_gateway, is_http_route, listener_problems
from krm_fn.routing.overlap import Claim, Overlap, find_overlaps
from krm_fn.routing.policy import (
    Expected,
    RouteFinding,
    RouteOverlap,
    check_route,
    check_routes,
    check_served,
    is_tenant_route,
    patch_findings,
    route_of,
    route_overlaps,
    served_overlaps,
    verify_copy,
)
from krm_fn.routing.routers import Site, dashboard_ports, find_route_target, is_route, route_copy, tenant_site
from krm_fn.routing.served import Destination, Match, Redirect, Rewrite, Route, Rule
from krm_fn.routing.virtualservice import (
    ISTIO_GROUP,
    HeadTarget,
    find_target,
    is_virtual_service,
    normalize_gateway,
    read_virtual_service,
    route_tenant,
)

__all__ = [
    "ISTIO_GROUP",
    "Claim",
    "Destination",
    "Expected",
    "HeadTarget",
    "Match",
    "Overlap",
    "Redirect",
    "Rewrite",
    "Route",
    "RouteFinding",
    "RouteOverlap",
    "Rule",
    "Site",
    "check_route",
    "check_routes",
    "check_served",
    "dashboard_ports",
    "find_overlaps",
    "find_route_target",
    "find_target",
    "is_gateway",
    "is_http_route",
    "is_route",
    "is_tenant_route",
    "is_virtual_service",
    "listener_problems",
    "normalize_gateway",
    "patch_findings",
    "read_virtual_service",
    "route_copy",
    "route_of",
    "route_overlaps",
    "route_tenant",
    "served_overlaps",
    "tenant_site",
    "verify_copy",
]
