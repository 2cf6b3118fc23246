"""The Spot engine and the Spot policy agree: one set of rules, applied and verified.

For generated Ray workloads (every kind, 0-3 worker groups with their own affinities and
tolerations) and generated settings: what `apply_spot` writes passes the policy, the head
verdict is the same in both, and taking away any one thing the engine added makes the policy
report that worker group. The generators here are this file's own, not test_spot_properties'.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krm_fn.check import checker
from krm_fn.inputs.objects import Manifest
from krm_fn.ray import worker_groups
from krm_fn.selectors import REQUIRED
from krm_fn.spot import SpotSpec, apply_spot, parse_spot, verify_head, verify_workers
from tests.conftest import REPO, run

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FN = [sys.executable, "-m", "krm_fn"]

PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
GKE_SPOT = "cloud.google.com/gke-spot"
POOL = "cloud.google.com/gke-nodepool"
GROUPS = ["cpu", "gpu", "etl"]
NESTING = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
    "RayCronJob": ("spec", "jobTemplate", "rayClusterSpec"),
}

# expressions a workload may already carry: other keys, the Spot requirements themselves, and
# wider or other forms on the Spot keys (never a strict subset of a wanted In list: that would
# hold the requirement by itself, and taking the injected copy away would rightly pass)
EXPRESSIONS = [
    {"key": "zone", "operator": "In", "values": ["a", "b"]},
    {"key": "zone", "operator": "NotIn", "values": ["c"]},
    {"key": "gpu", "operator": "Exists"},
    {"key": "cores", "operator": "Gt", "values": ["4"]},
    {"key": GKE_SPOT, "operator": "In", "values": ["true"]},
    {"key": GKE_SPOT, "operator": "Exists"},
    {"key": POOL, "operator": "In", "values": ["spot-cpu", "spot-gpu"]},
    {"key": "team", "operator": "In", "values": ["x", "y"]},
]
TOLERATIONS = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": GKE_SPOT, "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    {"key": GKE_SPOT, "operator": "Equal", "value": "false", "effect": "NoSchedule"},
    {"key": GKE_SPOT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
    {"key": "dedicated", "operator": "Equal", "value": "spot-cpu", "effect": "PreferNoSchedule"},
    {"key": "dedicated", "operator": "Exists"},
]
SELECTORS: list[dict[str, str]] = [{}, {"zone": "a"}, {GKE_SPOT: "true"}, {POOL: "spot-cpu"}]


def nested(kind: str, cluster: dict[str, Any]) -> dict[str, Any]:
    """A workload of `kind` embedding `cluster` where KubeRay expects it."""
    obj: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": kind,
        "metadata": {"name": "w", "namespace": "ns"},
    }
    parent = obj
    *outer, last = NESTING[kind]
    for key in outer:
        parent = parent.setdefault(key, {})
    parent[last] = cluster
    return obj


@st.composite
def pod_specs(draw: st.DrawFn, container: str) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": container, "image": "rayproject/ray:2.52.0"}]}
    selector = draw(st.sampled_from(SELECTORS))
    if selector:
        pod["nodeSelector"] = dict(selector)
    terms: list[dict[str, Any]] = draw(
        st.lists(
            st.one_of(
                st.lists(st.sampled_from(EXPRESSIONS), min_size=1, max_size=3, unique_by=str).map(
                    lambda es: {"matchExpressions": copy.deepcopy(es)}
                ),
                st.just({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}),
                st.just({"matchExpressions": []}),
            ),
            max_size=3,
        )
    )
    prefs = draw(st.lists(st.sampled_from(EXPRESSIONS[:4]), max_size=2, unique_by=str))
    node: dict[str, Any] = {}
    empty_required = draw(st.booleans())  # `nodeSelectorTerms: []` as some manifests spell it
    if terms or empty_required:
        node[REQUIRED] = {"nodeSelectorTerms": terms}
    if prefs:
        node[PREFERRED] = [{"weight": 10, "preference": {"matchExpressions": copy.deepcopy(prefs)}}]
    if node:
        pod["affinity"] = {"nodeAffinity": node}
    tolerations = draw(st.lists(st.sampled_from(TOLERATIONS), max_size=3, unique_by=str))
    if tolerations:
        pod["tolerations"] = copy.deepcopy(tolerations)
    if draw(st.booleans()):
        pod["terminationGracePeriodSeconds"] = draw(st.sampled_from([10, 15, 600]))
    return pod


@st.composite
def workloads(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(GROUPS), max_size=3, unique=True))
    groups = []
    for name in names:
        group: dict[str, Any] = {
            "groupName": name,
            "replicas": 1,
            "template": {"spec": draw(pod_specs("worker"))},
        }
        if draw(st.booleans()):
            group["labels"] = {"ray.io/market-type": "spot"} if draw(st.booleans()) else {"tier": "batch"}
        groups.append(group)
    cluster: dict[str, Any] = {"headGroupSpec": {"template": {"spec": draw(pod_specs("ray-head"))}}}
    if groups:
        cluster["workerGroupSpecs"] = groups
    return nested(draw(st.sampled_from(sorted(NESTING))), cluster)


@st.composite
def spot_specs(draw: st.DrawFn) -> SpotSpec:
    raw: dict[str, Any] = {"provider": draw(st.sampled_from(["gke", "eks", "karpenter", "aks", "custom"]))}
    mode = draw(st.sampled_from(["required", "preferred"]))
    raw["mode"] = mode
    pools = draw(
        st.dictionaries(st.sampled_from(GROUPS), st.sampled_from(["spot-cpu", "spot-gpu"]), max_size=2)
    )
    if pools:
        raw["nodePools"] = pools
        if raw["provider"] == "custom":
            raw["poolLabel"] = POOL
    raw["taintKey"] = draw(st.sampled_from(["dedicated", ""]))
    exprs = draw(
        st.lists(
            st.sampled_from(
                [
                    {"key": "example.com/spot", "operator": "In", "values": ["yes"]},
                    {"key": "zone", "operator": "In", "values": ["b", "c"]},
                    {"key": "example.com/class", "operator": "Exists"},
                ]
            ),
            max_size=2,
            unique_by=str,
        )
    )
    if exprs or raw["provider"] == "custom":
        raw["matchExpressions"] = exprs or [{"key": "example.com/spot", "operator": "In", "values": ["yes"]}]
    tols = draw(
        st.lists(
            st.sampled_from(
                [
                    {"key": "example.com/spot", "operator": "Exists", "effect": "NoSchedule"},
                    {
                        "key": "example.com/evict",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 60,
                    },
                ]
            ),
            max_size=2,
            unique_by=str,
        )
    )
    if tols:
        raw["tolerations"] = tols
    if draw(st.booleans()):
        raw["groups"] = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2, unique=True))
        if pools:
            raw["groups"] = sorted({*raw["groups"], *pools})
    if draw(st.booleans()):
        raw["gracefulStop"] = {"terminationGracePeriodSeconds": 10, "preStop": ["ray", "stop"]}
    if mode == "required" and draw(st.booleans()):
        raw["marketTypeLabel"] = True
    spec, problems = parse_spot(raw)
    assert not [p for p in problems if p.is_error], problems
    return spec


def placed(x: dict[str, Any], spec: SpotSpec) -> dict[str, Any] | None:
    """apply_spot's output, or None when it refused (an error is not placement to verify)."""
    out, results = apply_spot(x, spec)
    return None if any(r.is_error for r in results) else out


def reported_groups(obj: dict[str, Any], spec: SpotSpec) -> set[tuple[str | int, ...]]:
    """The worker group paths the policy reports something under."""
    paths = {p for p, _ in worker_groups(obj)}
    return {p for f in verify_workers(obj, spec) for p in paths if f.path[: len(p)] == p}


@SETTINGS
@given(workloads(), spot_specs())
def test_what_the_engine_writes_passes_the_policy(x: dict[str, Any], spec: SpotSpec) -> None:
    out = placed(x, spec)
    if out is None:
        return
    assert verify_workers(out, spec) == []
    # and the engine's output is a fixed point: nothing more to add
    assert apply_spot(out, spec)[0] == out


@SETTINGS
@given(workloads(), spot_specs())
def test_the_head_verdict_is_one_warning_from_the_engine_and_the_check(
    x: dict[str, Any], spec: SpotSpec
) -> None:
    _, results = apply_spot(x, spec)
    engine = [(r.field, r.severity) for r in results if "the head is pinned" in r.message]
    policy = [(".".join(map(str, f.path)), f.severity) for f in verify_head(x, spec)]
    doc = Manifest(x, "w.yaml", 1)
    located = [(r.field, r.severity) for r in checker.check_head(checker.Target(x, doc, doc.ref), spec)]
    assert engine == policy == located
    assert all(severity == "warning" for _, severity in engine)


def injected_removals(
    x: dict[str, Any], out: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every copy of `out` with one thing the engine added taken away, and that thing's group."""
    before = dict(worker_groups(x))
    copies: list[tuple[tuple[str | int, ...], tuple[str | int, ...]]] = []
    for gpath, group in worker_groups(out):
        old = before[gpath]["template"]["spec"]
        pod = group["template"]["spec"]
        selector = pod.get("nodeSelector") or {}
        node = (pod.get("affinity") or {}).get("nodeAffinity") or {}
        old_node = (old.get("affinity") or {}).get("nodeAffinity") or {}
        old_terms = (old_node.get(REQUIRED) or {}).get("nodeSelectorTerms") or []
        for i, term in enumerate((node.get(REQUIRED) or {}).get("nodeSelectorTerms") or []):
            had = old_terms[i].get("matchExpressions") or [] if i < len(old_terms) else []
            for j, expr in enumerate(term.get("matchExpressions") or []):
                # a requirement the nodeSelector guarantees by itself is held without the term
                implied = expr["key"] in selector and (
                    expr["operator"] == "Exists" or selector[expr["key"]] in expr.get("values", [])
                )
                # a term left with nothing matches no node: not a way off Spot (the engine, too,
                # leaves empty terms alone), so that removal proves nothing
                emptied = len(term["matchExpressions"]) == 1 and not term.get("matchFields")
                if expr in had or implied or emptied:
                    continue
                copies.append(
                    (
                        gpath,
                        ("affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms", i, "matchExpressions", j),
                    )
                )
        for i, pref in enumerate(node.get(PREFERRED) or []):
            if i < len(old_node.get(PREFERRED) or []):
                continue
            for j, expr in enumerate(pref["preference"]["matchExpressions"]):
                implied = expr["key"] in selector and (
                    expr["operator"] == "Exists" or selector[expr["key"]] in expr.get("values", [])
                )
                if not implied:
                    copies.append(
                        (
                            gpath,
                            ("affinity", "nodeAffinity", PREFERRED, i, "preference", "matchExpressions", j),
                        )
                    )
        for k in range(len(old.get("tolerations") or []), len(pod.get("tolerations") or [])):
            copies.append((gpath, ("tolerations", k)))
        if "terminationGracePeriodSeconds" in pod and "terminationGracePeriodSeconds" not in old:
            copies.append((gpath, ("terminationGracePeriodSeconds",)))
        if "lifecycle" in pod["containers"][0] and "lifecycle" not in old["containers"][0]:
            copies.append((gpath, ("containers", 0, "lifecycle")))
    out_copies = []
    for gpath, where in copies:
        mutated = copy.deepcopy(out)
        parent: Any = dict(worker_groups(mutated))[gpath]["template"]["spec"]
        for part in where[:-1]:
            parent = parent[part]
        del parent[where[-1]]
        out_copies.append((gpath, mutated))
    return out_copies


@SETTINGS
@given(workloads(), spot_specs())
def test_taking_away_any_one_injected_part_makes_the_policy_report_that_group(
    x: dict[str, Any], spec: SpotSpec
) -> None:
    out = placed(x, spec)
    if out is None:
        return
    for gpath, mutated in injected_removals(x, out):
        assert gpath in reported_groups(mutated, spec), (gpath, mutated)


def test_removals_are_generated_at_all() -> None:
    """The mutation test is not vacuous: a plain group gets requirements and tolerations to take away."""
    x = nested(
        "RayJob",
        {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "h"}]}}},
            "workerGroupSpecs": [{"groupName": "cpu", "template": {"spec": {"containers": [{"name": "w"}]}}}],
        },
    )
    spec, _ = parse_spot({"provider": "gke", "nodePools": {"cpu": "spot-cpu"}, "gracefulStop": True})
    out = placed(x, spec)
    assert out is not None
    removals = injected_removals(x, out)
    # gke-spot and the pool requirement, two tolerations, the grace period
    assert len(removals) == 5
    assert all(reported_groups(m, spec) == {g} for g, m in removals)


# ---------------------------------------------------------------------------------------------
# the two examples the rules were unified on


def test_a_toleration_with_toleration_seconds_tolerates_the_spot_taint_for_engine_and_policy() -> None:
    tol = {"key": GKE_SPOT, "operator": "Exists", "tolerationSeconds": 30}
    x = nested(
        "RayCluster",
        {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "h"}]}}},
            "workerGroupSpecs": [
                {
                    "groupName": "cpu",
                    "template": {"spec": {"containers": [{"name": "w"}], "tolerations": [tol]}},
                }
            ],
        },
    )
    spec = SpotSpec(provider="gke")
    out, results = apply_spot(x, spec)
    assert results == []
    # the engine adds no second toleration: this one already tolerates gke-spot=true:NoSchedule
    assert dict(worker_groups(out))[("spec", "workerGroupSpecs", 0)]["template"]["spec"]["tolerations"] == [
        tol
    ]
    assert verify_workers(out, spec) == []
    # and a NoExecute toleration that evicts sooner than the one asked for does not count
    asks = SpotSpec(
        provider="gke",
        tolerations=({"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},),
    )
    short = {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
    x["spec"]["workerGroupSpecs"][0]["template"]["spec"]["tolerations"] = [tol, short]
    out, _ = apply_spot(x, asks)
    assert len(out["spec"]["workerGroupSpecs"][0]["template"]["spec"]["tolerations"]) == 3
    assert verify_workers(out, asks) == []
    assert [f.path[-1] for f in verify_workers(x, asks) if "toleration" in f.message] == ["tolerations"]


def test_a_head_with_one_on_demand_term_is_not_pinned_in_engine_or_check() -> None:
    head: dict[str, Any] = {
        "containers": [{"name": "h"}],
        "affinity": {
            "nodeAffinity": {
                REQUIRED: {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": GKE_SPOT, "operator": "In", "values": ["true"]}]},
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ondemand"]}]},
                    ]
                }
            }
        },
    }
    x = nested("RayCluster", {"headGroupSpec": {"template": {"spec": head}}})
    assert apply_spot(x, SpotSpec())[1] == []
    assert verify_head(x) == verify_head(x, SpotSpec()) == []
    # every term on Spot: a warning from both, at the same field
    head["affinity"]["nodeAffinity"][REQUIRED]["nodeSelectorTerms"].pop()
    engine = [(r.severity, r.field) for r in apply_spot(x, SpotSpec())[1]]
    assert engine == [("warning", f"spec.headGroupSpec.template.spec.affinity.nodeAffinity.{REQUIRED}")]
    assert [(f.severity, ".".join(map(str, f.path))) for f in verify_head(x)] == engine


# ---------------------------------------------------------------------------------------------
# Spot only (a spec without tenants): the manifests are checked as they are


SPOT_ONLY: dict[str, Any] = {
    "apiVersion": "fn.ray-tenants.dev/v1alpha1",
    "kind": "RayTenants",
    "metadata": {"name": "spot"},
    "spec": {"spot": {"provider": "gke", "nodePools": {"cpu": "spot-cpu"}, "gracefulStop": True}},
}


def bare_cluster() -> dict[str, Any]:
    return nested(
        "RayCluster",
        {
            "headGroupSpec": {
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}
            },
            "workerGroupSpecs": [
                {
                    "groupName": "cpu",
                    "replicas": 1,
                    "template": {
                        "spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}
                    },
                }
            ],
        },
    )


def test_spot_only_check_flags_a_bare_cluster_and_passes_what_render_writes(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPOT_ONLY))
    (tmp_path / "rc.yaml").write_text(yaml.safe_dump(bare_cluster()))
    result = run([*FN, "check", "--config", "spec.yaml", "rc.yaml"], cwd=tmp_path, PYTHONPATH=str(REPO))
    lines = result.stdout.decode().splitlines()
    assert result.returncode == 1, lines
    # the worker's pod spec is the last `spec:` of the file
    text = (tmp_path / "rc.yaml").read_text().splitlines()
    line = max(i for i, t in enumerate(text, 1) if t.strip() == "spec:")
    where = f"rc.yaml:{line}: RayCluster/ns/w spec.workerGroupSpecs[0].template.spec"
    assert sorted(lines) == sorted(
        [
            f"{where}: worker group 'cpu' has no terminationGracePeriodSeconds; the Spot settings ask for 15 (gracefulStop)",
            f"{where}.affinity: worker group 'cpu' is not pinned to Spot: no required node affinity holds "
            f"`{GKE_SPOT} In [true]` and `{POOL} In [spot-cpu]`",
            f"{where}.tolerations: worker group 'cpu' lacks the toleration {GKE_SPOT}=true:NoSchedule: "
            "its pods cannot schedule on the tainted Spot nodes",
            f"{where}.tolerations: worker group 'cpu' lacks the toleration dedicated=spot-cpu:NoSchedule: "
            "its pods cannot schedule on the tainted Spot nodes",
        ]
    )
    rendered = run([*FN, "render", "--config", "spec.yaml", "rc.yaml"], cwd=tmp_path, PYTHONPATH=str(REPO))
    assert rendered.returncode == 0, rendered.stderr
    (tmp_path / "rc.yaml").write_bytes(rendered.stdout)
    again = run([*FN, "check", "--config", "spec.yaml", "rc.yaml"], cwd=tmp_path, PYTHONPATH=str(REPO))
    assert (again.returncode, again.stdout.decode()) == (0, "")


@pytest.mark.parametrize("kind", sorted(NESTING))
def test_spot_only_policy_flags_whatever_the_engine_would_change(kind: str) -> None:
    x = bare_cluster()
    x = nested(kind, x["spec"])
    graceful = {"terminationGracePeriodSeconds": 10, "preStop": ["ray", "stop"]}
    spec, _ = parse_spot({**SPOT_ONLY["spec"]["spot"], "gracefulStop": graceful, "marketTypeLabel": True})
    out, _ = apply_spot(x, spec)
    assert out != x
    found = verify_workers(x, spec)
    assert {f.path[-1] for f in found} >= {"affinity", "tolerations", "labels", "spec", 0}
    assert verify_workers(out, spec) == []
