"""Spot placement over KubeRay's own samples: every worker group pinned, no head touched.

Reads ../shared/upstream (beside the checkout in CI); skips where it is absent, and fails there
under RAY_TENANTS_REQUIRE_E2E=1 (tests.conftest.require_upstream). The behaviour itself is covered by the self-contained tests in test_spot.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from krm_fn import yamlio
from krm_fn.check import schemas
from krm_fn.ray import CLUSTER_SPEC_PATHS, cluster_spec, is_ray_workload, worker_groups
from krm_fn.spot import apply_spot, parse_spot
from tests.conftest import TESTDATA, UPSTREAM, require_upstream

KUBERAY = UPSTREAM / "kuberay"
SAMPLES = KUBERAY / "samples"
REQ = "requiredDuringSchedulingIgnoredDuringExecution"
# what the README's provider table promises, written out here rather than read from the engine:
# provider -> (Spot label, its value, whether Spot nodes carry a taint of that label, pool label)
PROVIDER_TABLE = {
    "gke": ("cloud.google.com/gke-spot", "true", True, "cloud.google.com/gke-nodepool"),
    "eks": ("eks.amazonaws.com/capacityType", "SPOT", False, "eks.amazonaws.com/nodegroup"),
    "karpenter": ("karpenter.sh/capacity-type", "spot", False, "karpenter.sh/nodepool"),
    "aks": ("kubernetes.azure.com/scalesetpriority", "spot", True, "kubernetes.azure.com/agentpool"),
}
PROVIDERS = list(PROVIDER_TABLE)


@pytest.fixture(autouse=True)
def _upstream_samples() -> None:
    """Every test here reads the samples: skip or, in strict mode, fail without them."""
    require_upstream()


def workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(SAMPLES.glob("*.yaml")) if SAMPLES.is_dir() else []:
        for doc in yamlio.load_documents(path.read_text(), str(path)):
            if isinstance(doc.data, dict) and is_ray_workload(doc.data):
                yield f"{path.name}:{doc.data['kind']}/{doc.data['metadata']['name']}", doc.data


WORKLOADS = dict(workloads())
# RayJobs that run on an existing cluster (clusterSelector) embed no cluster spec
EMBEDDED = sorted(name for name, obj in WORKLOADS.items() if cluster_spec(obj) is not None)


@cache
def kuberay_schemas() -> schemas.SchemaChecker:
    """The check's own validation: the KubeRay CRDs' schemas (strict) and their CEL rules."""
    crds = schemas.CrdSchemas()
    for file in sorted((KUBERAY / "crd").glob("ray.io_*.yaml")):
        assert crds.add(yamlio.load(file.read_text()), str(file)) == []
    return schemas.SchemaChecker(schemas.resolve_version(None), crds)


def assert_valid(obj: dict[str, Any]) -> None:
    """Valid as the API server sees it: schema, pod templates and CEL rules (none left unevaluated)."""
    verdict = kuberay_schemas().check(obj)
    assert verdict.findings == [], verdict.findings
    assert verdict.unchecked is None
    assert [n for n in verdict.notes if "transition" not in n[1]] == [], verdict.notes


def test_samples_are_there() -> None:
    # a handful of kinds, so an empty or moved folder does not pass silently
    kinds = {obj["kind"] for obj in WORKLOADS.values()}
    assert {"RayCluster", "RayJob", "RayService"} <= kinds
    assert sum(1 for obj in WORKLOADS.values() if list(worker_groups(obj))) >= 10


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("name", EMBEDDED or ["absent"])
def test_every_worker_group_pinned_no_head_touched(name: str, provider: str) -> None:
    obj = WORKLOADS[name]
    groups = {str(g.get("groupName")): f"spot-{i}" for i, (_, g) in enumerate(worker_groups(obj))}
    spec, problems = parse_spot({"provider": provider, "nodePools": groups})
    assert problems == []
    out, results = apply_spot(obj, spec)

    assert [r for r in results if r.is_error] == []
    # the only warnings the samples earn: groups labelled ray.io/market-type=on-demand
    assert all(r.field.endswith(".labels") and "on-demand" in r.message for r in results), results

    for (path, before), (_, after) in zip(worker_groups(obj), worker_groups(out), strict=True):
        pod = after["template"]["spec"]
        label, value, tainted, pool_label = PROVIDER_TABLE[provider]
        pool = groups[str(before.get("groupName"))]
        reqs = [
            {"key": label, "operator": "In", "values": [value]},
            {"key": pool_label, "operator": "In", "values": [pool]},
        ]
        tolerations = [{"key": "dedicated", "operator": "Equal", "value": pool, "effect": "NoSchedule"}]
        if tainted:
            tolerations.append({"key": label, "operator": "Equal", "value": value, "effect": "NoSchedule"})
        terms = pod["affinity"]["nodeAffinity"][REQ]["nodeSelectorTerms"]
        assert terms, path
        for term in terms:
            for req in reqs:
                assert req in term["matchExpressions"], (path, req)
        for tol in tolerations:
            assert tol in pod["tolerations"], (path, tol)
        # what the sample already said about placement is still there
        for key, value in (before["template"]["spec"].get("nodeSelector") or {}).items():
            assert pod["nodeSelector"][key] == value

    cluster_in, cluster_out = cluster_spec(obj), cluster_spec(out)
    assert cluster_in is not None and cluster_out is not None
    assert cluster_out["headGroupSpec"] == cluster_in["headGroupSpec"]
    if obj["kind"] == "RayJob":
        assert out["spec"].get("submitterPodTemplate") == obj["spec"].get("submitterPodTemplate")
    # outside the embedded cluster spec nothing changes
    top = CLUSTER_SPEC_PATHS[obj["kind"]]
    if len(top) > 1:
        assert {k: v for k, v in out["spec"].items() if k != top[1]} == {
            k: v for k, v in obj["spec"].items() if k != top[1]
        }

    again, _ = apply_spot(out, spec)
    assert yamlio.dump(again) == yamlio.dump(out)
    assert_valid(out)


def test_workloads_without_an_embedded_cluster_pass_through() -> None:
    selectors = [obj for obj in WORKLOADS.values() if cluster_spec(obj) is None]
    assert selectors, "expected the clusterSelector RayJob sample"
    for obj in selectors:
        assert apply_spot(obj, parse_spot(None)[0]) == (obj, [])


GOLDEN = TESTDATA / "spot"


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_golden_outputs_fit_the_crds(case: str) -> None:
    """The committed expectations are valid KubeRay objects, not just stable text."""
    expected = yamlio.load((GOLDEN / case / "_expected.yaml").read_text())
    for obj in expected["items"]:
        if is_ray_workload(obj):
            assert_valid(obj)
