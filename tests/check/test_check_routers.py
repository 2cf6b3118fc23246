"""`ray-tenants check` on the output of every router and mode, and on hand-written HTTPRoutes.

The rendered streams of the router golden cases pass, with the spec and without it (a hydrated
stream, as a pre-commit hook sees it); an HTTPRoute that takes, rewrites or sends another
tenant's traffic is an error on its field, as the same route written as a VirtualService is.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, yamlio
from tests.conftest import TESTDATA

CASES = sorted(p.name for p in (TESTDATA / "overlays").iterdir() if p.name.startswith("router-"))
PATH_CASE = TESTDATA / "overlays" / "router-gateway-api-path"
PARENT = {"name": "ray-gateway", "namespace": "gateway-infra", "sectionName": "https"}


def render(case: Path) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["render", "--config", str(case / "tenants.yaml"), str(case / "base")], out, err)
    assert code == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d is not None]


def check(tmp: Path, objects: list[dict[str, Any]], *args: str) -> tuple[int, str]:
    stream = tmp / "stream.yaml"
    stream.write_text(yamlio.dump_all(objects))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", *args, str(stream)], out, err)
    return code, out.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_what_each_router_and_mode_renders_passes_the_check(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no generated files here: the spec's check has no drift to see
    code, report = check(tmp_path, render(TESTDATA / "overlays" / case))
    assert (code, report) == (0, "")
    out, err = io.StringIO(), io.StringIO()
    folder = TESTDATA / "overlays" / case
    assert (
        cli.main(["check", "--config", str(folder / "tenants.yaml"), str(folder / "base")], out, err) == 0
    ), out.getvalue()


def grab(*more: dict[str, Any], **rule: Any) -> dict[str, Any]:
    """A hand-written HTTPRoute in the research namespace, on the tenants' parent and hostname."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "grab", "namespace": "research"},
        "spec": {"parentRefs": [PARENT], "hostnames": ["Ray.Example.com"], "rules": [rule, *more]},
    }


REDIRECT = {
    "matches": [{"path": {"type": "Exact", "value": "/research-team"}}],
    "filters": [
        {
            "type": "RequestRedirect",
            "requestRedirect": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/research-team/"}},
        }
    ],
}
REWRITE = {
    "type": "URLRewrite",
    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
}
OWN = [{"name": "ray-head-svc", "port": 8265}]


@pytest.mark.parametrize(
    ("route", "field", "words"),
    [
        # another tenant's prefix on the same parent and hostname (hostnames compare case-insensitively)
        (
            grab(
                matches=[{"path": {"type": "PathPrefix", "value": "/mlops"}}],
                filters=[REWRITE],
                backendRefs=OWN,
            ),
            "spec.rules[0].matches[0].path.value",
            "is the same as '/mlops/' of HTTPRoute/mlops/dashboard on host 'ray.example.com'",
        ),
        (
            grab(matches=[{"path": {"type": "Exact", "value": "/mlops/api/jobs/"}}], backendRefs=OWN),
            "spec.rules[0].matches[0].path.value",
            "HTTPRoute/mlops/dashboard",
        ),
        (
            grab(matches=[{"path": {"type": "RegularExpression", "value": "/mlops/.*"}}], backendRefs=OWN),
            "spec.rules[0].matches[0].path.value",
            "regex",
        ),
        # a backend or a mirror in another namespace
        (
            grab(
                matches=[{"path": {"type": "PathPrefix", "value": "/research-team/"}}],
                filters=[REWRITE],
                backendRefs=[{"name": "ray-head-svc", "namespace": "mlops", "port": 8265}],
            ),
            "spec.rules[0].backendRefs[0].name",
            "in namespace 'mlops'",
        ),
        (
            grab(
                matches=[{"path": {"type": "Exact", "value": "/research-team/x"}}],
                filters=[
                    {
                        "type": "RequestMirror",
                        "requestMirror": {
                            "backendRef": {"name": "ray-head-svc", "namespace": "mlops", "port": 8265}
                        },
                    }
                ],
                backendRefs=OWN,
            ),
            "spec.rules[0].filters[0].requestMirror.backendRef.name",
            "mirrors requests to",
        ),
        # the tenant's own prefix, without what the dashboard needs
        (
            grab(matches=[{"path": {"type": "PathPrefix", "value": "/research-team/"}}], backendRefs=OWN),
            "spec.rules[0]",
            "expected a `URLRewrite` filter with `ReplacePrefixMatch: /`",
        ),
        (
            grab(
                matches=[{"path": {"type": "PathPrefix", "value": "/research-team/"}}],
                filters=[
                    {
                        **REWRITE,
                        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/x"}},
                    }
                ],
                backendRefs=OWN,
            ),
            "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch",
            "got '/x'",
        ),
        (
            grab(
                matches=[{"path": {"type": "PathPrefix", "value": "/research-team/"}}],
                filters=[REWRITE],
                backendRefs=[{"name": "ray-head-svc", "port": 80}],
            ),
            "spec.rules[0].backendRefs[0].port",
            "dashboard port 8265",
        ),
        (
            grab(
                # a rule to the tenant's head makes it a tenant's route
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/research-team/"}}],
                    "filters": [REWRITE],
                    "backendRefs": OWN,
                },
                **{
                    **REDIRECT,
                    "filters": [
                        {"type": "RequestRedirect", "requestRedirect": {"hostname": "evil.example.org"}}
                    ],
                },
            ),
            "spec.rules[0].filters[0].requestRedirect.hostname",
            "redirects to host 'evil.example.org'",
        ),
        (grab(backendRefs=OWN), "spec.rules[0].match", "matches every path"),
    ],
)
def test_a_hand_written_http_route_that_takes_or_leaks_traffic_is_an_error_on_its_field(
    route: dict[str, Any], field: str, words: str, tmp_path: Path
) -> None:
    code, report = check(tmp_path, [*render(PATH_CASE), route])
    assert code == 1
    lines = [line for line in report.splitlines() if "HTTPRoute/research/grab" in line]
    assert any(f" {field}: " in line and words in line for line in lines), report


def test_a_route_without_hostnames_takes_part_on_every_host_of_its_gateway(tmp_path: Path) -> None:
    route = grab(
        matches=[{"path": {"type": "PathPrefix", "value": "/mlops/"}}], filters=[REWRITE], backendRefs=OWN
    )
    del route["spec"]["hostnames"]
    code, report = check(tmp_path, [*render(PATH_CASE), route])
    assert code == 1
    assert (
        "HTTPRoute/research/grab spec.rules[0].matches[0].path.value: prefix '/mlops/' is the same as"
        in report
    )
    assert "of HTTPRoute/mlops/dashboard on host 'ray.example.com'" in report


def test_the_redirect_is_required_for_a_path_prefix(tmp_path: Path) -> None:
    objects = render(PATH_CASE)
    route = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["namespace"] == "research")
    del route["spec"]["rules"][0]
    code, report = check(tmp_path, objects)
    assert code == 1
    assert (
        "HTTPRoute/research/dashboard spec.rules[0]: no redirect from '/research-team' to '/research-team/'"
        in report
    )


def test_a_host_mode_route_shares_its_host_with_no_other(tmp_path: Path) -> None:
    objects = render(TESTDATA / "overlays" / "router-gateway-api-host")
    mlops = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["namespace"] == "mlops")
    # research claims mlops' host: both '/' rules are then a catch-all on a shared host, and overlap
    thief = copy.deepcopy(mlops)
    thief["metadata"] = {**thief["metadata"], "namespace": "research", "name": "thief"}
    code, report = check(tmp_path, [*objects, thief])
    assert code == 1
    assert (
        "HTTPRoute/research/thief" in report
        and "HTTPRoute/mlops/dashboard on host 'mlops.ray.example.com'" in report
    )
    assert "prefix '/' catches every other tenant's traffic" in report


def test_a_host_mode_route_serves_the_path_as_requested(tmp_path: Path) -> None:
    objects = render(TESTDATA / "overlays" / "router-gateway-api-host")
    mlops = next(o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["namespace"] == "mlops")
    mlops["spec"]["rules"][0]["filters"] = [
        {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/mlops"}},
        }
    ]
    code, report = check(tmp_path, objects)
    assert code == 1
    assert (
        "HTTPRoute/mlops/dashboard spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch: rewrites the path to '/mlops'"
        in report
    )


def test_the_check_says_which_gateway_refuses_a_tenant_namespace(tmp_path: Path) -> None:
    objects = render(PATH_CASE)
    gateway = yaml.safe_load(
        (TESTDATA / "krm" / "router-gateway-api-path" / "resources.yaml").read_text().split("\n---\n")[2]
    )
    assert check(tmp_path, [*objects, gateway]) == (0, "")
    for obj in objects:
        if obj["kind"] == "Namespace" and obj["metadata"]["name"] == "research":
            del obj["metadata"]["labels"]["fn.ray-tenants.dev/gateway-access"]
    code, report = check(tmp_path, [*objects, gateway])
    assert code == 1
    (line,) = report.splitlines()
    assert (
        "HTTPRoute/research/dashboard spec.parentRefs[0]: Gateway/gateway-infra/ray-gateway admits no route from namespace 'research'"
        in line
    )
