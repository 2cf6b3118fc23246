"""`ray-tenants check` verifies every isolation layer on a stream, in-process and as the real command.

The stream is the expansion of the example with `spec.access` (tests/isolation/generated.py),
as `kubectl kustomize` or `ray-tenants render` would hand it over, broken one layer at a time.
Hand-written policies that admit the same traffic pass: the check evaluates policies, it does
not compare them with the generated ones.
"""

from __future__ import annotations

import copy
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli
from tests.conftest import REPO, run
from tests.isolation.generated import GATEWAY_NAMESPACE, render, spec

Objects = list[dict[str, Any]]
Check = Callable[..., tuple[int, list[str]]]


def in_process(*args: str | Path, cwd: Path) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        code = cli.main(["check", *map(str, args)], out, err)
    return code, out.getvalue().splitlines()


def as_command(*args: str | Path, cwd: Path) -> tuple[int, list[str]]:
    done = run([sys.executable, "-m", "krm_fn", "check", *args], cwd=cwd, PYTHONPATH=str(REPO))
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done.returncode, done.stdout.decode().splitlines()


@pytest.fixture(params=[in_process, as_command], ids=["in-process", "command"])
def check(request: pytest.FixtureRequest) -> Check:
    runner: Check = request.param
    return runner


def stream_spec(**access: Any) -> dict[str, Any]:
    """The spec of the stream (its tenants' patches are already in the stream), `access` merged in."""
    out = spec()
    for tenant in out["spec"]["tenants"]:
        tenant.pop("patches", None)
    out["spec"]["access"].update(access)
    return out


def write(tmp: Path, objects: Objects, spec_doc: dict[str, Any] | None) -> list[str]:
    """The stream (and the spec) in files; the check's arguments for them."""
    (tmp / "stream.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    if spec_doc is None:
        return ["stream.yaml"]
    (tmp / "tenants.yaml").write_text(yaml.safe_dump(spec_doc, sort_keys=False))
    # a stream without its bases: drift has nothing to compare it with
    return ["--select", "schema,policy", "--config", "tenants.yaml", "stream.yaml"]


def find(objects: Objects, kind: str, namespace: str, name: str | None = None) -> dict[str, Any]:
    return next(
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"].get("namespace") == namespace
        and (name is None or o["metadata"]["name"] == name)
    )


def without(objects: Objects, kind: str, namespace: str, name: str | None = None) -> Objects:
    doomed = find(objects, kind, namespace, name)
    return [o for o in objects if o is not doomed]


def errors(lines: list[str]) -> list[str]:
    return [line for line in lines if ": warning: " not in line and ": info: " not in line]


@pytest.fixture
def stream(generated: Objects) -> Objects:
    return copy.deepcopy(generated)


def test_the_generated_stream_passes(check: Check, stream: Objects, tmp_path: Path) -> None:
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert (code, lines) == (0, [])


# --- Ray auth ----------------------------------------------------------------------------------


def test_a_tenant_cluster_without_token_auth_is_an_error(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    del find(stream, "RayCluster", "mlops")["spec"]["authOptions"]
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert code == 1
    assert len(errors(lines)) == 1
    assert "RayCluster/mlops/raycluster spec.authOptions.mode: no Ray token auth" in lines[0]
    assert "spec.access.rayAuth: none" in lines[0]


def test_auth_off_by_an_empty_authoptions_and_in_a_rayjob(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    find(stream, "RayCluster", "research")["spec"]["authOptions"] = {}
    job: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": "nightly",
            "namespace": "mlops",
            "labels": find(stream, "RayCluster", "mlops")["metadata"]["labels"],
        },
        "spec": {
            "entrypoint": "python -c 'print(1)'",
            "rayClusterSpec": copy.deepcopy(find(stream, "RayCluster", "mlops")["spec"]),
        },
    }
    job["spec"]["rayClusterSpec"]["authOptions"] = {"mode": "disabled"}
    code, lines = check(*write(tmp_path, [*stream, job], stream_spec()), cwd=tmp_path)
    assert code == 1
    found = errors(lines)
    assert any("RayCluster/research/raycluster spec.authOptions.mode: no Ray token auth" in x for x in found)
    assert any(
        "RayJob/mlops/nightly spec.rayClusterSpec.authOptions.mode: no Ray token auth" in x for x in found
    )


def test_ray_auth_none_is_a_warning_per_tenant(check: Check, stream: Objects, tmp_path: Path) -> None:
    for cluster in (o for o in stream if o["kind"] == "RayCluster"):
        del cluster["spec"]["authOptions"]
    code, lines = check(*write(tmp_path, stream, stream_spec(rayAuth="none")), cwd=tmp_path)
    assert code == 0, lines
    assert [line.split(": warning: ")[1] for line in lines] == [
        "anyone who reaches ray.example.com/mlops/ can run code in namespace mlops",
        "anyone who reaches ray.example.com/research/ can run code in namespace research",
    ]


# --- NetworkPolicy -----------------------------------------------------------------------------


def policy(
    namespace: str, selector: dict[str, Any], *rules: dict[str, Any], name: str = "extra"
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": list(rules)},
    }


def from_namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def test_ray_pods_no_policy_selects_are_an_error(check: Check, stream: Objects, tmp_path: Path) -> None:
    stream = [
        o for o in stream if not (o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "mlops")
    ]
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert code == 1
    assert [line.split(": ")[1] for line in errors(lines)] == [
        "RayCluster/mlops/raycluster spec.headGroupSpec",
        "RayCluster/mlops/raycluster spec.workerGroupSpecs[0]",
        "RayCluster/mlops/raycluster spec.workerGroupSpecs[1]",
    ]
    assert (
        "no NetworkPolicy in namespace mlops selects the head pods of RayCluster mlops/raycluster" in lines[0]
    )


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        (
            policy("mlops", {}, {"from": [{"namespaceSelector": {}}]}),
            "spec.ingress[0].from[0]",
            "pods of every namespace",
        ),
        (
            policy("mlops", {}, {}),
            "spec.ingress[0]",
            "every source (no `from`) on every port",
        ),
        (
            policy(
                "mlops",
                {"matchLabels": {"ray.io/node-type": "head"}},
                {"from": [from_namespace(GATEWAY_NAMESPACE)]},
            ),
            "spec.ingress[0].from[0]",
            "pods of namespace asm-ingress on every port to the head pods",
        ),
        (
            policy(
                "mlops",
                {"matchLabels": {"ray.io/group": "gpu"}},
                {"from": [from_namespace(GATEWAY_NAMESPACE)], "ports": [{"port": 8265}]},
            ),
            "spec.ingress[0].from[0]",
            "pods of namespace asm-ingress on 8265 to the worker pods",
        ),
        (
            policy("mlops", {}, {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 6379}]}),
            "spec.ingress[0].from[0]",
            "on 6379",
        ),
        (
            policy("mlops", {}, {"from": [from_namespace("monitoring")], "ports": [{"port": "metrics"}]}),
            "spec.ingress[0].from[0]",
            "pods of namespace monitoring on a port its pod template does not name",
        ),
        (
            policy("mlops", {}, {"from": [{"namespaceSelector": {"matchLabels": {"team": "research"}}}]}),
            "spec.ingress[0].from[0]",
            "pods of every namespace",
        ),
    ],
    ids=[
        "every-namespace",
        "empty-rule",
        "gateway-every-port",
        "gateway-to-worker",
        "ip-block",
        "unnamed-port",
        "label-not-name",
    ],
)
def test_a_policy_admitting_more_than_the_listed_sources_is_an_error(
    check: Check, stream: Objects, tmp_path: Path, extra: dict[str, Any], field: str, says: str
) -> None:
    """A policy of the tenant's own, in its namespace beside the generated ones."""
    code, lines = check(*write(tmp_path, [*stream, extra], stream_spec()), cwd=tmp_path)
    assert code == 1
    found = errors(lines)
    assert [x.split(": ")[1] for x in found] == [f"NetworkPolicy/mlops/extra {field}"]
    assert all(": admits " in x and says in x for x in found), found


def test_hand_written_policies_admitting_the_same_pass(check: Check, stream: Objects, tmp_path: Path) -> None:
    """Other shapes, the same traffic: Ray pods by `ray.io/is-ray-node`, named ports, matchLabels."""
    stream = [
        o for o in stream if not (o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "mlops")
    ]
    own = policy(
        "mlops", {"matchLabels": {"ray.io/is-ray-node": "yes"}}, {"from": [{"podSelector": {}}]}, name="own"
    )
    metrics = policy(
        "mlops",
        {},
        {
            "from": [{**from_namespace("monitoring"), "podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "ports": [{"port": 8080}],
        },
        name="metrics",
    )
    dashboard = policy(
        "mlops",
        {"matchExpressions": [{"key": "ray.io/node-type", "operator": "In", "values": ["head"]}]},
        {
            "from": [from_namespace(GATEWAY_NAMESPACE), from_namespace("ray-system")],
            "ports": [{"port": "dashboard"}],
        },
        name="dashboard",
    )
    code, lines = check(*write(tmp_path, [*stream, own, metrics, dashboard], stream_spec()), cwd=tmp_path)
    assert (code, lines) == (0, [])


def test_without_network_policy_none_is_asked(check: Check, stream: Objects, tmp_path: Path) -> None:
    stream = [o for o in stream if o["kind"] != "NetworkPolicy"]
    code, lines = check(*write(tmp_path, stream, stream_spec(networkPolicy={"enabled": False})), cwd=tmp_path)
    assert (code, lines) == (0, [])


# --- gateway authorization ---------------------------------------------------------------------


def test_a_route_without_its_deny_policy_is_an_error(check: Check, stream: Objects, tmp_path: Path) -> None:
    stream = without(stream, "AuthorizationPolicy", GATEWAY_NAMESPACE, "ray-tenant-mlops")
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert code == 1
    assert len(errors(lines)) == 1
    assert (
        "VirtualService/mlops/ray-dashboard spec.http[0].match[0].uri.exact: no DENY AuthorizationPolicy in asm-ingress"
        in lines[0]
    )
    assert "denies requests without a token (host ray.example.com, path /mlops)" in lines[0]
    assert "one of: ml-platform, ml-admins" in lines[0]


def _edit_rules(stream: Objects, change: Callable[[dict[str, Any]], None]) -> Objects:
    mine = find(stream, "AuthorizationPolicy", GATEWAY_NAMESPACE, "ray-tenant-mlops")
    for rule in mine["spec"]["rules"]:
        for to in rule["to"]:
            change(to["operation"])
    return stream


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda op: op.update(paths=["/mlops/*"]),
            "requests without a token (host ray.example.com, path /mlops)",
        ),
        (
            lambda op: op.update(hosts=["ray.example.com"]),
            "requests without a token (host ray.example.com:*, path /mlops)",
        ),
        (
            lambda op: op.update(methods=["POST"]),
            "requests without a token (host ray.example.com, path /mlops)",
        ),
        (
            lambda op: op.update(paths=["/research", "/research/*"]),
            "requests without a token (host ray.example.com, path /mlops)",
        ),
        (
            lambda op: op.update(paths=["/mlops", "/mlops/", "/mlops/api/*"]),
            "requests without a token (host ray.example.com, path /mlops/*)",
        ),
        (
            lambda op: op.update(notPaths=["/mlops/public/*"]),
            "requests without a token (host ray.example.com, path /mlops/*)",
        ),
    ],
    ids=["subpaths-only", "no-port-variant", "post-only", "another-tenants-paths", "api-only", "public-hole"],
)
def test_a_deny_policy_that_leaves_a_gap_is_an_error(
    check: Check, stream: Objects, tmp_path: Path, change: Callable[[dict[str, Any]], None], says: str
) -> None:
    code, lines = check(*write(tmp_path, _edit_rules(stream, change), stream_spec()), cwd=tmp_path)
    assert code == 1
    assert len(errors(lines)) == 1 and says in lines[0], lines


def test_a_deny_policy_letting_other_groups_in_is_an_error(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    mine = find(stream, "AuthorizationPolicy", GATEWAY_NAMESPACE, "ray-tenant-mlops")
    mine["spec"]["rules"][1]["when"][0]["notValues"].append("research")
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert code == 1
    assert (
        "denies a token whose groups claim holds only 'research' (host ray.example.com, path /mlops)"
        in errors(lines)[0]
    )


def test_an_allow_policy_is_no_deny_policy(check: Check, stream: Objects, tmp_path: Path) -> None:
    find(stream, "AuthorizationPolicy", GATEWAY_NAMESPACE, "ray-tenant-mlops")["spec"]["action"] = "ALLOW"
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert code == 1 and "VirtualService/mlops/ray-dashboard" in errors(lines)[0]


def test_without_gateway_jwt_no_policy_is_asked(check: Check, stream: Objects, tmp_path: Path) -> None:
    stream = [o for o in stream if o["kind"] not in ("AuthorizationPolicy", "RequestAuthentication")]
    access = stream_spec()
    del access["spec"]["access"]["gateway"]
    code, lines = check(*write(tmp_path, stream, access), cwd=tmp_path)
    assert (code, lines) == (0, [])


# --- without a spec ----------------------------------------------------------------------------


def open_stream(stream: Objects) -> Objects:
    """The tenants' routes and clusters as a hand-written repository might hold them: no auth."""
    out = [o for o in stream if o["kind"] in ("Namespace", "RayCluster", "VirtualService")]
    for cluster in (o for o in out if o["kind"] == "RayCluster"):
        del cluster["spec"]["authOptions"]
    return out


def test_without_a_spec_a_routed_head_open_to_anyone_is_a_warning(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    code, lines = check(*write(tmp_path, open_stream(stream), None), cwd=tmp_path)
    assert code == 0
    assert len(lines) == 2
    assert (
        "VirtualService/mlops/ray-dashboard spec.http[1].match[0].uri.prefix: warning: routes to the Ray head of RayCluster mlops/raycluster, which has no token auth"
        in lines[0]
    )
    assert lines[0].endswith("anyone who reaches ray.example.com/mlops/ can run code in namespace mlops")


def test_without_a_spec_auth_or_a_gateway_policy_is_enough(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    guarded = open_stream(stream)
    find(guarded, "RayCluster", "mlops")["spec"]["authOptions"] = {"mode": "token"}
    deny = copy.deepcopy(find(stream, "AuthorizationPolicy", GATEWAY_NAMESPACE, "ray-tenant-research"))
    code, lines = check(*write(tmp_path, [*guarded, deny], None), cwd=tmp_path)
    assert (code, lines) == (0, [])


def test_a_deny_policy_locking_the_tenant_out_is_a_warning(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    mine = find(stream, "AuthorizationPolicy", GATEWAY_NAMESPACE, "ray-tenant-mlops")
    mine["spec"]["rules"][1]["when"][0]["key"] = "request.auth.claims[roles]"  # a claim the tokens lack
    code, lines = check(*write(tmp_path, stream, stream_spec()), cwd=tmp_path)
    assert code == 0
    assert len(lines) == 1
    assert (
        "VirtualService/mlops/ray-dashboard spec.http[1].match[0].uri.prefix: warning: a DENY AuthorizationPolicy in asm-ingress denies the tenant's own group 'ml-platform' at ray.example.com/mlops/ too"
        in lines[0]
    )


def rayservice(stream: Objects, **auth: Any) -> dict[str, Any]:
    """A hydrated RayService of mlops on the example's cluster spec: KubeRay names its cluster at run time."""
    config = copy.deepcopy(find(stream, "RayCluster", "mlops")["spec"])
    config.pop("authOptions")
    config.update(auth)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {
            "name": "serve",
            "namespace": "mlops",
            "labels": find(stream, "RayCluster", "mlops")["metadata"]["labels"],
        },
        "spec": {"serveConfigV2": "applications: []\n", "rayClusterConfig": config},
    }


def test_a_rayservice_needs_auth_and_the_policies_cover_its_pods(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    code, lines = check(*write(tmp_path, [*stream, rayservice(stream)], stream_spec()), cwd=tmp_path)
    assert code == 1
    assert [x.split(": ")[1] for x in errors(lines)] == [
        "RayService/mlops/serve spec.rayClusterConfig.authOptions.mode"
    ]

    code, lines = check(
        *write(tmp_path, [*stream, rayservice(stream, authOptions={"mode": "token"})], stream_spec()),
        cwd=tmp_path,
    )
    assert (code, errors(lines)) == (0, [])


def test_a_policy_naming_one_cluster_leaves_a_rayservices_pods_open(
    check: Check, stream: Objects, tmp_path: Path
) -> None:
    """A selector on `ray.io/cluster: raycluster` cannot be shown to select pods of a cluster named at run time."""
    stream = [
        o for o in stream if not (o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "mlops")
    ]
    for p in (o for o in stream if o["kind"] == "NetworkPolicy"):
        p["spec"]["podSelector"] = {"matchLabels": {"ray.io/cluster": "raycluster"}}
    objects = [*stream, rayservice(stream, authOptions={"mode": "token"})]
    code, lines = check(*write(tmp_path, objects, stream_spec()), cwd=tmp_path)
    assert code == 1
    fields = [x.split(": ")[1] for x in errors(lines)]
    assert "RayService/mlops/serve spec.rayClusterConfig.headGroupSpec" in fields
    assert not any(f.startswith("RayCluster/research/") for f in fields), fields


def test_a_broken_spec_is_reported_not_guessed_at(check: Check, stream: Objects, tmp_path: Path) -> None:
    code, lines = check(*write(tmp_path, open_stream(stream), stream_spec(rayAuth="maybe")), cwd=tmp_path)
    assert code == 1
    assert any(
        "spec.access.rayAuth: expected one of token, kubernetes, none, got 'maybe'" in x for x in lines
    ), lines
    assert not any("can run code" in x for x in lines), lines


def test_a_stream_rendered_with_a_wildcard_host_passes(check: Check, tmp_path: Path) -> None:
    """The DENY policies render writes for a shared `*.example.com` cover it (no port bypass), and
    the check, which evaluates them, agrees."""
    doc = spec()
    doc["spec"]["routing"]["hosts"] = ["*.example.com"]
    objects = render(doc, tmp_path)
    stream = stream_spec()
    stream["spec"]["routing"]["hosts"] = ["*.example.com"]
    code, lines = check(*write(tmp_path, objects, stream), cwd=tmp_path)
    assert (code, errors(lines)) == (0, [])
