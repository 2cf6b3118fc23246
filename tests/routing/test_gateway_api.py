"""The Gateway API router and host-per-tenant routing, as a user of the tenant spec sees them.

The generated HTTPRoutes are validated against the real Gateway API CRD (schema, strict, and its
CEL rules) from ../shared/upstream; the expected rules are written out here from the Gateway API
documentation, not read from the generator.
"""

from __future__ import annotations

import copy
import io
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, krm, yamlio
from krm_fn.check import schemas
from krm_fn.config import ROUTE_LABEL, TENANT_LABEL, parse_config
from krm_fn.expand import expand
from krm_fn.results import FnError
from krm_fn.routing import Site, tenant_site
from tests.conftest import (
    REPO,
    TESTDATA,
    UPSTREAM,
    example_bases,
    kptfile,
    require_tool,
    require_upstream,
    run,
)
from tests.test_golden import resource_list

GATEWAY_API = "gateway.networking.k8s.io/v1"
ACCESS_KEY, ACCESS_VALUE = "fn.ray-tenants.dev/gateway-access", "true"  # the documented default

CLUSTER: dict[str, Any] = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "ray"},
    "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}}},
}


def http_route(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "parentRefs": [{"name": "gw", "namespace": "infra"}],
        "hostnames": ["ray.example.com"],
        "rules": [{"backendRefs": [{"name": "ray-head-svc", "port": 8265}]}],
    }
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": "dash"},
        "spec": {**base, **spec},
    }


def gateway(*listeners: dict[str, Any], namespace: str = "infra") -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": namespace},
        "spec": {"gatewayClassName": "istio", "listeners": list(listeners)},
    }


def listener(name: str = "http", **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": 80, "protocol": "HTTP", **extra}


def selector_listener(labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return listener(
        allowedRoutes={"namespaces": {"from": "Selector", "selector": {"matchLabels": labels}}}, **extra
    )


def spec(tenants: list[Any], **routing: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tenants": tenants}
    if routing:
        body["routing"] = routing
    return {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "t"},
        "spec": body,
    }


def expanded(items: list[dict[str, Any]], config: dict[str, Any]) -> Any:
    return expand(copy.deepcopy(items), parse_config(config))


def of_kind(outcome: Any, kind: str) -> dict[str, dict[str, Any]]:
    """The generated objects of `kind`, by tenant."""
    return {
        o["metadata"]["labels"][TENANT_LABEL]: o
        for o in outcome.items
        if o.get("kind") == kind and TENANT_LABEL in o["metadata"].get("labels", {})
    }


def errors(outcome: Any) -> list[tuple[str, str]]:
    return [(r.field, r.message) for r in outcome.results if r.is_error]


# --- path mode ----------------------------------------------------------------------------------


def test_each_tenant_gets_the_redirect_and_the_rewritten_prefix_to_its_own_head() -> None:
    outcome = expanded(
        [CLUSTER, http_route()], spec([{"name": "mlops"}, {"name": "research", "pathPrefix": "/r/"}])
    )
    assert errors(outcome) == []
    routes = of_kind(outcome, "HTTPRoute")
    assert routes["research"]["metadata"]["namespace"] == "research"
    assert routes["research"]["spec"] == {
        "parentRefs": [{"name": "gw", "namespace": "infra"}],
        "hostnames": ["ray.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "Exact", "value": "/r"}}],
                "filters": [
                    {
                        "type": "RequestRedirect",
                        "requestRedirect": {
                            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/r/"},
                            "statusCode": 301,
                        },
                    }
                ],
            },
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/r/"}}],
                "filters": [
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                    }
                ],
                # no namespace: the head service in the route's own namespace
                "backendRefs": [{"name": "ray-head-svc", "port": 8265}],
            },
        ],
    }
    assert routes["mlops"]["spec"]["rules"][1]["matches"][0]["path"]["value"] == "/mlops/"


def test_the_tenant_namespace_carries_the_label_listeners_select() -> None:
    outcome = expanded([CLUSTER, http_route()], spec([{"name": "mlops", "namespaceLabels": {"team": "ml"}}]))
    labels = of_kind(outcome, "Namespace")["mlops"]["metadata"]["labels"]
    assert (ACCESS_KEY, ACCESS_VALUE) == ROUTE_LABEL
    assert labels[ACCESS_KEY] == ACCESS_VALUE and labels["team"] == "ml"
    custom = expanded(
        [CLUSTER, http_route()], spec([{"name": "mlops"}], namespaceLabel={"key": "access", "value": "ray"})
    )
    labels = of_kind(custom, "Namespace")["mlops"]["metadata"]["labels"]
    assert labels["access"] == "ray" and ACCESS_KEY not in labels


def test_without_an_http_route_the_namespace_is_not_labelled_for_gateways() -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "d"},
        "spec": {
            "hosts": ["h.example.com"],
            "gateways": ["a/b"],
            "http": [{"route": [{"destination": {"host": "ray-head-svc"}}]}],
        },
    }
    outcome = expanded([CLUSTER, vs], spec([{"name": "mlops"}]))
    assert ACCESS_KEY not in of_kind(outcome, "Namespace")["mlops"]["metadata"]["labels"]


def test_the_spec_overrides_parent_refs_and_hostnames() -> None:
    parents = [{"name": "edge", "namespace": "gw-system", "sectionName": "https"}]
    outcome = expanded(
        [CLUSTER, http_route()], spec([{"name": "mlops"}], parentRefs=parents, hosts=["ml.example.org"])
    )
    route = of_kind(outcome, "HTTPRoute")["mlops"]["spec"]
    assert route["parentRefs"] == parents and route["hostnames"] == ["ml.example.org"]


def test_a_base_parent_ref_without_namespace_takes_the_bases_namespace() -> None:
    base = http_route(parentRefs=[{"name": "gw"}])
    base["metadata"]["namespace"] = "infra"
    outcome = expanded([CLUSTER, base], spec([{"name": "mlops"}]))
    assert of_kind(outcome, "HTTPRoute")["mlops"]["spec"]["parentRefs"] == [
        {"name": "gw", "namespace": "infra"}
    ]


def test_other_parts_of_the_base_rule_are_kept() -> None:
    rule = {
        "matches": [
            {"path": {"type": "PathPrefix", "value": "/old"}, "headers": [{"name": "x-team", "value": "ml"}]}
        ],
        "filters": [
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["authorization"]}},
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/x"}},
            },
        ],
        "timeouts": {"request": "0s"},
        "backendRefs": [{"name": "ray-head-svc", "port": 8265, "weight": 1}],
    }
    outcome = expanded([CLUSTER, http_route(rules=[rule])], spec([{"name": "mlops"}]))
    redirect, prefix = of_kind(outcome, "HTTPRoute")["mlops"]["spec"]["rules"]
    header = [{"name": "x-team", "value": "ml"}]
    assert redirect["matches"] == [{"headers": header, "path": {"type": "Exact", "value": "/mlops"}}]
    assert prefix["matches"] == [{"headers": header, "path": {"type": "PathPrefix", "value": "/mlops/"}}]
    assert [f["type"] for f in prefix["filters"]] == ["URLRewrite", "RequestHeaderModifier"]
    assert prefix["filters"][0]["urlRewrite"]["path"]["replacePrefixMatch"] == "/"
    assert prefix["timeouts"] == {"request": "0s"}
    assert prefix["backendRefs"] == [{"name": "ray-head-svc", "port": 8265, "weight": 1}]


@pytest.mark.parametrize(
    ("route", "field", "words"),
    [
        (http_route(parentRefs=None), "spec.parentRefs", "no parentRefs"),
        (http_route(parentRefs=[{"name": "gw"}]), "spec.parentRefs[0].namespace", "no namespace"),
        (
            http_route(
                rules=[{"backendRefs": [{"name": "ray-head-svc"}]}, {"backendRefs": [{"name": "other"}]}]
            ),
            "spec.rules",
            "found 2 rules",
        ),
        (
            http_route(rules=[{"backendRefs": [{"name": "x", "port": "http"}]}]),
            "spec.rules[0].backendRefs[0].port",
            "port number",
        ),
        (http_route(rules="all"), "spec.rules", "expected a list"),
    ],
)
def test_a_base_http_route_that_cannot_be_routed_is_an_error_on_its_field(
    route: dict[str, Any], field: str, words: str
) -> None:
    route = copy.deepcopy(route)  # the parameter is shared by every run of the test
    if route["spec"]["parentRefs"] is None:
        del route["spec"]["parentRefs"]
    found = errors(expanded([CLUSTER, route], spec([{"name": "mlops"}])))
    assert [f for f, _ in found] == [field], found
    assert words in found[0][1]


def test_with_two_workloads_the_backend_must_name_a_head() -> None:
    other = copy.deepcopy(CLUSTER)
    other["metadata"]["name"] = "other"
    route = http_route(rules=[{"backendRefs": [{"name": "nope"}]}])
    found = errors(expanded([CLUSTER, other, route], spec([{"name": "mlops"}])))
    assert found and found[0][0] == "spec.rules[0].backendRefs[0].name"
    assert "other-head-svc, ray-head-svc" in found[0][1]


# --- Gateways among the inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "gw",
    [
        gateway(selector_listener({ACCESS_KEY: ACCESS_VALUE})),
        gateway(listener(allowedRoutes={"namespaces": {"from": "All"}})),
        gateway(
            listener(
                allowedRoutes={
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchExpressions": [
                                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["mlops"]}
                            ]
                        },
                    }
                }
            )
        ),
        # one listener admitting is enough
        gateway(listener("own"), selector_listener({ACCESS_KEY: ACCESS_VALUE}, name="shared")),
        gateway(listener(allowedRoutes={"namespaces": {"from": "Same"}}), namespace="mlops"),
        gateway(listener(hostname="*.example.com", allowedRoutes={"namespaces": {"from": "All"}})),
    ],
)
def test_a_gateway_that_admits_the_tenants_passes_through_unchanged(gw: dict[str, Any]) -> None:
    route = http_route(parentRefs=[{"name": "gw", "namespace": gw["metadata"]["namespace"]}])
    outcome = expanded([CLUSTER, route, gw], spec([{"name": "mlops"}]))
    assert errors(outcome) == []
    # the shared Gateway is never copied into a tenant namespace
    assert [o for o in outcome.items if o["kind"] == "Gateway"] == [gw]


@pytest.mark.parametrize(
    ("gw", "parents", "words"),
    [
        (gateway(listener()), None, "own namespace only"),
        (
            gateway(selector_listener({"shared-gateway-access": "true"})),
            None,
            "does not match the namespace's labels",
        ),
        (
            gateway(
                listener(allowedRoutes={"kinds": [{"kind": "GRPCRoute"}], "namespaces": {"from": "All"}})
            ),
            None,
            "allows no HTTPRoute",
        ),
        (
            gateway(listener(hostname="other.example.org", allowedRoutes={"namespaces": {"from": "All"}})),
            None,
            "none of the route's hostnames",
        ),
        (
            gateway(listener("a", allowedRoutes={"namespaces": {"from": "All"}})),
            [{"name": "gw", "namespace": "infra", "sectionName": "b"}],
            "no listener matches its sectionName",
        ),
    ],
)
def test_a_gateway_that_would_not_admit_a_tenant_is_an_error_naming_both(
    gw: dict[str, Any], parents: list[Any] | None, words: str
) -> None:
    config = spec([{"name": "mlops"}, {"name": "research"}], **({"parentRefs": parents} if parents else {}))
    found = errors(expanded([CLUSTER, http_route(), gw], config))
    assert [f for f, _ in found] == ["spec.parentRefs[0]", "spec.parentRefs[0]"], found
    assert all("Gateway/infra/gw" in m and words in m for _, m in found), found
    assert "'mlops'" in found[0][1] and "'research'" in found[1][1]


def test_render_refuses_a_gateway_that_admits_no_tenant_and_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("in.yaml").write_text(yamlio.dump_all([CLUSTER, http_route(), gateway(listener())]))
    Path("tenants.yaml").write_text(yamlio.dump(spec([{"name": "mlops"}])))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["render", "--config", "tenants.yaml", "in.yaml"], out, err) == 1
    assert out.getvalue() == ""
    assert "in.yaml" in err.getvalue() and "HTTPRoute/mlops/dash spec.parentRefs[0]" in err.getvalue()
    assert "Traceback" not in err.getvalue()


# --- host per tenant ----------------------------------------------------------------------------


def test_host_mode_serves_each_tenant_on_its_own_host_at_the_root() -> None:
    config = spec(
        [{"name": "mlops"}, {"name": "research", "host": "research.ml.example.org"}],
        hostTemplate="{tenant}.ray.example.com",
    )
    outcome = expanded([CLUSTER, http_route()], config)
    assert errors(outcome) == []
    routes = of_kind(outcome, "HTTPRoute")
    assert routes["mlops"]["spec"]["hostnames"] == ["mlops.ray.example.com"]
    assert routes["research"]["spec"]["hostnames"] == ["research.ml.example.org"]
    assert routes["mlops"]["spec"]["rules"] == [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": "ray-head-svc", "port": 8265}],
        }
    ]


def test_host_mode_for_virtual_services() -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "d"},
        "spec": {
            "hosts": ["ray.example.com"],
            "gateways": ["a/b"],
            "http": [
                {
                    "rewrite": {"uri": "/", "authority": "dash"},
                    "timeout": "0s",
                    "route": [{"destination": {"host": "ray-head-svc"}}],
                }
            ],
        },
    }
    outcome = expanded([CLUSTER, vs], spec([{"name": "mlops"}], hostTemplate="{tenant}.ray.example.com"))
    assert errors(outcome) == []
    route = of_kind(outcome, "VirtualService")["mlops"]["spec"]
    assert route["hosts"] == ["mlops.ray.example.com"] and route["gateways"] == ["a/b"]
    # one rule: the whole host, no redirect, no path rewrite (the base's authority rewrite is kept)
    assert route["http"] == [
        {
            "name": "mlops-dashboard",
            "match": [{"uri": {"prefix": "/"}}],
            "rewrite": {"authority": "dash"},
            "timeout": "0s",
            "route": [
                {"destination": {"host": "ray-head-svc.mlops.svc.cluster.local", "port": {"number": 8265}}}
            ],
        }
    ]


@pytest.mark.parametrize(
    ("tenants", "routing", "field", "words"),
    [
        (
            [{"name": "a"}],
            {"hostTemplate": "ray.example.com"},
            "spec.routing.hostTemplate",
            "holding {tenant}",
        ),
        (
            [{"name": "a"}],
            {"hostTemplate": "*.{tenant}.example.com"},
            "spec.routing.hostTemplate",
            "holding {tenant}",
        ),
        ([{"name": "a", "host": "A.example.com"}], {}, "spec.tenants[0].host", "not a DNS name"),
        ([{"name": "a", "host": "*.example.com"}], {}, "spec.tenants[0].host", "no wildcard"),
        (
            [{"name": "a", "host": "ex\u0430mple.com"}],
            {},
            "spec.tenants[0].host",
            "U+0430 CYRILLIC SMALL LETTER A",
        ),
        ([{"name": "a", "host": 3}], {}, "spec.tenants[0].host", "expected a string"),
        (
            [{"name": "a", "host": "x.example.com"}, {"name": "b", "host": "X.example.com"}],
            {},
            "spec.tenants[1].host",
            "not a DNS name",
        ),
        (
            [{"name": "a", "host": "x.example.com"}, {"name": "b", "host": "x.example.com"}],
            {},
            "spec.tenants[1].host",
            "also tenant 'a'",
        ),
        (
            [{"name": "a"}, {"name": "b", "host": "a.r.example.com"}],
            {"hostTemplate": "{tenant}.r.example.com"},
            "spec.tenants[1].host",
            "also tenant 'a'",
        ),
        (
            [{"name": "a", "host": "ray.example.com"}],
            {"hosts": ["ray.example.com"]},
            "spec.tenants[0].host",
            "shared host",
        ),
        (
            [{"name": "a", "host": "a.example.com", "pathPrefix": "/a/"}],
            {},
            "spec.tenants[0].pathPrefix",
            "does not apply",
        ),
        (
            [{"name": "a" * 60}],
            {"hostTemplate": "{tenant}." + "b" * 200 + ".com"},
            "spec.routing.hostTemplate",
            f"for tenant {'a' * 60!r}",
        ),
        (
            [{"name": "a"}],
            {"parentRefs": [{"name": "gw"}]},
            "spec.routing.parentRefs[0].namespace",
            "required",
        ),
        (
            [{"name": "a"}],
            {"parentRefs": [{"name": "gw", "namespace": "i", "port": "80"}]},
            "spec.routing.parentRefs[0].port",
            "port number",
        ),
        (
            [{"name": "a"}],
            {"parentRefs": [{"name": "gw", "namespace": "i", "listener": "x"}]},
            "spec.routing.parentRefs[0].listener",
            "unknown field",
        ),
        ([{"name": "a"}], {"parentRefs": []}, "spec.routing.parentRefs", "non-empty list"),
        (
            [{"name": "a"}],
            {"namespaceLabel": {"key": TENANT_LABEL}},
            "spec.routing.namespaceLabel.key",
            "of your own",
        ),
        (
            [{"name": "a"}],
            {"namespaceLabel": {"value": "no way"}},
            "spec.routing.namespaceLabel.value",
            "not a valid label value",
        ),
    ],
)
def test_bad_routing_settings_are_errors_on_their_fields(
    tenants: list[Any], routing: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(FnError) as caught:
        parse_config(spec(tenants, **routing))
    found = [(r.field, r.message) for r in caught.value.results]
    assert field in [f for f, _ in found], found
    assert any(words in m for f, m in found if f == field), found


def test_in_host_mode_prefixes_are_not_compared_and_slash_is_the_served_prefix() -> None:
    # "/" is refused as a path prefix; a tenant with its own host serves exactly that
    config = parse_config(spec([{"name": "a"}, {"name": "b"}], hostTemplate="{tenant}.ray.example.com"))
    assert [t.path_prefix for t in config.tenants] == ["/", "/"]
    assert tenant_site(config.tenants[0], config) == Site(("a.ray.example.com",), "/")
    path = parse_config(spec([{"name": "a"}], hosts=["ray.example.com"]))
    assert tenant_site(path.tenants[0], path) == Site(("ray.example.com",), "/a/")
    assert tenant_site(path.tenants[0], path).own_host is False


# --- the real CRD and the real kpt --------------------------------------------------------------


@cache
def gateway_api_schemas() -> schemas.SchemaChecker:
    """The check's own validation with the upstream Gateway API CRDs: schema (strict) and CEL rules."""
    crds = schemas.CrdSchemas()
    for file in sorted((UPSTREAM / "gateway-api" / "crd").glob("*.yaml")):
        assert crds.add(yamlio.load(file.read_text()), str(file)) == []
    return schemas.SchemaChecker(schemas.resolve_version(None), crds, strict=True)


def assert_valid(obj: dict[str, Any]) -> None:
    verdict = gateway_api_schemas().check(obj)
    assert (verdict.findings, verdict.unchecked, verdict.notes) == ([], None, []), (obj["metadata"], verdict)


def krm_items(case: Path) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    assert krm.run(io.BytesIO(resource_list(case)), out, err) == 0, err.getvalue()
    items: list[dict[str, Any]] = yaml.safe_load(out.getvalue())["items"]
    return items


ROUTER_CASES = sorted(
    p.name for p in (TESTDATA / "krm").iterdir() if p.name.startswith("router-gateway-api-")
)


def test_the_crd_validation_refuses_what_the_api_server_refuses() -> None:
    """The validator is not vacuous: a rewrite on an Exact match and an unknown field are refused."""
    require_upstream()
    route = http_route(
        rules=[
            {
                "matches": [{"path": {"type": "Exact", "value": "/a"}}],
                "filters": [
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                    }
                ],
            }
        ]
    )
    route["metadata"]["namespace"] = "a"
    messages = [m for _, m in gateway_api_schemas().check(route).findings]
    assert any("exactly one PathPrefix match" in m for m in messages), messages
    route["spec"]["rules"][0]["backendRef"] = []
    assert any("unknown field 'backendRef'" in m for _, m in gateway_api_schemas().check(route).findings)


@pytest.mark.parametrize("case", ROUTER_CASES)
def test_every_generated_http_route_and_the_gateway_validate_against_the_real_crd(case: str) -> None:
    require_upstream()
    items = [i for i in krm_items(TESTDATA / "krm" / case) if i["apiVersion"] == GATEWAY_API]
    assert sorted(i["kind"] for i in items) == ["Gateway", "HTTPRoute", "HTTPRoute"]
    for item in items:
        assert_valid(item)


@pytest.mark.parametrize("host_mode", [False, True])
def test_routes_with_kept_base_fields_validate_against_the_real_crd(host_mode: bool) -> None:
    require_upstream()
    rule = {
        "matches": [
            {
                "path": {"type": "PathPrefix", "value": "/"},
                "headers": [{"name": "x-team", "value": "ml"}],
                "method": "GET",
            }
        ],
        "filters": [
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["authorization"]}}
        ],
        "timeouts": {"request": "600s", "backendRequest": "300s"},
        "backendRefs": [{"name": "ray-head-svc", "port": 8266, "weight": 1}],
    }
    routing: dict[str, Any] = {"hostTemplate": "{tenant}.ray.example.com"} if host_mode else {}
    tenants = [{"name": "a"}, {"name": "b"} if host_mode else {"name": "b", "pathPrefix": "/b.x/y/"}]
    outcome = expanded([CLUSTER, http_route(rules=[rule])], spec(tenants, **routing))
    assert errors(outcome) == []
    for route in of_kind(outcome, "HTTPRoute").values():
        assert_valid(route)


def test_kpt_renders_http_routes_per_tenant_and_a_second_render_changes_nothing(
    tmp_path: Path, fn_exec: Path
) -> None:
    kpt = require_tool("kpt", "kpt mode is proven with the real kpt")
    case = TESTDATA / "krm" / "router-gateway-api-host"
    pkg = tmp_path / "pkg"
    (pkg / "base").mkdir(parents=True)
    (pkg / "Kptfile").write_text(kptfile(fn_exec))
    (pkg / "tenants.yaml").write_text((case / "_fnconfig.yaml").read_text())
    docs = (case / "resources.yaml").read_text().split("\n---\n")
    (pkg / "base" / "raycluster.yaml").write_text(docs[0] + "\n")
    (pkg / "base" / "route.yaml").write_text(docs[1] + "\n")
    (pkg / "gateway.yaml").write_text(docs[2])
    first = run([kpt, "fn", "render", "--allow-exec", pkg])
    assert first.returncode == 0, first.stderr.decode()
    route = yaml.safe_load((pkg / "overlays" / "research" / "httproute_dashboard.yaml").read_text())
    assert route["spec"]["hostnames"] == ["research.ray.example.com"]
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    namespace = yaml.safe_load((pkg / "overlays" / "research" / "namespace.yaml").read_text())
    assert namespace["metadata"]["labels"]["gateway-access"] == "ray"
    assert "Gateway" in (pkg / "gateway.yaml").read_text() and not list(pkg.glob("overlays/*/gateway_*"))
    snapshot = {p: p.read_bytes() for p in sorted(pkg.rglob("*")) if p.is_file()}
    again = run([kpt, "fn", "render", "--allow-exec", pkg])
    assert again.returncode == 0, again.stderr.decode()
    assert {p: p.read_bytes() for p in sorted(pkg.rglob("*")) if p.is_file()} == snapshot


# --- the README's specs, as written -------------------------------------------------------------


def readme_blocks() -> list[dict[str, Any]]:
    """The YAML blocks of the README's section on routers and modes."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Choosing a router and a mode\n", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_the_readmes_specs_render_as_the_table_says() -> None:
    blocks = readme_blocks()
    kinds = [b["kind"] for b in blocks]
    assert kinds == ["RayTenants", "HTTPRoute", "RayTenants", "Gateway", "RayTenants"], kinds
    istio_path, route, gateway_path, gw, host = blocks
    cluster, vs = (yamlio.load(p.read_text()) for p in example_bases() if p.name != "kustomization.yaml")
    assert (cluster["kind"], vs["kind"]) == ("RayCluster", "VirtualService")

    outcome = expanded([cluster, vs], istio_path)
    assert errors(outcome) == []
    rules = of_kind(outcome, "VirtualService")["research"]["spec"]["http"]
    assert [r["match"][0]["uri"] for r in rules] == [
        {"exact": "/research-team"},
        {"prefix": "/research-team/"},
    ]

    outcome = expanded([cluster, route, gw], gateway_path)
    assert errors(outcome) == []
    routes = of_kind(outcome, "HTTPRoute")
    assert routes["mlops"]["spec"]["rules"][1]["matches"][0]["path"] == {
        "type": "PathPrefix",
        "value": "/mlops/",
    }
    assert of_kind(outcome, "Namespace")["mlops"]["metadata"]["labels"][ACCESS_KEY] == ACCESS_VALUE
    for obj in routes.values():
        if UPSTREAM.is_dir():
            assert_valid(obj)

    for base, field in ((vs, "hosts"), (route, "hostnames")):
        outcome = expanded([cluster, base], host)
        assert errors(outcome) == []
        copies = of_kind(outcome, base["kind"])
        assert copies["mlops"]["spec"][field] == ["mlops.ray.example.com"]
        assert copies["research"]["spec"][field] == ["ray-research.example.org"]


# --- a tenant's patches on its HTTPRoute ---------------------------------------------------------


def patched(*ops: dict[str, Any], **routing: Any) -> list[tuple[str, str]]:
    tenant = {
        "name": "mlops",
        "patches": [{"target": {"kind": "HTTPRoute", "name": "dash"}, "patch": list(ops)}],
    }
    return errors(expanded([CLUSTER, http_route()], spec([tenant, {"name": "research"}], **routing)))


PATCH = "spec.tenants[0].patches[0].patch"


@pytest.mark.parametrize(
    ("ops", "routing", "words"),
    [
        # rules the function writes: a change would be lost
        (
            [{"op": "add", "path": "/spec/rules/-", "value": {"backendRefs": [{"name": "x"}]}}],
            {},
            "would be lost",
        ),
        # another Gateway than the base's
        (
            [{"op": "replace", "path": "/spec/parentRefs/0/name", "value": "other"}],
            {},
            "bound to gateway 'infra/other'",
        ),
        # a parentRef without namespace is the tenant's own namespace
        (
            [{"op": "add", "path": "/spec/parentRefs/-", "value": {"name": "gw2"}}],
            {},
            "bound to gateway 'mlops/gw2'",
        ),
        # another host than the configured one
        (
            [{"op": "add", "path": "/spec/hostnames/-", "value": "research.example.com"}],
            {},
            "serves host 'research.example.com'",
        ),
        # what the spec replaces
        (
            [{"op": "replace", "path": "/spec/hostnames", "value": ["x.example.com"]}],
            {"hostTemplate": "{tenant}.ray.example.com"},
            "the tenant's host replaces spec.hostnames",
        ),
        (
            [{"op": "replace", "path": "/spec/parentRefs", "value": [{"name": "gw2", "namespace": "infra"}]}],
            {"parentRefs": [{"name": "gw", "namespace": "infra"}]},
            "routing.parentRefs replaces spec.parentRefs",
        ),
        ([{"op": "add", "path": "/metadata/namespace", "value": "research"}], {}, "namespace"),
    ],
)
def test_a_tenants_patch_that_changes_its_http_route_is_refused_naming_the_patch(
    ops: list[dict[str, Any]], routing: dict[str, Any], words: str
) -> None:
    found = patched(*ops, **routing)
    assert any(field.startswith(PATCH) and words in message for field, message in found), found


def test_a_patch_that_keeps_the_route_as_the_policy_wants_is_fine() -> None:
    assert patched({"op": "add", "path": "/metadata/annotations", "value": {"team": "ml"}}) == []


def test_the_configmap_form_takes_a_host_template() -> None:
    """`kpt fn eval --exec ray-tenants -- tenants=a,b hostTemplate={tenant}.ray.example.com`."""
    data = {"tenants": "a,b", "hostTemplate": "{tenant}.ray.example.com"}
    config = parse_config({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    assert [t.host for t in config.tenants] == ["a.ray.example.com", "b.ray.example.com"]
    with pytest.raises(FnError) as caught:
        parse_config(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"tenants": "a", "hostTemplate": "x"},
            }
        )
    assert [r.field for r in caught.value.results] == ["data.hostTemplate"]


def test_in_host_mode_the_gateway_policy_covers_the_tenants_host_at_every_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwt = {
        "issuer": "https://idp.example.com",
        "jwksUri": "https://idp.example.com/keys",
        "groupsClaim": "groups",
    }
    config = spec([{"name": "mlops"}], hostTemplate="{tenant}.ray.example.com")
    config["spec"]["access"] = {"gateway": {"namespace": "infra", "selector": {"app": "gw"}, "jwt": jwt}}
    outcome = expanded([CLUSTER, http_route()], config)
    assert errors(outcome) == []
    (policy,) = [o for o in outcome.items if o["kind"] == "AuthorizationPolicy"]
    operations = [to["operation"] for rule in policy["spec"]["rules"] for to in rule["to"]]
    # Istio: `/*` is every path, `/` included; hosts with and without a port
    assert (
        operations == [{"hosts": ["mlops.ray.example.com", "mlops.ray.example.com:*"], "paths": ["/*"]}] * 2
    )
    # and the check, which probes the routes' paths against the policies, agrees
    monkeypatch.chdir(tmp_path)
    Path("in.yaml").write_text(yamlio.dump_all([CLUSTER, http_route()]))
    Path("tenants.yaml").write_text(yamlio.dump(config))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["check", "--config", "tenants.yaml", "in.yaml"], out, err) == 0, out.getvalue()
