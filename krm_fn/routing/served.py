"""What a route serves, whatever router wrote it: the records the route policy and overlap read.

One reader per router turns its object into a `Route` (`virtualservice.read_virtual_service` for
Istio). The route policy (policy.py) and the overlap rule (overlap.py) work on these records only,
so every router is held to the same rules, and a new router needs only its reader.

Every record keeps the field path (from the object's root) it was read from, so a finding points
at the field a person wrote.
"""

from __future__ import annotations

from typing import Literal

from krm_fn.results import Record, ResourceRef

FieldPath = tuple[str | int, ...]
# exact: the whole path; prefix: a string prefix (Istio `prefix: /t` also matches `/tx`);
# path-prefix: whole segments (Gateway API `PathPrefix: /t` matches `/t` and `/t/x`, not `/tx`);
# regex: a full match of the whole path (RE2); any: every path (a rule without a path match)
MatchKind = Literal["exact", "prefix", "path-prefix", "regex", "any"]
# http rules match paths; tcp and tls rules take whole connections (by port or SNI)
Transport = Literal["http", "tcp", "tls"]
# route: the request is sent there; mirror: a copy of it is
Role = Literal["route", "mirror"]


class Match(Record):
    """One path condition of a rule (a rule matches when any of its conditions does).

    `gateways`, when not None, replaces the route's own for this condition (Istio's
    `match[].gateways`), normalised as `Route.gateways` are.
    """

    _fields = __slots__ = ("kind", "value", "ignore_case", "path", "gateways")

    def __init__(
        self,
        kind: MatchKind,
        value: str,
        path: FieldPath,
        ignore_case: bool = False,
        gateways: tuple[str, ...] | None = None,
    ) -> None:
        self.kind: MatchKind = kind
        self.value = value
        self.path = path
        self.ignore_case = ignore_case
        self.gateways = gateways


class Destination(Record):
    """Where a rule sends requests (or copies of them): a service, its namespace and port.

    `host` is the text as written (for messages); `service` and `namespace` are what it resolves
    to (a short name is in the route's namespace); `port` is None when the rule names none.
    """

    _fields = __slots__ = ("host", "service", "namespace", "port", "path", "role", "host_field", "port_field")

    def __init__(
        self,
        host: object,
        service: str,
        namespace: str,
        port: object,
        path: FieldPath,
        role: Role = "route",
        host_field: FieldPath = ("host",),
        port_field: FieldPath = ("port", "number"),
    ) -> None:
        self.host = host
        self.service = service
        self.namespace = namespace
        self.port = port
        self.path = path
        self.role: Role = role
        # where, under `path`, the router writes the service and the port (Istio's `host` and
        # `port.number`, a backendRef's `name` and `port`)
        self.host_field = host_field
        self.port_field = port_field


class _PathChange(Record):
    """A new path and host for a request (None where it keeps the request's), and where the
    router writes them."""

    _fields = __slots__ = ("uri", "authority", "path", "uri_field", "authority_field")

    def __init__(
        self,
        uri: object,
        authority: object,
        path: FieldPath,
        uri_field: FieldPath = ("uri",),
        authority_field: FieldPath = ("authority",),
    ) -> None:
        self.uri = uri
        self.authority = authority
        self.path = path
        # where, under `path`, the router writes the path and the host (Istio's `uri` and
        # `authority`; Gateway API's `path.replaceFullPath` or `path.replacePrefixMatch`, `hostname`)
        self.uri_field = uri_field
        self.authority_field = authority_field


class Redirect(_PathChange):
    """A redirect answered to the client: the new path and host (None where it keeps the request's)."""

    __slots__ = ()


class Rewrite(_PathChange):
    """A rewrite of the request before it is sent on: the new path (None: unchanged or not a plain
    path, such as Istio's `uriRegexRewrite`) and the new host header."""

    __slots__ = ()


class Rule(Record):
    """One rule of a route: what it matches, and where (or whether) it sends what it matches.

    No matches means the rule takes every path on the route's hosts.
    """

    _fields = __slots__ = ("path", "protocol", "matches", "destinations", "redirect", "rewrite")

    def __init__(
        self,
        path: FieldPath,
        protocol: Transport = "http",
        matches: tuple[Match, ...] = (),
        destinations: tuple[Destination, ...] = (),
        redirect: Redirect | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        self.path = path
        self.protocol: Transport = protocol
        self.matches = matches
        self.destinations = destinations
        self.redirect = redirect
        self.rewrite = rewrite


class Route(Record):
    """A routing object (a VirtualService, an HTTPRoute) as what it serves.

    `hosts` are lower-case (host names are case-insensitive); `gateways` are what the route is
    bound to, each `namespace/name` (`mesh` for Istio's sidecars), however the object spells them.
    """

    _fields = __slots__ = (
        "ref",
        "namespace",
        "hosts",
        "gateways",
        "rules",
        "path_of_hosts",
        "path_of_gateways",
    )

    def __init__(
        self,
        ref: ResourceRef,
        namespace: str,
        hosts: tuple[str, ...],
        gateways: tuple[str, ...],
        rules: tuple[Rule, ...],
        path_of_hosts: FieldPath = ("spec", "hosts"),
        path_of_gateways: FieldPath = ("spec", "gateways"),
    ) -> None:
        self.ref = ref
        self.namespace = namespace
        self.hosts = hosts
        self.gateways = gateways
        self.rules = rules
        self.path_of_hosts = path_of_hosts  # where the hosts are written (`spec.hostnames` for HTTPRoute)
        self.path_of_gateways = path_of_gateways  # `spec.parentRefs` for HTTPRoute

    @property
    def label(self) -> str:
        """`Kind/namespace/name`, as findings name a route."""
        return self.ref.label()


def service_of(host: object, namespace: str) -> tuple[str, str]:
    """(service, namespace) of a destination host; a short name resolves in the route's namespace."""
    if not isinstance(host, str) or not host:
        return "", namespace
    parts = host.split(".")
    return parts[0], parts[1] if len(parts) > 1 else namespace


def literal_prefix(regex: str) -> str:
    """The text every path a (full-match) regex matches starts with: its leading literal characters.

    Sound, not precise: a character followed by a quantifier is not part of it, an alternation
    anywhere or any other syntax ends it, so `/mlops/.*` gives `/mlops/`, `(/a|/b)/.*` and
    `(?i)/a/.*` give `` (the regex may match any path).
    """
    if "|" in regex:
        return ""
    out: list[str] = []
    i = 1 if regex.startswith("^") else 0
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            nxt = regex[i + 1 : i + 2]
            if not nxt or nxt.isalnum():  # \d, \w, \b, \Q...: a class or an assertion, not a letter
                break
            char, width = nxt, 2
        elif ch in ".^$*+?()[]{}":
            break
        else:
            char, width = ch, 1
        following = regex[i + width : i + width + 1]
        if following and following in "*?{":
            break  # this character may be absent
        out.append(char)
        i += width
    return "".join(out)
