"""Routing of tenants: route generation, what a route serves, route policy and path overlap, one rule each.

virtualservice.py writes a tenant's two Istio rules and reads any VirtualService into the
router-neutral records of served.py; policy.py verifies routes (as those records) against the
tenant's rules; overlap.py decides which paths take each other's traffic (for the tenant spec
and the check).
"""

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
from krm_fn.routing.served import Destination, Match, Redirect, Rewrite, Route, Rule
from krm_fn.routing.virtualservice import (
    ISTIO_GROUP,
    HeadTarget,
    dashboard_ports,
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
    "check_route",
    "check_routes",
    "check_served",
    "dashboard_ports",
    "find_overlaps",
    "find_target",
    "is_tenant_route",
    "is_virtual_service",
    "normalize_gateway",
    "patch_findings",
    "read_virtual_service",
    "route_of",
    "route_overlaps",
    "route_tenant",
    "served_overlaps",
    "verify_copy",
]
