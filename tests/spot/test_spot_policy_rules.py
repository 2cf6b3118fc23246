"""The Spot policy's verdicts, finding by finding: what the check says of each worker group and head.

Each expected finding (field path, message, severity) is written out here from the README's Spot
section, on small hand-written workloads: a rule that is dropped, loosened or worded wrongly fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.spot.policy import HEAD_ON_SPOT, check_group_names, verify_head, verify_workers
from krm_fn.spot.providers import SpotSpec
from krm_fn.spot.settings import parse_spot
from tests.spot.test_spot import SPOT as GKE
from tests.spot.test_spot import SPOT_TOL as GKE_TOLERATION

ON_DEMAND = {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["default"]}
KNOWN = (
    "cloud.google.com/gke-spot In [true], eks.amazonaws.com/capacityType In [SPOT], "
    "karpenter.sh/capacity-type In [spot], kubernetes.azure.com/scalesetpriority In [spot], "
    "cloud.google.com/gke-preemptible In [true]"
)
POD = ("spec", "workerGroupSpecs", 0, "template", "spec")
TERMS = (
    *POD,
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
)


def spot(**raw: Any) -> SpotSpec:
    spec, results = parse_spot(raw)
    assert results == [], results
    return spec


def required(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
            }
        }
    }


def cluster(*groups: dict[str, Any], head: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc"},
        "spec": {
            "headGroupSpec": {"template": {"spec": head or {"containers": [{"name": "ray-head"}]}}},
            "workerGroupSpecs": list(groups),
        },
    }


def group(name: str | None = "cpu", labels: dict[str, str] | None = None, **pod: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"template": {"spec": {"containers": [{"name": "ray-worker"}], **pod}}}
    if name is not None:
        out["groupName"] = name
    if labels is not None:
        out["labels"] = labels
    return out


def found(obj: dict[str, Any], spec: SpotSpec | None) -> list[tuple[tuple[str | int, ...], str, str]]:
    return [(f.path, f.message, f.severity) for f in verify_workers(obj, spec)]


PINNED: dict[str, Any] = {"affinity": required([GKE]), "tolerations": [GKE_TOLERATION]}


# --- without settings: pinned to any known provider's Spot capacity ---------------------------------


def test_without_settings_a_group_needs_a_spot_label_of_any_provider() -> None:
    assert found(cluster(group(nodeSelector={"eks.amazonaws.com/capacityType": "SPOT"})), None) == []
    assert found(cluster(group(nodeSelector={"cloud.google.com/gke-preemptible": "true"})), None) == []
    assert found(cluster(group(affinity=required([ON_DEMAND, GKE]))), None) == []
    assert found(cluster(group(nodeSelector={"eks.amazonaws.com/capacityType": "ON_DEMAND"})), None) == [
        (
            (*POD, "affinity"),
            f"worker group 'cpu' is not pinned to Spot: no required node affinity on a Spot label ({KNOWN})",
            "error",
        )
    ]


def test_without_settings_every_live_term_must_hold_a_spot_requirement() -> None:
    empty: dict[str, Any] = {"matchExpressions": []}
    affinity = required([GKE], [ON_DEMAND])
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].insert(
        0, empty
    )
    assert found(cluster(group(None, affinity=affinity)), None) == [
        (
            (*TERMS, 2),
            f"a worker group is not pinned to Spot: required term 2 holds no Spot requirement ({KNOWN}); "
            "terms are ORed, so through this one a pod can run on on-demand nodes",
            "error",
        )
    ]


# --- with settings ---------------------------------------------------------------------------------


def test_a_group_placed_as_asked_passes_and_each_missing_part_is_named() -> None:
    spec = spot(provider="gke")
    assert found(cluster(group(**PINNED)), spec) == []
    # a nodeSelector that asks for the label is placement enough
    assert (
        found(
            cluster(group(nodeSelector={"cloud.google.com/gke-spot": "true"}, tolerations=[GKE_TOLERATION])),
            spec,
        )
        == []
    )
    assert found(cluster(group()), spec) == [
        (
            (*POD, "affinity"),
            "worker group 'cpu' is not pinned to Spot: no required node affinity holds "
            "`cloud.google.com/gke-spot In [true]`",
            "error",
        ),
        (
            (*POD, "tolerations"),
            "worker group 'cpu' lacks the toleration cloud.google.com/gke-spot=true:NoSchedule: its pods "
            "cannot schedule on the tainted Spot nodes",
            "error",
        ),
    ]


def test_a_required_term_without_the_requirement_is_named_by_its_index() -> None:
    spec = spot(provider="gke")
    obj = cluster(group("gpu", affinity=required([GKE], [ON_DEMAND]), tolerations=[GKE_TOLERATION]))
    assert found(obj, spec) == [
        (
            (*TERMS, 1),
            "worker group 'gpu' is not pinned to Spot: required term 1 lacks `cloud.google.com/gke-spot In [true]` "
            "(terms are ORed: through this one a pod can run on other nodes)",
            "error",
        )
    ]


def test_node_pools_are_required_with_the_spot_label() -> None:
    spec = spot(provider="gke", nodePools={"gpu": "spot-gpu"})
    pool = {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["spot-gpu"]}
    # GKE Standard's Spot pools are tainted `dedicated=<pool>:NoSchedule` (the default taintKey)
    dedicated = {"key": "dedicated", "operator": "Equal", "value": "spot-gpu", "effect": "NoSchedule"}
    obj = cluster(group("gpu", affinity=required([GKE]), tolerations=[GKE_TOLERATION]))
    assert found(obj, spec) == [
        (
            (*TERMS, 0),
            "worker group 'gpu' is not pinned to Spot: required term 0 lacks "
            "`cloud.google.com/gke-nodepool In [spot-gpu]` "
            "(terms are ORed: through this one a pod can run on other nodes)",
            "error",
        ),
        (
            (*POD, "tolerations"),
            "worker group 'gpu' lacks the toleration dedicated=spot-gpu:NoSchedule: its pods cannot "
            "schedule on the tainted Spot nodes",
            "error",
        ),
    ]
    obj = cluster(group("gpu", affinity=required([GKE, pool]), tolerations=[GKE_TOLERATION, dedicated]))
    assert found(obj, spec) == []


def test_preferred_mode_asks_for_a_preferred_term_not_a_required_one() -> None:
    spec = spot(provider="gke", mode="preferred")
    preference = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [ON_DEMAND]}},
                {"weight": 100, "preference": {"matchExpressions": [GKE]}},
            ]
        }
    }
    assert found(cluster(group(affinity=preference, tolerations=[GKE_TOLERATION])), spec) == []
    assert found(cluster(group(affinity=required([GKE]), tolerations=[GKE_TOLERATION])), spec) == [
        (
            (*POD, "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"),
            "worker group 'cpu' does not prefer Spot nodes: no preferred term holds "
            "`cloud.google.com/gke-spot In [true]`",
            "error",
        )
    ]


def test_only_the_targeted_groups_are_judged() -> None:
    spec = spot(provider="gke", groups=["gpu"])
    assert found(cluster(group("cpu"), group("gpu", **PINNED)), spec) == []
    assert [f[0][2] for f in found(cluster(group("cpu"), group("gpu")), spec)] == [1, 1]
    assert found(cluster(group("cpu")), spot(provider="none")) == []


def test_a_provider_without_a_taint_asks_for_no_toleration() -> None:
    spec = spot(provider="eks")
    eks = {"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["SPOT"]}
    assert found(cluster(group(affinity=required([eks]))), spec) == []


def test_graceful_stop_and_the_market_type_label_are_verified() -> None:
    spec = spot(provider="gke", gracefulStop={"preStop": ["ray", "stop"]}, marketTypeLabel=True)
    assert found(cluster(group(**PINNED)), spec) == [
        (
            POD,
            "worker group 'cpu' has no terminationGracePeriodSeconds; the Spot settings ask for 15 "
            "(gracefulStop)",
            "error",
        ),
        (
            (*POD, "containers", 0),
            "worker group 'cpu' has no preStop hook on its Ray container; the Spot settings ask for "
            "['ray', 'stop'] (gracefulStop.preStop)",
            "error",
        ),
        (
            ("spec", "workerGroupSpecs", 0, "labels"),
            "worker group 'cpu' lacks the label ray.io/market-type: spot (marketTypeLabel)",
            "error",
        ),
    ]
    done = group(
        labels={"ray.io/market-type": "spot"},
        terminationGracePeriodSeconds=10,
        **{
            **PINNED,
            "containers": [{"name": "ray-worker", "lifecycle": {"preStop": {"exec": {"command": ["x"]}}}}],
        },
    )
    assert found(cluster(done), spec) == []
    # a template with no containers has no Ray container to hook
    bare = group(labels={"ray.io/market-type": "spot"}, terminationGracePeriodSeconds=10, **PINNED)
    bare["template"]["spec"]["containers"] = []
    assert found(cluster(bare), spec) == []


def test_graceful_stop_true_asks_only_for_the_grace_period() -> None:
    spec = spot(provider="gke", gracefulStop=True)
    assert [f[1] for f in found(cluster(group(**PINNED)), spec)] == [
        "worker group 'cpu' has no terminationGracePeriodSeconds; the Spot settings ask for 15 (gracefulStop)"
    ]
    assert found(cluster(group(terminationGracePeriodSeconds=0, **PINNED)), spec) == []


# --- group names in the settings -----------------------------------------------------------------


def test_settings_naming_no_worker_group_are_warnings_with_a_suggestion() -> None:
    spec = spot(provider="gke", groups=["gpus", "cpu"])
    results = check_group_names(spec, [cluster(group("cpu"), group("gpu"))])
    assert [(r.field, r.message, r.severity) for r in results] == [
        (
            "spec.spot.groups[0]",
            "no worker group is named 'gpus'; this entry has no effect (worker groups: 'cpu', 'gpu'; did you "
            "mean 'gpu'?)",
            "warning",
        )
    ]
    pools = spot(provider="gke", nodePools={"tpu": "p", "cpu": "c"})
    assert [(r.field, r.message, r.severity) for r in check_group_names(pools, [cluster(group("cpu"))])] == [
        (
            "spec.spot.nodePools.tpu",
            "no worker group is named 'tpu'; this pool is never used (worker groups: 'cpu')",
            "warning",
        )
    ]
    none = "(the workloads name no worker groups)"
    assert [(r.field, r.message) for r in check_group_names(spec, [], "data")] == [
        ("data.groups[0]", f"no worker group is named 'gpus'; this entry has no effect {none}"),
        ("data.groups[1]", f"no worker group is named 'cpu'; this entry has no effect {none}"),
    ]
    assert [(r.field, r.message) for r in check_group_names(pools, [cluster(group(None))], "data")] == [
        ("data.nodePools.tpu", f"no worker group is named 'tpu'; this pool is never used {none}"),
        ("data.nodePools.cpu", f"no worker group is named 'cpu'; this pool is never used {none}"),
    ]


# --- the head ------------------------------------------------------------------------------------

HEAD = ("spec", "headGroupSpec", "template", "spec")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ({"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}, [((*HEAD, "nodeSelector"), HEAD_ON_SPOT)]),
        ({"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"}}, []),
        (
            {"affinity": required([GKE], [ON_DEMAND, GKE])},
            [
                (
                    (*HEAD, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),
                    HEAD_ON_SPOT,
                )
            ],
        ),
        ({"affinity": required([GKE], [ON_DEMAND])}, []),
        ({"affinity": required([])}, []),
        ({"containers": [{"name": "ray-head"}]}, []),
    ],
)
def test_a_head_that_can_only_run_on_spot_is_a_warning(
    head: dict[str, Any], expected: list[tuple[tuple[str, ...], str]]
) -> None:
    findings = verify_head(cluster(head=head))
    assert [(f.path, f.message, f.severity) for f in findings] == [(p, m, "warning") for p, m in expected]


def test_with_a_custom_provider_its_own_requirements_pin_the_head() -> None:
    mine = {"key": "example.com/capacity", "operator": "In", "values": ["spot"]}
    spec = spot(provider="custom", matchExpressions=[mine])
    head = {"affinity": required([mine])}
    assert [f.message for f in verify_head(cluster(head=head), spec)] == [HEAD_ON_SPOT]
    assert verify_head(cluster(head=head)) == []
    assert verify_head(cluster(head=head), spot(provider="gke")) == []
    assert (
        HEAD_ON_SPOT
        == "the head is pinned to Spot nodes; it must survive preemption, keep it on on-demand nodes"
    )


def test_without_settings_every_group_is_judged_and_a_group_without_a_string_name_is_unnamed() -> None:
    bare = group(5)  # type: ignore[arg-type]
    message = f"is not pinned to Spot: no required node affinity on a Spot label ({KNOWN})"
    assert found(cluster(group("a"), bare), None) == [
        (("spec", "workerGroupSpecs", 1, "groupName"), "expected a string, got a number", "error"),
        ((*POD, "affinity"), f"worker group 'a' {message}", "error"),
        (
            ("spec", "workerGroupSpecs", 1, "template", "spec", "affinity"),
            f"a worker group {message}",
            "error",
        ),
    ]


def test_a_worker_group_list_of_another_type_is_a_finding_on_it() -> None:
    obj = cluster()
    obj["spec"]["workerGroupSpecs"] = "cpu"
    assert [(p, s) for p, _, s in found(obj, spot(provider="gke"))] == [
        (("spec", "workerGroupSpecs"), "error")
    ]
    assert all(m for _, m, _ in found(obj, None))


def test_an_empty_required_term_is_skipped_and_the_terms_after_it_are_judged() -> None:
    affinity = required([], [ON_DEMAND])
    obj = cluster(group(affinity=affinity, tolerations=[GKE_TOLERATION]))
    assert found(obj, spot(provider="gke")) == [
        (
            (*TERMS, 1),
            "worker group 'cpu' is not pinned to Spot: required term 1 lacks `cloud.google.com/gke-spot In [true]` "
            "(terms are ORed: through this one a pod can run on other nodes)",
            "error",
        )
    ]
