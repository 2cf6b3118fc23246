"""The routers, side by side: an Istio VirtualService or a Gateway API HTTPRoute base, routed alike.

The expansion asks here which bases are routes, which head each serves and how a tenant's copy
is rewritten; `tenant_site` says what a tenant serves (its hosts and path prefix) for whoever
must match the same traffic (gateway authorization policies, say).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from krm_fn.results import Record, Result
from krm_fn.routing.httproute import find_backend, is_http_route, route_tenant_http
from krm_fn.routing.virtualservice import (
    HeadTarget,
    RoutedTenant,
    RoutingSettings,
    find_target,
    is_virtual_service,
    route_tenant,
)


class Settings(RoutingSettings, Protocol):
    """What both routers need of the tenant spec (config.TenantsConfig)."""

    @property
    def parent_refs(self) -> tuple[Mapping[str, Any], ...] | None: ...


class Site(Record):
    """What a tenant serves: hosts (None: the base route's) and the path prefix under them.

    Path mode: the shared hosts and `/<t>/` (with `/<t>` redirected to it). Host mode: the
    tenant's own host and `/`, the whole host.
    """

    _fields = __slots__ = ("hosts", "prefix")

    def __init__(self, hosts: tuple[str, ...] | None, prefix: str) -> None:
        self.hosts = hosts
        self.prefix = prefix

    @property
    def own_host(self) -> bool:
        return self.prefix == "/"


def tenant_site(tenant: RoutedTenant, config: RoutingSettings) -> Site:
    """The hosts and path prefix the tenant's routes serve, as the routers write them."""
    if tenant.host is not None:
        return Site((tenant.host,), "/")
    return Site(config.hosts, tenant.path_prefix)


def is_route(obj: Mapping[str, Any]) -> bool:
    """A base the routers rewrite per tenant: a VirtualService or an HTTPRoute."""
    return is_virtual_service(obj) or is_http_route(obj)


def find_route_target(
    route: Mapping[str, Any], workloads: Sequence[Mapping[str, Any]]
) -> tuple[HeadTarget | None, list[Result]]:
    """The head service (and port) a base route serves, by its router's reading."""
    if is_http_route(route):
        return find_backend(route, workloads)
    return find_target(route, workloads)


def dashboard_ports(
    routes: Sequence[Mapping[str, Any]], workloads: Sequence[Mapping[str, Any]]
) -> dict[str, set[int]]:
    """Head service -> the ports the base routes send its dashboard to (as `find_route_target` reads them)."""
    ports: dict[str, set[int]] = {}
    for route in routes:
        target, _ = find_route_target(route, workloads)
        if target is not None:
            ports.setdefault(target.service, set()).add(target.port)
    return ports


def route_copy(
    copy: dict[str, Any], target: HeadTarget, tenant: RoutedTenant, config: Settings
) -> list[Result]:
    """Rewrite a tenant's copy of a base route in place to the tenant's rules."""
    if is_http_route(copy):
        return route_tenant_http(copy, target, tenant, config)
    return route_tenant(copy, target, tenant, config)
