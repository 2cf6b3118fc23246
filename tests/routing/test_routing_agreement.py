"""The route policy and the overlap rule agree with the route generation.

For generated tenants and base VirtualServices, the routes the expansion writes pass the policy
and overlap nowhere; breaking any one generated rule makes the policy report it, on its field.
Expectations (head service, port, prefixes, which pairs overlap) come from the generated inputs
and a naive pairwise comparison, not from the code under test.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from krm_fn import cli
from krm_fn.config import MANAGED_BY, TENANT_LABEL, parse_config
from krm_fn.expand import expand
from krm_fn.routing import Claim, check_route, find_overlaps, route_overlaps

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
SETTINGS = settings(
    max_examples=300 if CI else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SEGMENT = st.text("abcz09._~-", min_size=1, max_size=4)
NAME = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3})?", fullmatch=True).filter(
    lambda n: n != "default" and not n.startswith("kube")
)
HOST = st.from_regex(r"[a-z]{1,5}\.example\.(com|org)", fullmatch=True)
GATEWAY = st.sampled_from(["asm-ingress/gw", "istio-system/ingressgateway", "gw", "mesh"])


def naive_overlaps(prefixes: list[str]) -> list[tuple[int, int, str]]:
    """(later, earlier, how) for every pair, comparing each pair: the oracle."""
    out = []
    for j, b in enumerate(prefixes):
        for i, a in enumerate(prefixes[:j]):
            if a == b:
                out.append((j, i, "same"))
            elif b.startswith(a):
                out.append((j, i, "nested"))
            elif a.startswith(b):
                out.append((j, i, "contains"))
    return out


@st.composite
def tenants(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    out = []
    for name in names:
        tenant: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            tenant["pathPrefix"] = "/" + "/".join(draw(st.lists(SEGMENT, min_size=1, max_size=3))) + "/"
        out.append(tenant)
    prefixes = [t.get("pathPrefix", f"/{t['name']}/") for t in out]
    assume(not naive_overlaps(prefixes))
    return out


@st.composite
def setups(draw: st.DrawFn) -> dict[str, Any]:
    """A RayCluster, a base VirtualService routing its dashboard, and a tenant spec."""
    custom_service = draw(st.sampled_from([None, "dash-svc"]))
    service = custom_service or "ray-head-svc"
    head: dict[str, Any] = {"template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}}
    if custom_service:
        head["headService"] = {"metadata": {"name": custom_service}}
    cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "ray"},
        "spec": {"headGroupSpec": head},
    }
    host = draw(st.sampled_from([service, f"{service}.base", f"{service}.base.svc.cluster.local"]))
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    destination: dict[str, Any] = {"host": host}
    if port is not None:
        destination["port"] = {"number": port}
    route: dict[str, Any] = {"route": [{"destination": destination}]}
    match: dict[str, Any] = {"uri": {"prefix": "/old/"}}
    if draw(st.booleans()):
        match["headers"] = {"x-team": {"exact": "ml"}}
    if draw(st.booleans()):
        route["match"] = [match]
    if draw(st.booleans()):
        route["timeout"] = "30s"
    if draw(st.booleans()):
        route["retries"] = {"attempts": 3}
    if draw(st.booleans()):
        route["rewrite"] = {"uri": "/", "authority": "ray.internal"}
    http = [route]
    if draw(st.booleans()):
        http.insert(0, {"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/old/"}})
    vs_spec: dict[str, Any] = {
        "hosts": draw(st.lists(HOST, min_size=1, max_size=2, unique=True)),
        "http": http,
    }
    gateways = draw(st.lists(GATEWAY, min_size=1, max_size=2, unique=True))
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "dashboard"},
        "spec": vs_spec,
    }
    routing: dict[str, Any] = {}
    if draw(st.booleans()):
        routing["hosts"] = draw(st.lists(HOST, min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        routing["gateways"] = gateways  # the expansion needs gateways: from the spec or the base
    else:
        vs_spec["gateways"] = gateways
    spec: dict[str, Any] = {"tenants": draw(tenants())}
    if routing:
        spec["routing"] = routing
    return {
        "items": [cluster, vs],
        "spec": {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": spec,
        },
        "service": service,
        "port": port or 8265,
    }


def tenant_routes(setup: dict[str, Any]) -> list[dict[str, Any]]:
    """The expansion's VirtualServices, one per tenant."""
    outcome = expand(copy.deepcopy(setup["items"]), parse_config(setup["spec"]))
    assert not outcome.failed, outcome.results
    routes = [
        o
        for o in outcome.items
        if o.get("kind") == "VirtualService"
        and o["metadata"].get("labels", {}).get(MANAGED_BY) == "ray-tenants"
    ]
    names = [t["name"] for t in setup["spec"]["spec"]["tenants"]]
    assert sorted(r["metadata"]["labels"][TENANT_LABEL] for r in routes) == sorted(names)
    return routes


def heads_of(setup: dict[str, Any]) -> dict[str, dict[str, set[int]]]:
    """Every tenant namespace holds the head service the inputs name, on the base's port."""
    return {t["name"]: {setup["service"]: {setup["port"]}} for t in setup["spec"]["spec"]["tenants"]}


@SETTINGS
@given(setups())
def test_the_policy_finds_nothing_in_the_routes_the_expansion_writes(setup: dict[str, Any]) -> None:
    routes = tenant_routes(setup)
    heads = heads_of(setup)
    for vs in routes:
        assert check_route(vs, heads) == [], vs
    assert route_overlaps(routes) == []


BREAKS = [
    "drop the redirect",
    "drop the rewrite",
    "another namespace",
    "no trailing slash",
    "catch-all",
    "mirror elsewhere",
    "redirect elsewhere",
    "a regex",
    "a tcp rule",
]


@SETTINGS
@given(setups(), st.sampled_from(BREAKS), st.data())
def test_breaking_any_generated_rule_is_reported_on_its_field(
    setup: dict[str, Any], damage: str, data: st.DataObject
) -> None:
    routes = tenant_routes(setup)
    heads = heads_of(setup)
    index = data.draw(st.integers(0, len(routes) - 1))
    vs = routes[index]
    namespace = vs["metadata"]["namespace"]
    redirect, rule = vs["spec"]["http"]
    prefix = rule["match"][0]["uri"]["prefix"]
    assert redirect["match"][0]["uri"] == {"exact": prefix[:-1]}
    expected: list[tuple[tuple[str | int, ...], str]]
    if damage == "drop the redirect":
        del vs["spec"]["http"][0]
        expected = [(("spec", "http", 0), f"no redirect from {prefix[:-1]!r} to {prefix!r}")]
    elif damage == "drop the rewrite":
        del rule["rewrite"]
        expected = [(("spec", "http", 1), f"expected `rewrite: {{uri: /}}` on prefix {prefix!r}, got None")]
    elif damage == "another namespace":
        other = namespace + "-other"
        rule["route"][0]["destination"]["host"] = f"{setup['service']}.{other}.svc.cluster.local"
        expected = [(("spec", "http", 1, "route", 0, "destination", "host"), f"in namespace {other!r}")]
    elif damage == "mirror elsewhere":
        other = namespace + "-other"
        rule["mirror"] = {"host": f"{setup['service']}.{other}"}
        expected = [
            (("spec", "http", 1, "mirror", "host"), f"mirrors requests to {setup['service'] + '.' + other!r}")
        ]
    elif damage == "redirect elsewhere":
        redirect["redirect"]["authority"] = "elsewhere.example.net"
        expected = [
            (("spec", "http", 0, "redirect", "authority"), "redirects to host 'elsewhere.example.net'")
        ]
    elif damage == "a regex":
        vs["spec"]["http"].append({"match": [{"uri": {"regex": prefix + ".*"}}], "redirect": {"uri": prefix}})
        expected = [(("spec", "http", 2, "match", 0, "uri", "regex"), f"regex {prefix + '.*'!r}")]
    elif damage == "a tcp rule":
        vs["spec"]["tcp"] = [{"route": rule["route"]}]
        expected = [(("spec", "tcp", 0), "a tcp rule takes whole connections")]
    else:
        wider = prefix[:-1] if damage == "no trailing slash" else "/"
        rule["match"][0]["uri"]["prefix"] = wider
        expected = [(("spec", "http", 1, "match", 0, "uri", "prefix"), f"prefix {wider!r}")]
    findings = check_route(vs, heads)
    assert [f.path for f in findings] == [path for path, _ in expected]
    for finding, (_, fragment) in zip(findings, expected, strict=True):
        assert fragment in finding.message
    if damage == "catch-all":
        # tenants share the hosts; a gateway named without a namespace is each tenant's own
        gateways = vs["spec"].get("gateways") or ["mesh"]
        shared = any("/" in g or g == "mesh" for g in gateways)
        reported = [(o.index, o.finding.path) for o in route_overlaps(routes)]
        path = ("spec", "http", 1, "match", 0, "uri", "prefix")
        others = [k for k in range(len(routes)) if k != index] if shared else []
        assert sorted(reported) == sorted((max(index, k), path) for k in others)


@SETTINGS
@given(
    st.lists(
        st.lists(SEGMENT, min_size=0, max_size=3).map(lambda s: "/" + "".join(p + "/" for p in s)),
        max_size=12,
    )
)
def test_find_overlaps_names_every_overlapping_pair_and_how(prefixes: list[str]) -> None:
    found = find_overlaps(Claim(p, i) for i, p in enumerate(prefixes))
    assert [(o.later.owner, o.earlier.owner, o.relation) for o in found] == naive_overlaps(prefixes)
    for o in found:
        assert (o.earlier.prefix, o.later.prefix) == (prefixes[o.earlier.owner], prefixes[o.later.owner])


def test_claims_of_one_owner_never_overlap_each_other() -> None:
    claims = [Claim("/a/", "vs1"), Claim("/a/b/", "vs1"), Claim("/a/b/", "vs2")]
    found = find_overlaps(claims)
    assert [(o.earlier.owner, o.earlier.prefix, o.later.owner, o.relation) for o in found] == [
        ("vs1", "/a/", "vs2", "nested"),
        ("vs1", "/a/b/", "vs2", "same"),
    ]


def write(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


def vs_doc(namespace: str, prefix: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "dash", "namespace": namespace},
        "spec": {
            "hosts": ["ray.example.com"],
            "http": [
                {"match": [{"uri": {"exact": prefix[:-1]}}], "redirect": {"uri": prefix}},
                {
                    "match": [{"uri": {"prefix": prefix}}],
                    "rewrite": {"uri": "/"},
                    "route": [{"destination": {"host": "ray-head-svc", "port": {"number": 8265}}}],
                },
            ],
        },
    }


def test_the_check_says_a_later_prefix_contains_an_earlier_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Which pair and how: the shorter prefix written second `contains` the first, on its own field."""
    path = write(tmp_path / "routes.yaml", vs_doc("deep", "/team/ml/"), vs_doc("team", "/team/"))
    assert cli.main(["check", "--select", "policy", str(path)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "prefix" in line]
    assert len(lines) == 1, lines
    where, _, finding = lines[0].partition(" ")
    assert finding == (
        "VirtualService/team/dash spec.http[1].match[0].uri.prefix: prefix '/team/' contains "
        "'/team/ml/' of VirtualService/deep/dash on host 'ray.example.com' and gateway 'mesh': Istio merges "
        "them in an undefined order"
    )
    file, line = where.rstrip(":").rsplit(":", 1)
    assert file == str(path)
    assert path.read_text().splitlines()[int(line) - 1].strip() == "prefix: /team/"


@pytest.mark.parametrize("port", [None, 8080])
def test_check_with_the_spec_accepts_the_port_the_base_routes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], port: int | None
) -> None:
    """The generated routes go to the base's port: `check --config` agrees with what render writes."""
    setup = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "ray"},
        "spec": {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}}
        },
    }
    base = vs_doc("", "/old/")
    del base["metadata"]["namespace"]
    base["spec"]["gateways"] = ["asm-ingress/gw"]
    if port is None:
        del base["spec"]["http"][1]["route"][0]["destination"]["port"]
    else:
        base["spec"]["http"][1]["route"][0]["destination"]["port"]["number"] = port
    spec = {"apiVersion": "fn.ray-tenants.dev/v1alpha1", "kind": "RayTenants", "metadata": {"name": "t"}}
    config = write(tmp_path / "tenants.yaml", {**spec, "spec": {"tenants": [{"name": "ml"}]}})
    resources = write(tmp_path / "resources.yaml", setup, base)
    code = cli.main(["check", "--select", "policy", "--config", str(config), str(resources)])
    assert capsys.readouterr().out == ""
    assert code == 0
    # the same route by hand, without the spec: 8080 is not the dashboard's default port
    hand = vs_doc("ml", "/ml/")
    if port is not None:
        hand["spec"]["http"][1]["route"][0]["destination"]["port"]["number"] = port
        assert cli.main(["check", "--select", "policy", str(write(tmp_path / "hand.yaml", hand))]) == 1
        assert "expected the dashboard port 8265, got 8080" in capsys.readouterr().out
