"""Spot placement on one worker group, case by case: which tolerations are already there, the
Ray market-type label, and the grace period. Each expectation is the whole resulting list or
finding, written out from the README's rules.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from krm_fn.results import ResourceRef, Result
from krm_fn.spot import apply_spot, parse_spot

K = "cloud.google.com/gke-spot"
GKE_TAINT = {"key": K, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
REF = ResourceRef("ray.io/v1", "RayCluster", "rc", "ns")
GROUP = "spec.workerGroupSpecs[0]"


def cluster(pod: dict[str, Any] | None = None, **group: Any) -> dict[str, Any]:
    worker = {"groupName": "cpu", "template": {"spec": pod if pod is not None else {}}, **group}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc", "namespace": "ns"},
        "spec": {"headGroupSpec": {"template": {"spec": {}}}, "workerGroupSpecs": [worker]},
    }


def placed(obj: dict[str, Any], raw: Any = None) -> tuple[dict[str, Any], list[Result]]:
    spec, problems = parse_spot(raw)
    assert [p for p in problems if p.is_error] == []
    before = copy.deepcopy(obj)
    out, results = apply_spot(obj, spec)
    assert obj == before
    return out, results


def worker(out: dict[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = out["spec"]["workerGroupSpecs"][0]
    return group


@pytest.mark.parametrize(
    "have",
    [
        GKE_TAINT,
        {"key": K, "value": "true", "effect": "NoSchedule"},  # Equal is the default
        {"key": K, "operator": "Equal", "value": "true", "effect": "NoSchedule", "tolerationSeconds": None},
        {"key": K, "value": "true"},  # every effect of that taint
        {"key": K, "operator": "Exists"},
        {"key": K, "operator": "Exists", "effect": "NoSchedule"},
        {"operator": "Exists"},  # everything
        {"operator": "Exists", "effect": "NoSchedule"},
        {"key": "", "operator": "Exists"},
        # tolerationSeconds bounds NoExecute evictions only; scheduling onto a NoSchedule taint ignores it
        {"key": K, "operator": "Exists", "tolerationSeconds": 30},
    ],
)
def test_a_toleration_that_already_covers_the_taint_is_enough(have: dict[str, Any]) -> None:
    out, results = placed(cluster({"tolerations": [have]}))
    assert results == []
    assert worker(out)["template"]["spec"]["tolerations"] == [have]


@pytest.mark.parametrize(
    "have",
    [
        {"key": K, "value": "false", "effect": "NoSchedule"},
        {"key": K, "value": "true", "effect": "PreferNoSchedule"},
        {"key": K, "operator": "Exists", "effect": "NoExecute"},
        {"key": "other", "operator": "Exists"},
        {"key": "other", "value": "true", "effect": "NoSchedule"},
        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        "not a toleration",
    ],
)
def test_a_toleration_that_does_not_cover_the_taint_gets_the_providers_added(have: Any) -> None:
    out, results = placed(cluster({"tolerations": [have]}))
    assert results == []
    assert worker(out)["template"]["spec"]["tolerations"] == [have, GKE_TAINT]


@pytest.mark.parametrize(
    ("want", "have", "added"),
    [
        # an existing toleration covers the one asked for when it tolerates every taint that one
        # does, for at least as long (seconds count only where NoExecute is tolerated)
        ({"key": "x", "operator": "Exists"}, {"key": "x", "operator": "Exists", "effect": ""}, False),
        ({"key": "x", "operator": "Exists"}, {"operator": "Exists"}, False),
        (
            {"key": "x", "operator": "Exists"},
            {"key": "x", "operator": "Exists", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "x", "value": "v"}, {"key": "x", "operator": "Equal", "value": "v"}, False),
        ({"key": "x", "value": "v"}, {"key": "x", "operator": "Exists"}, False),
        (
            {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
            {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
            True,
        ),
        (
            {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
            {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
            False,
        ),
        (
            {"key": "x", "value": "v", "effect": "NoSchedule"},
            {"key": "x", "value": "v", "effect": "NoSchedule"},
            False,
        ),
        (
            {"key": "x", "value": "v", "effect": "NoSchedule"},
            {"key": "x", "value": "w", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "x", "value": "v", "effect": "NoSchedule"}, {"key": "x", "effect": "NoSchedule"}, True),
        ({"key": "x", "value": "", "effect": "NoSchedule"}, {"key": "x", "effect": "NoSchedule"}, False),
        ({"key": "x", "value": "", "effect": "NoSchedule"}, {"key": "x"}, False),
        # a plain taint tolerance without an operator is Equal: any toleration of the taint covers it
        ({"key": "x", "value": "v", "effect": "NoSchedule"}, {"key": "x", "operator": "Exists"}, False),
        (
            {"key": "x", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 60},
            {"key": "x", "operator": "Exists"},
            False,
        ),
        # a toleration that only lasts some seconds covers a NoSchedule taint, not an evicting one
        (
            {"key": "x", "value": "v", "effect": "NoSchedule"},
            {"key": "x", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 30},
            False,
        ),
        (
            {"key": "x", "value": "v", "effect": "NoSchedule"},
            {"key": "x", "operator": "Exists", "effect": "", "tolerationSeconds": 30},
            False,
        ),
        (
            {"key": "x", "value": "v", "effect": "NoExecute"},
            {"key": "x", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
            True,
        ),
    ],
)
def test_tolerations_from_the_settings(want: dict[str, Any], have: dict[str, Any], added: bool) -> None:
    out, results = placed(cluster({"tolerations": [have]}), {"provider": "eks", "tolerations": [want]})
    assert results == []
    assert worker(out)["template"]["spec"]["tolerations"] == ([have, want] if added else [have])


def test_pool_and_provider_tolerations_in_order_created_at_the_end() -> None:
    pod = {"containers": [{"name": "ray-worker"}], "tolerations": None}
    out, _ = placed(cluster(pod), {"nodePools": {"cpu": "spot-cpu"}, "taintKey": "pool"})
    spec = worker(out)["template"]["spec"]
    assert list(spec) == ["containers", "tolerations", "affinity"]
    assert spec["tolerations"] == [
        GKE_TAINT,
        {"key": "pool", "operator": "Equal", "value": "spot-cpu", "effect": "NoSchedule"},
    ]


# --- the Ray market-type label ------------------------------------------------------------------


def test_market_type_label_is_set_on_pinned_groups() -> None:
    out, results = placed(cluster(labels={"team": "a"}), {"marketTypeLabel": True})
    assert results == []
    assert worker(out)["labels"] == {"team": "a", "ray.io/market-type": "spot"}
    out, _ = placed(cluster(), {"marketTypeLabel": True})
    assert worker(out)["labels"] == {"ray.io/market-type": "spot"}
    out, _ = placed(cluster(labels="x"), {"marketTypeLabel": False})
    assert worker(out)["labels"] == "x"


def test_market_type_labels_that_are_not_a_mapping_refuse_the_group() -> None:
    obj = cluster(labels="x")
    out, results = placed(obj, {"marketTypeLabel": True})
    assert results == [
        Result("worker group 'cpu': expected a mapping, got a string", "error", REF, f"{GROUP}.labels")
    ]
    assert out == obj


def test_on_demand_market_type_contradicts_required_spot() -> None:
    obj = cluster(labels={"ray.io/market-type": "on-demand"})
    out, results = placed(obj, {"marketTypeLabel": True})
    assert results == [
        Result(
            "worker group 'cpu': ray.io/market-type is 'on-demand' but the group is pinned to Spot",
            "error",
            REF,
            f"{GROUP}.labels",
        )
    ]
    assert out == obj
    out, results = placed(obj)
    assert results == [
        Result(
            "worker group 'cpu': ray.io/market-type is 'on-demand' but the group is pinned to Spot: Ray tasks "
            "that select on it will be placed on Spot nodes",
            "warning",
            REF,
            f"{GROUP}.labels",
        )
    ]
    assert worker(out)["labels"] == {"ray.io/market-type": "on-demand"}
    assert placed(obj, {"mode": "preferred"})[1] == []
    assert placed(cluster(labels={"ray.io/market-type": "spot"}))[1] == []


# --- grace period and preStop -------------------------------------------------------------------


def test_graceful_stop_sets_the_grace_period_only_where_none_is_set() -> None:
    out, results = placed(cluster(), {"gracefulStop": True})
    assert results == [] and worker(out)["template"]["spec"]["terminationGracePeriodSeconds"] == 15
    out, results = placed(cluster({"terminationGracePeriodSeconds": 20}), {"gracefulStop": True})
    assert results == [] and worker(out)["template"]["spec"]["terminationGracePeriodSeconds"] == 20
    out, _ = placed(cluster())
    assert "terminationGracePeriodSeconds" not in worker(out)["template"]["spec"]


@pytest.mark.parametrize(
    ("raw", "seconds", "window"),
    [
        ({"provider": "gke"}, 31, 30),
        ({"provider": "eks"}, 121, 120),
        ({"gracefulStop": {"noticeSeconds": 60}}, 61, 60),
    ],
)
def test_a_grace_period_longer_than_the_notice_is_kept_with_a_warning(
    raw: dict[str, Any], seconds: int, window: int
) -> None:
    out, results = placed(cluster({"terminationGracePeriodSeconds": seconds}), raw)
    provider = raw.get("provider", "gke")
    assert results == [
        Result(
            f"worker group 'cpu': {seconds} s is longer than the {window} s a {provider} Spot node gets before "
            "it is reclaimed; the pod will be killed early",
            "warning",
            REF,
            f"{GROUP}.template.spec.terminationGracePeriodSeconds",
        )
    ]
    assert worker(out)["template"]["spec"]["terminationGracePeriodSeconds"] == seconds
    assert placed(cluster({"terminationGracePeriodSeconds": window}), raw)[1] == []


def test_pre_stop_goes_to_the_first_container() -> None:
    hook = {"exec": {"command": ["ray", "stop"]}}
    stop = {"gracefulStop": {"preStop": ["ray", "stop"]}}
    out, results = placed(cluster({"containers": [{"name": "ray"}, {"name": "side"}]}), stop)
    assert results == []
    assert worker(out)["template"]["spec"]["containers"] == [
        {"name": "ray", "lifecycle": {"preStop": hook}},
        {"name": "side"},
    ]
    out, _ = placed(cluster({"containers": [{"name": "ray", "lifecycle": {"postStart": {}}}]}), stop)
    assert worker(out)["template"]["spec"]["containers"][0]["lifecycle"] == {"postStart": {}, "preStop": hook}
    same = {"name": "ray", "lifecycle": {"preStop": hook}}
    assert placed(cluster({"containers": [same]}), stop)[1] == []


def test_pre_stop_never_replaces_a_hook_or_invents_a_container() -> None:
    stop = {"gracefulStop": {"preStop": ["ray", "stop"]}}
    other = {"name": "ray", "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}}}
    out, results = placed(cluster({"containers": [other]}), stop)
    assert results == [
        Result(
            "worker group 'cpu': already has a different preStop hook; kept it, gracefulStop.preStop not added",
            "warning",
            REF,
            f"{GROUP}.template.spec.containers[0].lifecycle.preStop",
        )
    ]
    assert worker(out)["template"]["spec"]["containers"] == [other]
    for containers in (None, [], ["x"]):
        pod = {} if containers is None else {"containers": containers}
        out, results = placed(cluster(pod), stop)
        assert results == [
            Result(
                "worker group 'cpu': no Ray container to add the preStop hook to",
                "warning",
                REF,
                f"{GROUP}.template.spec.containers",
            )
        ]


# --- what a worker group must have ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "field", "message"),
    [
        ({"groupName": "cpu"}, "template", "worker group 'cpu': template is missing"),
        # the workload's shape is checked before any group is placed, in KubeRay's words
        (
            {"groupName": "cpu", "template": "x"},
            "template",
            "expected a pod template (a mapping), got a string",
        ),
        ({"groupName": "cpu", "template": {}}, "template.spec", "worker group 'cpu': spec is missing"),
        (
            {"groupName": "cpu", "template": {"spec": []}},
            "template.spec",
            "worker group 'cpu': expected a mapping, got a list",
        ),
    ],
)
def test_a_group_without_a_pod_template_is_refused(group: dict[str, Any], field: str, message: str) -> None:
    obj = cluster()
    obj["spec"]["workerGroupSpecs"] = [group]
    out, results = placed(obj)
    assert results == [Result(message, "error", REF, f"{GROUP}.{field}")]
    assert out == obj


def test_an_unnamed_group_is_named_generically() -> None:
    obj = cluster()
    obj["spec"]["workerGroupSpecs"] = [{"template": {}}]
    assert placed(obj)[1] == [Result("worker group: spec is missing", "error", REF, f"{GROUP}.template.spec")]


# --- the pod's own placement, checked before anything changes ------------------------------------

AFF = f"{GROUP}.template.spec.affinity"
TERMS = f"{AFF}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"


GT = "operator {op} needs exactly one integer value (64-bit); as it is, this term matches no node"


def required(*terms: Any) -> dict[str, Any]:
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }
    }


@pytest.mark.parametrize(
    ("pod", "field", "message"),
    [
        ({"tolerations": {}}, f"{GROUP}.template.spec.tolerations", "expected a list, got a mapping"),
        ({"nodeSelector": ["x"]}, f"{GROUP}.template.spec.nodeSelector", "expected a mapping, got a list"),
        ({"affinity": "x"}, AFF, "expected a mapping, got a string"),
        ({"affinity": {"nodeAffinity": 1}}, f"{AFF}.nodeAffinity", "expected a mapping, got a number"),
        (
            {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}},
            f"{AFF}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            "expected a mapping, got a list",
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": {}}
                    }
                }
            },
            TERMS,
            "expected a list, got a mapping",
        ),
        (required("x"), f"{TERMS}[0]", "expected a mapping, got a string"),
        (
            required({"matchExpressions": {}}),
            f"{TERMS}[0].matchExpressions",
            "expected a list of {key, operator, values}",
        ),
        (
            required({"matchExpressions": [{"operator": "In"}]}),
            f"{TERMS}[0].matchExpressions",
            "expected a list of {key, operator, values}",
        ),
        (
            required({"matchExpressions": [{"key": "k", "operator": "Is"}]}),
            f"{TERMS}[0].matchExpressions[0].operator",
            "unknown operator 'Is'; expected one of In, NotIn, Exists, DoesNotExist, Gt, Lt",
        ),
        (
            required({"matchExpressions": [{"key": "k", "operator": "In", "values": "a"}]}),
            f"{TERMS}[0].matchExpressions[0].values",
            "expected a list of strings, got a string",
        ),
        (
            required(
                {"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "k", "operator": "Gt"}]}
            ),
            f"{TERMS}[0].matchExpressions[1].values",
            GT.format(op="Gt"),
        ),
        (
            required({"matchExpressions": [{"key": "k", "operator": "Lt", "values": ["1", "2"]}]}),
            f"{TERMS}[0].matchExpressions[0].values",
            GT.format(op="Lt"),
        ),
        (
            required(
                {"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["9223372036854775808"]}]}
            ),
            f"{TERMS}[0].matchExpressions[0].values",
            GT.format(op="Gt"),
        ),
    ],
)
def test_a_malformed_placement_refuses_the_group(pod: dict[str, Any], field: str, message: str) -> None:
    obj = cluster(pod)
    out, results = placed(obj)
    assert results == [Result(f"worker group 'cpu': {message}", "error", REF, field)]
    assert out == obj


def test_contradictions_are_errors_in_required_mode_and_warnings_in_preferred() -> None:
    pod = {
        "nodeSelector": {K: "false", "zone": "a"},
        **required(
            {"matchExpressions": [{"key": K, "operator": "NotIn", "values": ["true"]}]},
            {"matchExpressions": [{"key": K, "operator": "Exists"}]},
            {
                "matchExpressions": [
                    {"key": K, "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "Exists"},
                ]
            },
        ),
    }
    obj = cluster(pod)
    out, results = placed(obj)
    consequence = "no node could ever match"
    assert results == [
        Result(
            f"worker group 'cpu': nodeSelector {K}=false contradicts the Spot requirement `{K} In [true]`: {consequence}",
            "error",
            REF,
            f"{GROUP}.template.spec.nodeSelector",
        ),
        Result(
            f"worker group 'cpu': `{K} NotIn [true]` contradicts the Spot requirement `{K} In [true]`: {consequence} through this term",
            "error",
            REF,
            f"{TERMS}[0]",
        ),
        Result(
            f"worker group 'cpu': `{K} DoesNotExist` contradicts the Spot requirement `{K} In [true]`: {consequence} through this term",
            "error",
            REF,
            f"{TERMS}[2]",
        ),
    ]
    assert out == obj
    out, results = placed(obj, {"mode": "preferred"})
    preferred = "Spot is preferred but can never be chosen"
    assert [(r.severity, r.message.rsplit(": ", 1)[-1]) for r in results] == [
        ("warning", preferred),
        ("warning", f"{preferred} through this term"),
        ("warning", f"{preferred} through this term"),
    ]
    assert out != obj  # warnings only: the preference is still added


def test_empty_terms_are_left_as_they_are_with_a_warning() -> None:
    obj = cluster(required({}, {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}))
    out, results = placed(obj)
    assert results == [
        Result(
            "worker group 'cpu': an empty nodeSelectorTerm matches no node; left as it is",
            "warning",
            REF,
            f"{TERMS}[0]",
        )
    ]
    terms = worker(out)["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {},
        {
            "matchExpressions": [
                {"key": "zone", "operator": "Exists"},
                {"key": K, "operator": "In", "values": ["true"]},
            ]
        },
    ]
    assert placed(obj, {"mode": "preferred"})[1] == []


def test_a_matchfields_only_term_gets_the_expressions() -> None:
    fields = [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]
    out, _ = placed(cluster(required({"matchFields": fields})))
    terms = worker(out)["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {"matchFields": fields, "matchExpressions": [{"key": K, "operator": "In", "values": ["true"]}]}
    ]


PREF = "preferredDuringSchedulingIgnoredDuringExecution"
OURS_PREFERENCE: dict[str, Any] = {"matchExpressions": [{"key": K, "operator": "In", "values": ["true"]}]}
OURS: dict[str, Any] = {"weight": 100, "preference": OURS_PREFERENCE}


@pytest.mark.parametrize(
    ("prefs", "expected"),
    [
        (None, [OURS]),
        ([OURS], [OURS]),
        (
            [
                {
                    "weight": 100,
                    "preference": {"matchExpressions": [{"key": K, "operator": "In", "values": ["true"]}]},
                }
            ],
            [OURS],
        ),
        (
            [{"weight": 50, "preference": OURS["preference"]}],
            [{"weight": 50, "preference": OURS["preference"]}, OURS],
        ),
        (
            [
                {
                    "weight": 100,
                    "preference": {
                        **OURS["preference"],
                        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}],
                    },
                }
            ],
            None,  # a preference narrowed by fields is not ours: ours is added
        ),
        (["x"], ["x", OURS]),
        ([{"weight": 100, "preference": {"matchExpressions": ["x"]}}], None),
    ],
)
def test_preferred_mode_adds_one_weighted_preference(prefs: Any, expected: Any) -> None:
    node = {} if prefs is None else {PREF: prefs}
    obj = cluster({"affinity": {"nodeAffinity": node}})
    out, results = placed(obj, {"mode": "preferred"})
    assert results == []
    got = worker(out)["template"]["spec"]["affinity"]["nodeAffinity"][PREF]
    assert got == (expected if expected is not None else [*prefs, OURS])
    assert (
        "requiredDuringSchedulingIgnoredDuringExecution"
        not in worker(out)["template"]["spec"]["affinity"]["nodeAffinity"]
    )


def test_preferred_mode_refuses_preferences_that_are_not_a_list() -> None:
    obj = cluster({"affinity": {"nodeAffinity": {PREF: {}}}})
    out, results = placed(obj, {"mode": "preferred"})
    assert results == [
        Result(
            "worker group 'cpu': expected a list, got a mapping", "error", REF, f"{AFF}.nodeAffinity.{PREF}"
        )
    ]
    assert out == obj


# --- the head, and names that match no group ----------------------------------------------------

HEAD = "spec.headGroupSpec.template.spec"
HEAD_MESSAGE = "the head is pinned to Spot nodes; it must survive preemption, keep it on on-demand nodes"


def with_head(pod: dict[str, Any]) -> dict[str, Any]:
    obj = cluster()
    obj["spec"]["headGroupSpec"]["template"]["spec"] = pod
    return obj


@pytest.mark.parametrize(
    ("pod", "raw", "field"),
    [
        ({"nodeSelector": {K: "true"}}, None, f"{HEAD}.nodeSelector"),
        ({"nodeSelector": {"cloud.google.com/gke-preemptible": "true"}}, None, f"{HEAD}.nodeSelector"),
        ({"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}, None, f"{HEAD}.nodeSelector"),
        (
            {**required({"matchExpressions": [{"key": K, "operator": "In", "values": ["true"]}]})},
            None,
            f"{HEAD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        ),
        (
            required(
                {},
                {
                    "matchExpressions": [
                        {"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["SPOT"]}
                    ]
                },
            ),
            None,
            f"{HEAD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        ),
        (
            required(
                {"matchExpressions": [{"key": "example.com/spot", "operator": "In", "values": ["yes"]}]}
            ),
            {
                "provider": "custom",
                "matchExpressions": [{"key": "example.com/spot", "operator": "In", "values": ["yes"]}],
            },
            f"{HEAD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        ),
    ],
)
def test_a_head_pinned_to_spot_is_warned_about(pod: dict[str, Any], raw: Any, field: str) -> None:
    obj = with_head(pod)
    out, results = placed(obj, raw)
    assert results == [Result(HEAD_MESSAGE, "warning", REF, field)]
    assert out["spec"]["headGroupSpec"] == obj["spec"]["headGroupSpec"]


@pytest.mark.parametrize(
    "pod",
    [
        {"nodeSelector": {K: "false"}},
        {"nodeSelector": {"zone": "true"}},
        required({"matchExpressions": [{"key": K, "operator": "In", "values": ["true", "false"]}]}),
        required(
            {"matchExpressions": [{"key": K, "operator": "In", "values": ["true"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
        ),
        required({"matchExpressions": [{"key": K, "operator": "Exists"}]}),
        required({"matchExpressions": [{"key": "example.com/spot", "operator": "In", "values": ["yes"]}]}),
        required({}),
        required(),
        {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}},
    ],
)
def test_a_head_that_can_run_on_demand_is_not_warned_about(pod: dict[str, Any]) -> None:
    assert placed(with_head(pod))[1] == []


def test_names_that_match_no_worker_group_are_warned_about() -> None:
    from krm_fn.spot import check_group_names

    spec, _ = parse_spot({"groups": ["cpu", "gpu"], "nodePools": {"cpu": "a", "tpu": "b"}})
    assert check_group_names(spec, [cluster()], "spec.spot") == [
        Result(
            "no worker group is named 'gpu'; this entry has no effect (worker groups: 'cpu')",
            "warning",
            field="spec.spot.groups[1]",
        ),
        Result(
            "no worker group is named 'tpu'; this pool is never used (worker groups: 'cpu')",
            "warning",
            field="spec.spot.nodePools.tpu",
        ),
    ]
    # the groups that exist are listed, and a close one suggested
    two = cluster()
    two["spec"]["workerGroupSpecs"].append({"groupName": "small-group", "template": {"spec": {}}})
    spec, _ = parse_spot({"nodePools": {"smal-group": "a"}})
    assert [r.message for r in check_group_names(spec, [two])] == [
        "no worker group is named 'smal-group'; this pool is never used "
        "(worker groups: 'cpu', 'small-group'; did you mean 'small-group'?)"
    ]
    assert check_group_names(parse_spot(None)[0], [cluster()]) == []
