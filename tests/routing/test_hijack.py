"""Routes that take another tenant's traffic: refused by render (where a tenant's patch writes them)
and flagged by check, through the real command and in-process.

The hydrated stream is what `render` writes for two tenants, mlops and research, on one host and
gateway; each case adds or changes one route. Every expected finding is written out by hand.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli
from tests.conftest import REPO, run

HOST = "ray.example.com"
GATEWAY = "asm-ingress/gw"
MLOPS_HEAD = "raycluster-head-svc.mlops.svc.cluster.local"
RAYCLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "raycluster"},
    "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}}},
}


def base_vs(**match: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "ray-dashboard"},
        "spec": {
            "hosts": [HOST],
            "gateways": [GATEWAY],
            "http": [
                {
                    "match": [{"uri": {"prefix": "/ray/"}, **match}],
                    "rewrite": {"uri": "/"},
                    "route": [{"destination": {"host": "raycluster-head-svc", "port": {"number": 8265}}}],
                }
            ],
        },
    }


def spec(tenants: list[dict[str, Any]], **routing: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tenants": [{"spot": False, **t} for t in tenants]}
    if routing:
        body["routing"] = routing
    return {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "tenants"},
        "spec": body,
    }


def write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def in_process(args: list[str | Path]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], out, err)
    return code, out.getvalue(), err.getvalue()


def command(args: list[str | Path]) -> tuple[int, str, str]:
    proc = run([sys.executable, "-m", "krm_fn", *args], cwd=REPO)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


RUNS = {"in-process": in_process, "command": command}
LOCATION = re.compile(r"^\S+?:(\d+:)? ")


def findings(text: str) -> list[str]:
    """Each reported line without its `file:line: ` (the findings' own text is the oracle)."""
    return [LOCATION.sub("", line) for line in text.splitlines() if LOCATION.match(line)]


# ---------------------------------------------------------------------------------------------
# a tenant's patches: render refuses them, check (with the spec) flags them

PATCH = "RayTenants/tenants spec.tenants[1].patches[0].patch: patch for VirtualService/ray-dashboard of tenant 'research': "
TCP_TO_MLOPS = [
    {
        "op": "add",
        "path": "/spec/tcp",
        "value": [
            {
                "match": [{"port": 6379}],
                "route": [{"destination": {"host": MLOPS_HEAD, "port": {"number": 6379}}}],
            }
        ],
    }
]
FOREIGN_NS = f"routes to {MLOPS_HEAD!r} in namespace 'mlops'; a tenant's route must stay in its own namespace 'research'"
CONNECTIONS = "takes whole connections on its gateway, not a path: a tenant's route serves HTTP under its own prefix only"
LOST_HTTP = (
    "spec.http: the function writes each tenant's http rules (the redirect and the dashboard route) from the "
    "base's route, so this change would be lost; change the base's route instead"
)
KEEPS = "a tenant's copy keeps its base's name, in the tenant's namespace (a patch cannot rename or move it)"

PATCH_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], list[str]]] = [
    (
        "tcp to another namespace",
        TCP_TO_MLOPS,
        {},
        [f"spec.tcp[0]: a tcp rule {CONNECTIONS}", f"spec.tcp[0].route[0].destination.host: {FOREIGN_NS}"],
    ),
    (
        "tls to another namespace",
        [
            {
                "op": "add",
                "path": "/spec/tls",
                "value": [
                    {"match": [{"sniHosts": [HOST]}], "route": [{"destination": {"host": MLOPS_HEAD}}]}
                ],
            }
        ],
        {},
        [f"spec.tls[0]: a tls rule {CONNECTIONS}", f"spec.tls[0].route[0].destination.host: {FOREIGN_NS}"],
    ),
    (
        "every host",
        [{"op": "add", "path": "/spec/hosts/0", "value": "*"}],
        {},
        [f"spec.hosts: serves host '*'; a tenant's route serves only the configured hosts ({HOST})"],
    ),
    (
        "another gateway",
        [{"op": "add", "path": "/spec/gateways/-", "value": "gw.other.svc.cluster.local"}],
        {},
        [
            "spec.gateways: bound to gateway 'other/gw'; a tenant's route is bound only to the configured gateways (asm-ingress/gw)"
        ],
    ),
    (
        "a regex rule, dropped silently before",
        [
            {
                "op": "add",
                "path": "/spec/http/0",
                "value": {
                    "match": [{"uri": {"regex": "/mlops/.*"}}],
                    "route": [{"destination": {"host": MLOPS_HEAD}}],
                },
            }
        ],
        {},
        [LOST_HTTP],
    ),
    (
        "a mirror, dropped silently before",
        [{"op": "add", "path": "/spec/http/0/mirror", "value": {"host": MLOPS_HEAD}}],
        {},
        [LOST_HTTP],
    ),
    (
        "hosts the spec replaces",
        [{"op": "replace", "path": "/spec/hosts", "value": ["*"]}],
        {"hosts": [HOST]},
        [
            "spec.hosts: the tenant spec's routing.hosts replaces spec.hosts in every tenant's route, so this change would be lost"
        ],
    ),
    (
        "renamed",
        [{"op": "replace", "path": "/metadata/name", "value": "mlops-dashboard"}],
        {},
        [f"metadata.name: changed from 'ray-dashboard' to 'mlops-dashboard'; {KEEPS}"],
    ),
    (
        "moved",
        [{"op": "add", "path": "/metadata/namespace", "value": "mlops"}],
        {},
        [f"metadata.namespace: changed to 'mlops'; {KEEPS}"],
    ),
]


def patched_setup(tmp_path: Path, ops: list[dict[str, Any]], routing: dict[str, Any]) -> tuple[Path, Path]:
    research = {
        "name": "research",
        "patches": [{"target": {"kind": "VirtualService", "name": "ray-dashboard"}, "patch": ops}],
    }
    config = write(tmp_path / "tenants.yaml", [spec([{"name": "mlops"}, research], **routing)])
    bases = write(tmp_path / "base.yaml", [RAYCLUSTER, base_vs()])
    return config, bases


@pytest.mark.parametrize("how", RUNS)
@pytest.mark.parametrize(
    ("ops", "routing", "expected"), [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES]
)
def test_render_refuses_a_patch_that_hijacks_and_check_flags_it(
    tmp_path: Path, how: str, ops: list[dict[str, Any]], routing: dict[str, Any], expected: list[str]
) -> None:
    config, bases = patched_setup(tmp_path, ops, routing)
    code, out, err = RUNS[how](["render", "--config", config, bases])
    assert (code, out) == (1, "")
    assert findings(err) == [PATCH + e for e in expected]
    code, out, _ = RUNS[how](["check", "--select", "policy", "--config", config, bases])
    assert code == 1
    assert findings(out) == [PATCH + e for e in expected]
    # the finding points at the tenant's patch in the spec
    assert all(line.startswith(f"{config}:") for line in out.splitlines())


@pytest.mark.parametrize(
    ("op", "field", "value"),
    [
        (
            {"op": "replace", "path": "/spec/gateways/0", "value": "gw.asm-ingress.svc.cluster.local"},
            "gateways",
            None,
        ),
        ({"op": "add", "path": "/spec/hosts/-", "value": HOST.upper()}, "hosts", [HOST, HOST.upper()]),
        ({"op": "add", "path": "/spec/exportTo", "value": ["*"]}, "exportTo", ["*"]),
    ],
    ids=["the same gateway as an FQDN", "the same host in capitals", "another field"],
)
def test_a_patch_that_serves_the_same_place_renders(
    tmp_path: Path, op: dict[str, Any], field: str, value: list[str] | None
) -> None:
    config, bases = patched_setup(tmp_path, [op], {})
    code, out, err = in_process(["render", "--config", config, bases])
    assert (code, err) == (0, "")
    route = research_route([d for d in yaml.safe_load_all(out) if d])
    assert route["spec"][field] == (value or [op["value"]])
    assert in_process(["check", "--select", "policy", "--config", config, bases])[:2] == (0, "")


def test_a_base_route_that_mirrors_to_a_namespace_is_refused_for_every_other_tenant(tmp_path: Path) -> None:
    base = base_vs()
    base["spec"]["http"][0]["mirror"] = {"host": MLOPS_HEAD}
    config = write(tmp_path / "tenants.yaml", [spec([{"name": "mlops"}, {"name": "research"}])])
    bases = write(tmp_path / "base.yaml", [RAYCLUSTER, base])
    code, out, err = in_process(["render", "--config", config, bases])
    assert (code, out) == (1, "")
    mirror = f"mirrors requests to {MLOPS_HEAD!r} in namespace 'mlops'; a tenant's route must stay in its own namespace 'research'"
    assert findings(err) == [f"VirtualService/research/ray-dashboard spec.http[1].mirror.host: {mirror}"]
    assert err.startswith(f"{bases}:")


# ignoreUriCase: a base match that ignores case makes /MLOps/ and /mlops/ one prefix

CASE_FOLDED = (
    "prefix '/MLOps/' is the same as (ignoring case) '/mlops/' of VirtualService/mlops/ray-dashboard on host "
    f"{HOST!r} and gateway {GATEWAY!r}: Istio merges them in an undefined order"
)


@pytest.mark.parametrize("how", RUNS)
def test_prefixes_that_differ_in_case_overlap_where_the_base_ignores_case(tmp_path: Path, how: str) -> None:
    config = write(
        tmp_path / "tenants.yaml", [spec([{"name": "mlops"}, {"name": "upper", "pathPrefix": "/MLOps/"}])]
    )
    bases = write(tmp_path / "base.yaml", [RAYCLUSTER, base_vs(ignoreUriCase=True)])
    code, out, err = RUNS[how](["render", "--config", config, bases])
    assert (code, out) == (1, "")
    expected = f"RayTenants/tenants spec.tenants[1].pathPrefix: the route of tenant 'upper': {CASE_FOLDED}"
    assert findings(err) == [expected]
    code, out, _ = RUNS[how](["check", "--select", "policy", "--config", config, bases])
    assert (code, findings(out)) == (1, [expected])
    # the same tenants on a base that keeps case are two prefixes
    write(bases, [RAYCLUSTER, base_vs()])
    assert RUNS[how](["render", "--config", config, bases])[0] == 0


def test_overlays_are_refused_for_prefixes_that_differ_in_case_and_nothing_is_written(tmp_path: Path) -> None:
    config = write(
        tmp_path / "tenants.yaml", [spec([{"name": "mlops"}, {"name": "upper", "pathPrefix": "/MLOps/"}])]
    )
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "resources.yaml", [RAYCLUSTER, base_vs(ignoreUriCase=True)])
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [resources.yaml]\n")
    out_dir = tmp_path / "out"
    code, out, err = in_process(
        ["render", "--config", config, "--output", "overlays", "--out", out_dir, tmp_path / "base"]
    )
    assert (code, out) == (1, "")
    assert findings(err) == [
        f"RayTenants/tenants spec.tenants[1].pathPrefix: the route of tenant 'upper': {CASE_FOLDED}"
    ]
    assert not out_dir.exists()


# ---------------------------------------------------------------------------------------------
# a hydrated stream: check flags the routes that take or leak another tenant's traffic


def hydrated(tmp_path: Path) -> list[dict[str, Any]]:
    """What render writes for mlops and research: Namespace, RayCluster, VirtualService each."""
    config = write(tmp_path / "tenants.yaml", [spec([{"name": "mlops"}, {"name": "research"}])])
    bases = write(tmp_path / "base.yaml", [RAYCLUSTER, base_vs()])
    code, out, err = in_process(["render", "--config", config, bases])
    assert (code, err) == (0, ""), err
    return [d for d in yaml.safe_load_all(out) if d]


def research_route(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "VirtualService" and d["metadata"]["namespace"] == "research")


def vs(namespace: str, name: str, http: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    body = {"hosts": [HOST], "gateways": [GATEWAY], **spec, "http": http}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def to(host: str, port: int = 8265) -> list[dict[str, Any]]:
    return [{"destination": {"host": host, "port": {"number": port}}}]


def tenant_rules(prefix: str, **match: Any) -> list[dict[str, Any]]:
    """The two rules of a tenant's prefix, as render writes them, to the research head."""
    return [
        {"match": [{"uri": {"exact": prefix.rstrip("/")}, **match}], "redirect": {"uri": prefix}},
        {
            "match": [{"uri": {"prefix": prefix}, **match}],
            "rewrite": {"uri": "/"},
            "route": to("raycluster-head-svc"),
        },
    ]


MLOPS_VS = "VirtualService/mlops/ray-dashboard"
ON = f"on host {HOST!r} and gateway {GATEWAY!r}: Istio merges them in an undefined order"
THEIRS = f"in namespace 'mlops' (the namespace of {MLOPS_VS}); a tenant's route must stay in its own namespace 'research'"


def add_regex(docs: list[dict[str, Any]]) -> list[str]:
    docs.append(
        vs(
            "research",
            "hijack",
            [{"match": [{"uri": {"regex": "/mlops/.*"}}], "route": to("raycluster-head-svc")}],
        )
    )
    where = "VirtualService/research/hijack spec.http[0].match[0].uri.regex"
    return [
        f"{where}: regex '/mlops/.*': a tenant's route matches only its own prefix (`exact` and `prefix`); a regex can take any tenant's paths",
        f"{where}: regex '/mlops/.*' overlaps prefix '/mlops/' of {MLOPS_VS} {ON}",
    ]


def add_unanchored_regex(docs: list[dict[str, Any]]) -> list[str]:
    """A regex with no literal start may match any path: it is taken to, on a shared host and gateway."""
    docs.append(
        vs(
            "research",
            "hijack",
            [{"match": [{"uri": {"regex": "(/research|/mlops)/.*"}}], "route": to("raycluster-head-svc")}],
        )
    )
    where = "VirtualService/research/hijack spec.http[0].match[0].uri.regex"
    regex = "'(/research|/mlops)/.*'"
    return [
        f"{where}: regex {regex}: a tenant's route matches only its own prefix (`exact` and `prefix`); a regex can take any tenant's paths",
        f"{where}: regex {regex} overlaps exact path '/mlops' of {MLOPS_VS} {ON}",
        f"{where}: regex {regex} overlaps exact path '/research' of VirtualService/research/ray-dashboard {ON}",
    ]


def add_exact_to_mlops(docs: list[dict[str, Any]]) -> list[str]:
    docs.append(
        vs("research", "jobs", [{"match": [{"uri": {"exact": "/research/jobs"}}], "route": to(MLOPS_HEAD)}])
    )
    where = "VirtualService/research/jobs spec.http[0]"
    return [
        f"{where}.route[0].destination.host: routes to {MLOPS_HEAD!r} {THEIRS}",
        f"{where}.match[0].uri.exact: exact path '/research/jobs' is nested in prefix '/research/' of "
        f"VirtualService/research/ray-dashboard {ON}",
    ]


def add_fqdn_gateway(docs: list[dict[str, Any]]) -> list[str]:
    docs.append(
        vs("research", "shadow", tenant_rules("/mlops/"), gateways=["gw.asm-ingress.svc.cluster.local"])
    )
    return [
        f"VirtualService/research/shadow spec.http[1].match[0].uri.prefix: prefix '/mlops/' is the same as '/mlops/' of {MLOPS_VS} {ON}"
    ]


def add_case_folded(docs: list[dict[str, Any]]) -> list[str]:
    docs.append(vs("research", "upper", tenant_rules("/MLOps/", ignoreUriCase=True)))
    return [
        f"VirtualService/research/upper spec.http[1].match[0].uri.prefix: prefix '/MLOps/' is the same as (ignoring case) "
        f"'/mlops/' of {MLOPS_VS} {ON}"
    ]


def add_foreign(docs: list[dict[str, Any]]) -> list[str]:
    docs.append(vs("web", "web", [{"match": [{"uri": {"prefix": "/mlops/"}}], "route": to("web", 80)}]))
    return [
        "VirtualService/web/web spec.http[0].match[0].uri.prefix: warning: prefix '/mlops/' is the same as '/mlops/' of "
        f"{MLOPS_VS} {ON}, so this route, which serves no Ray dashboard, can take a tenant's traffic"
    ]


def add_mirror(docs: list[dict[str, Any]]) -> list[str]:
    research_route(docs)["spec"]["http"][1]["mirror"] = {"host": MLOPS_HEAD, "port": {"number": 8265}}
    return [
        f"VirtualService/research/ray-dashboard spec.http[1].mirror.host: mirrors requests to {MLOPS_HEAD!r} {THEIRS}"
    ]


def add_tcp(docs: list[dict[str, Any]]) -> list[str]:
    research_route(docs)["spec"]["tcp"] = TCP_TO_MLOPS[0]["value"]
    return [
        f"VirtualService/research/ray-dashboard spec.tcp[0]: a tcp rule {CONNECTIONS}",
        f"VirtualService/research/ray-dashboard spec.tcp[0].route[0].destination.host: routes to {MLOPS_HEAD!r} {THEIRS}",
    ]


def add_redirect_away(docs: list[dict[str, Any]]) -> list[str]:
    research_route(docs)["spec"]["http"][0]["redirect"]["authority"] = "login.example.org"
    docs.append(vs("web", "login", [{"route": to("login", 80)}], hosts=["login.example.org"]))
    return [
        "VirtualService/research/ray-dashboard spec.http[0].redirect.authority: redirects to host 'login.example.org', "
        f"which this route does not serve ({HOST}): a tenant's redirect stays on its own hosts; "
        "VirtualService/web/login serves it"
    ]


STREAM_CASES = {
    "a regex rule matching /mlops/.*": add_regex,
    "a regex rule with no literal start": add_unanchored_regex,
    "an exact rule to another namespace's head": add_exact_to_mlops,
    "the same gateway as an FQDN": add_fqdn_gateway,
    "a prefix in other case that ignores case": add_case_folded,
    "a route that serves no Ray dashboard (warning)": add_foreign,
    "a mirror to another namespace": add_mirror,
    "a tcp route to another namespace": add_tcp,
    "a redirect to another host": add_redirect_away,
}


def test_the_hydrated_stream_itself_passes(tmp_path: Path) -> None:
    stream = write(tmp_path / "stream.yaml", hydrated(tmp_path))
    assert in_process(["check", stream]) == (0, "", "")


@pytest.mark.parametrize("how", RUNS)
@pytest.mark.parametrize("case", STREAM_CASES)
def test_check_flags_a_route_that_takes_or_leaks_another_tenants_traffic(
    tmp_path: Path, how: str, case: str
) -> None:
    docs = hydrated(tmp_path)
    expected = STREAM_CASES[case](docs)
    stream = write(tmp_path / "stream.yaml", docs)
    code, out, _ = RUNS[how](["check", "--select", "policy", stream])
    assert sorted(findings(out)) == sorted(expected)
    assert code == (0 if all("warning:" in e for e in expected) else 1)
