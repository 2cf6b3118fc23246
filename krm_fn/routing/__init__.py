"""Istio routing of tenants: route generation, route policy and prefix overlap, one rule each.

virtualservice.py writes a tenant's two rules, policy.py verifies a VirtualService against them,
overlap.py decides which prefixes take each other's traffic (for the tenant spec and the check).
"""

from krm_fn.routing.overlap import Claim, Overlap, find_overlaps
from krm_fn.routing.policy import RouteFinding, RouteOverlap, check_route, is_tenant_route, route_overlaps
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
    "check_route",
    "dashboard_ports",
    "find_overlaps",
    "find_target",
    "is_tenant_route",
    "is_virtual_service",
    "route_overlaps",
    "route_tenant",
]
