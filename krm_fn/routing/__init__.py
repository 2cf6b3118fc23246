"""Routing of tenants: route generation, route policy and prefix overlap, one rule each.

virtualservice.py (Istio) and httproute.py (Gateway API) write a tenant's rules, routers.py puts
them side by side for the expansion, policy.py verifies a VirtualService against them,
overlap.py decides which prefixes take each other's traffic (for the tenant spec and the check).
"""

from krm_fn.routing.httproute import is_gateway, is_http_route, listener_problems
from krm_fn.routing.overlap import Claim, Overlap, find_overlaps
from krm_fn.routing.policy import RouteFinding, RouteOverlap, check_route, is_tenant_route, route_overlaps
from krm_fn.routing.routers import Site, find_route_target, is_route, route_copy, tenant_site
from krm_fn.routing.virtualservice import (
    ISTIO_GROUP,
    HeadTarget,
    dashboard_ports,
    find_target,
    is_virtual_service,
    route_tenant,
)

__all__ = [
    "ISTIO_GROUP",
    "Claim",
    "HeadTarget",
    "Overlap",
    "RouteFinding",
    "RouteOverlap",
    "Site",
    "check_route",
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
    "route_copy",
    "route_overlaps",
    "route_tenant",
    "tenant_site",
]
