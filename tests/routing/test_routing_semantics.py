"""What the generated routes do to requests, by a small matcher written from the routers' docs.

The matcher below knows nothing of the generator: it reads Istio VirtualServices (`uri` exact,
prefix and regex, with `ignoreUriCase`; `redirect`, `rewrite.uri`; rules in order within one
VirtualService, no order between VirtualServices on one host) and Gateway API HTTPRoutes
(`Exact` before `PathPrefix`, `PathPrefix` by whole path segments with the trailing `/`
ignored, the longest prefix first; `RequestRedirect` `ReplaceFullPath`; `URLRewrite`
`ReplacePrefixMatch` as the Gateway API spec's table says). For generated tenants it proves that
every request path reaches exactly its own tenant's head with the path the dashboard expects,
`/t` redirects to `/t/`, and nothing else reaches any tenant (a request matched by two routes
would be a coin toss: that is a failure too).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from krm_fn.config import parse_config
from krm_fn.expand import expand
from krm_fn.results import FnError
from tests.routing.test_gateway_api import CLUSTER

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
SETTINGS = settings(
    max_examples=200 if CI else 40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

SHARED_HOST = "ray.example.com"
DASHBOARD = 8265

# a verdict: ("route", namespace, service, port, upstream path) | ("redirect", location path, status)
# | ("none",) | ("ambiguous", what)
Verdict = tuple[Any, ...]
NONE: Verdict = ("none",)


# --- Istio ------------------------------------------------------------------------------------


def _istio_uri_matches(uri: Mapping[str, Any], path: str, ignore_case: bool) -> bool:
    if not uri:
        return True
    fold = str.lower if ignore_case else str
    if "exact" in uri:
        return fold(path) == fold(uri["exact"])
    if "prefix" in uri:
        return fold(path).startswith(fold(uri["prefix"]))
    if "regex" in uri:  # RE2, whole path
        return re.fullmatch(uri["regex"], path, re.IGNORECASE if ignore_case else 0) is not None
    return False


def _istio_host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower(), host.lower()
    return host.endswith(pattern[1:]) if pattern.startswith("*") else pattern == host


def istio(routes: Iterable[Mapping[str, Any]], host: str, path: str) -> Verdict:
    """Where Istio sends (host, path), over VirtualServices merged on one gateway."""
    found = []
    for vs in routes:
        spec = vs["spec"]
        if not any(_istio_host_matches(h, host) for h in spec.get("hosts", [])):
            continue
        for rule in spec.get("http", []):
            hit = next(
                (
                    m
                    for m in rule.get("match") or [{}]
                    if _istio_uri_matches(m.get("uri") or {}, path, bool(m.get("ignoreUriCase")))
                ),
                None,
            )
            if hit is None:
                continue
            found.append(_istio_action(vs, rule, hit, path))
            break  # the first matching rule of a VirtualService wins
    if len(set(found)) > 1:
        return ("ambiguous", found)  # Istio merges VirtualServices on one host in no defined order
    return found[0] if found else NONE


def _istio_action(
    vs: Mapping[str, Any], rule: Mapping[str, Any], match: Mapping[str, Any], path: str
) -> Verdict:
    if "redirect" in rule:
        return ("redirect", rule["redirect"]["uri"], 301)  # Istio's default redirect code
    uri = match.get("uri") or {}
    rewrite = (rule.get("rewrite") or {}).get("uri")
    upstream = path
    if rewrite is not None:
        # a prefix match has its prefix replaced; any other match has the whole path replaced
        upstream = rewrite + path[len(uri["prefix"]) :] if "prefix" in uri else rewrite
    dest = rule["route"][0]["destination"]
    parts = dest["host"].split(".")
    namespace = parts[1] if len(parts) > 1 else vs["metadata"]["namespace"]
    return ("route", namespace, parts[0], dest["port"]["number"], upstream)


# --- Gateway API ------------------------------------------------------------------------------


def _segments_prefix(prefix: str, path: str) -> bool:
    """PathPrefix: whole segments, the prefix's trailing '/' ignored (`/abc` matches `/abc/d`, not `/abcd`)."""
    bare = prefix.rstrip("/")
    return bare == "" or path == bare or path.startswith(bare + "/")


def _gw_host_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower(), host.lower()
    return (
        host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
        if pattern.startswith("*.")
        else pattern == host
    )


def gateway_api(routes: Iterable[Mapping[str, Any]], host: str, path: str) -> Verdict:
    """Where a Gateway API implementation sends (host, path), over HTTPRoutes on one listener."""
    candidates = []  # (precedence key, verdict)
    for route in routes:
        spec = route["spec"]
        names = spec.get("hostnames") or []
        if names and not any(_gw_host_matches(h, host) for h in names):
            continue
        for rule in spec.get("rules", []):
            for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                kind, value = match["path"]["type"], match["path"]["value"]
                if kind == "Exact" and path == value:
                    candidates.append(((1, len(value)), _gw_action(route, rule, value, path)))
                elif kind == "PathPrefix" and _segments_prefix(value, path):
                    candidates.append(((0, len(value.rstrip("/"))), _gw_action(route, rule, value, path)))
    if not candidates:
        return NONE
    best = max(key for key, _ in candidates)
    winners = {v for key, v in candidates if key == best}
    # between equal matches the oldest route wins: the generated routes must never tie
    return winners.pop() if len(winners) == 1 else ("ambiguous", sorted(map(str, winners)))


def _gw_action(route: Mapping[str, Any], rule: Mapping[str, Any], prefix: str, path: str) -> Verdict:
    filters = {f["type"]: f for f in rule.get("filters", [])}
    if "RequestRedirect" in filters:
        redirect = filters["RequestRedirect"]["requestRedirect"]
        assert redirect["path"]["type"] == "ReplaceFullPath"
        return ("redirect", redirect["path"]["replaceFullPath"], redirect.get("statusCode", 302))
    upstream = path
    if "URLRewrite" in filters:
        rewrite = filters["URLRewrite"]["urlRewrite"]["path"]
        assert rewrite["type"] == "ReplacePrefixMatch"
        rest = path[len(prefix.rstrip("/")) :]
        replacement = rewrite["replacePrefixMatch"]
        # the spec's table: /foo/bar -> /bar, /foo/ -> /, /foo -> / for a prefix /foo replaced by /
        upstream = replacement if rest == "" else replacement.rstrip("/") + rest
    backend = rule["backendRefs"][0]
    return (
        "route",
        backend.get("namespace", route["metadata"]["namespace"]),
        backend["name"],
        backend["port"],
        upstream,
    )


# --- the matchers themselves, on the docs' own examples -----------------------------------------


@pytest.mark.parametrize(
    ("prefix", "path", "matches"),
    [
        ("/abc", "/abc", True),
        ("/abc", "/abc/", True),
        ("/abc", "/abc/d", True),
        ("/abc", "/abcd", False),
        ("/abc/", "/abc", True),
        ("/", "/x", True),
    ],
)
def test_path_prefix_matches_whole_segments(prefix: str, path: str, matches: bool) -> None:
    assert _segments_prefix(prefix, path) is matches


@pytest.mark.parametrize(
    ("path", "prefix", "replacement", "upstream"),
    [
        ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
        ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
        ("/foo", "/foo", "/xyz", "/xyz"),
        ("/foo/", "/foo", "/xyz", "/xyz/"),
        ("/foo/bar", "/foo", "/", "/bar"),
        ("/foo/", "/foo", "/", "/"),
        ("/foo", "/foo", "/", "/"),
    ],
)
def test_replace_prefix_match_follows_the_spec_table(
    path: str, prefix: str, replacement: str, upstream: str
) -> None:
    rule = {
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}},
            }
        ],
        "backendRefs": [{"name": "s", "port": 80}],
    }
    assert _gw_action({"metadata": {"namespace": "n"}}, rule, prefix, path)[-1] == upstream


def test_exact_wins_over_a_longer_prefix_and_a_tie_between_routes_is_ambiguous() -> None:
    def route(ns: str, kind: str, value: str) -> dict[str, Any]:
        rule = {
            "matches": [{"path": {"type": kind, "value": value}}],
            "backendRefs": [{"name": "s", "port": 80}],
        }
        return {"metadata": {"namespace": ns}, "spec": {"rules": [rule]}}

    routes = [route("a", "PathPrefix", "/x/y"), route("b", "Exact", "/x/y")]
    assert gateway_api(routes, "h", "/x/y")[1] == "b"
    assert gateway_api(routes, "h", "/x/y/z")[1] == "a"
    assert (
        gateway_api([route("a", "PathPrefix", "/x"), route("b", "PathPrefix", "/x/")], "h", "/x/1")[0]
        == "ambiguous"
    )


def test_istio_case_flags_and_regexes() -> None:
    def vs(ns: str, match: dict[str, Any]) -> dict[str, Any]:
        dest = {"destination": {"host": f"s.{ns}.svc.cluster.local", "port": {"number": 80}}}
        return {
            "metadata": {"namespace": ns},
            "spec": {"hosts": ["h"], "http": [{"match": [match], "route": [dest]}]},
        }

    folded = vs("a", {"uri": {"prefix": "/mlops/"}, "ignoreUriCase": True})
    assert istio([folded], "H", "/MLOps/x")[1] == "a"
    assert istio([vs("a", {"uri": {"prefix": "/mlops/"}})], "h", "/MLOps/x") == NONE
    assert istio([vs("b", {"uri": {"regex": "/mlops/.*"}})], "h", "/mlops/api")[1] == "b"
    assert (
        istio([vs("b", {"uri": {"regex": "/mlops"}})], "h", "/mlops/api") == NONE
    )  # RE2 matches the whole path
    # a prefix of another tenant's path taken by a second VirtualService: no order, a coin toss
    assert (
        istio(
            [vs("a", {"uri": {"prefix": "/ml"}}), vs("b", {"uri": {"prefix": "/mlops/"}})], "h", "/mlops/x"
        )[0]
        == "ambiguous"
    )


# --- the generated routes -----------------------------------------------------------------------

VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "dashboard"},
    "spec": {
        "hosts": [SHARED_HOST],
        "gateways": ["gw/gw"],
        "http": [{"route": [{"destination": {"host": "ray-head-svc"}}]}],
    },
}
HTTP_ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "dashboard"},
    "spec": {
        "parentRefs": [{"name": "gw", "namespace": "gw"}],
        "hostnames": [SHARED_HOST],
        "rules": [{"backendRefs": [{"name": "ray-head-svc", "port": DASHBOARD}]}],
    },
}
ROUTERS = {"istio": (VIRTUAL_SERVICE, istio), "gateway-api": (HTTP_ROUTE, gateway_api)}

NAME = st.from_regex(r"[a-z][a-z0-9]{0,4}(-[a-z0-9]{1,2})?", fullmatch=True).filter(
    lambda n: n != "default" and not n.startswith("kube")
)
SEGMENT = st.text("abAB9._~-", min_size=1, max_size=3)


@st.composite
def setups(draw: st.DrawFn) -> tuple[str, bool, list[dict[str, Any]]]:
    """A router, the mode (every tenant on its own host by the template, or path prefixes on the
    shared host with some tenants on hosts of their own), and the tenants."""
    router = draw(st.sampled_from(sorted(ROUTERS)))
    host_mode = draw(st.booleans())
    tenants: list[dict[str, Any]] = []
    for name in draw(st.lists(NAME, min_size=1, max_size=4, unique=True)):
        tenant: dict[str, Any] = {"name": name}
        if not host_mode:
            own = draw(st.sampled_from(["prefix", "host", "default"]))
            if own == "prefix":
                tenant["pathPrefix"] = "/" + "/".join(draw(st.lists(SEGMENT, min_size=1, max_size=2))) + "/"
            elif own == "host":
                tenant["host"] = f"{name}.own.example.org"
        tenants.append(tenant)
    return router, host_mode, tenants


def generated(
    router: str, host_mode: bool, tenants: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], Any]:
    routing = {"hostTemplate": "{tenant}.ray.example.com"} if host_mode else {}
    spec = {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "t"},
        "spec": {"tenants": tenants, "routing": routing},
    }
    try:
        config = parse_config(spec)
    except FnError:
        assume(False)  # overlapping prefixes: refused by the spec, a test of its own
        raise
    base = copy.deepcopy(ROUTERS[router][0])
    outcome = expand([copy.deepcopy(CLUSTER), base], config)
    assert not outcome.failed, outcome.results
    routes = [o for o in outcome.items if o["kind"] == base["kind"]]
    assert len(routes) == len(tenants)
    return routes, config


def expected(tenant: Mapping[str, Any], host_mode: bool, host: str, path: str) -> Verdict | None:
    """What the tenant's dashboard needs at (host, path), from the README's promise; None: not its request."""
    name = tenant["name"]
    if host_mode or "host" in tenant:
        if host != tenant.get("host", f"{name}.ray.example.com"):
            return None
        return ("route", name, "ray-head-svc", DASHBOARD, path)  # the whole host, the path as sent
    if host != SHARED_HOST:
        return None
    prefix = tenant.get("pathPrefix", f"/{name}/")
    if path == prefix.rstrip("/"):
        return ("redirect", prefix, 301)
    if path.startswith(prefix):
        return ("route", name, "ray-head-svc", DASHBOARD, "/" + path[len(prefix) :])
    return None


def requests(tenants: list[dict[str, Any]], host_mode: bool, extra: list[str]) -> Iterable[tuple[str, str]]:
    hosts = [SHARED_HOST, "other.example.com"]
    hosts += [h for t in tenants for h in (f"{t['name']}.ray.example.com", f"{t['name']}.own.example.org")]
    for t in tenants:
        p = t.get("pathPrefix", f"/{t['name']}/")
        bare = p.rstrip("/")
        for path in (
            bare,
            p,
            p + "api/jobs/",
            p + "static/main.js",
            bare + "x/",
            bare + "-2/api",
            bare.upper() + "/",
            "//" + p.lstrip("/"),
            p + "/api",
            "/",
            "/api/jobs/",
        ):
            for host in hosts:
                yield host, path
    for path in extra:
        for host in hosts:
            yield host, path


@SETTINGS
@given(setups(), st.lists(st.text("/abAB9.-", max_size=10).map(lambda s: "/" + s), max_size=6))
def test_every_request_reaches_exactly_its_tenants_head_with_the_dashboards_path(
    setup: tuple[str, bool, list[dict[str, Any]]], extra: list[str]
) -> None:
    router, host_mode, tenants = setup
    routes, _ = generated(router, host_mode, tenants)
    match = ROUTERS[router][1]
    for host, path in requests(tenants, host_mode, extra):
        wanted = [v for t in tenants if (v := expected(t, host_mode, host, path)) is not None]
        assert len(wanted) <= 1, (
            host,
            path,
            wanted,
        )  # the oracle's own sanity: tenants never share a request
        got = match(routes, host, path)
        assert got == (wanted[0] if wanted else NONE), (router, host_mode, host, path)
