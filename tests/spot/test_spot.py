"""Spot placement: unit tests for parse_spot and apply_spot (the golden cases are in tests/test_golden.py)."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from krm_fn import yamlio
from krm_fn.results import ResourceRef, Result
from krm_fn.spot import (
    KNOWN_SPOT_REQUIREMENTS,
    PRESETS,
    GracefulStop,
    SpotSpec,
    apply_spot,
    check_group_names,
    is_spot_requirement,
    parse_spot,
    spot_requirements,
    spot_tolerations,
)
from tests.conftest import REPO, TESTDATA

GOLDEN = TESTDATA / "spot"

SPOT = {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}
SPOT_TOL = {
    "key": "cloud.google.com/gke-spot",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"


def pool(name: str, label: str = "cloud.google.com/gke-nodepool") -> dict[str, Any]:
    return {"key": label, "operator": "In", "values": [name]}


def pool_tol(name: str, key: str = "dedicated") -> dict[str, Any]:
    return {"key": key, "operator": "Equal", "value": name, "effect": "NoSchedule"}


def group(name: str = "workers", **pod: Any) -> dict[str, Any]:
    return {
        "groupName": name,
        "minReplicas": 0,
        "maxReplicas": 4,
        "rayStartParams": {},
        "template": {
            "spec": {
                "containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}],
                **pod,
            }
        },
    }


def head(**pod: Any) -> dict[str, Any]:
    return {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}], **pod}},
    }


def cluster_spec(*groups: dict[str, Any], head_pod: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"headGroupSpec": head(**(head_pod or {})), "workerGroupSpecs": list(groups)}


def raycluster(*groups: dict[str, Any], head_pod: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc", "namespace": "team-a"},
        "spec": cluster_spec(*groups, head_pod=head_pod),
    }


def pod_of(obj: Mapping[str, Any], i: int = 0) -> dict[str, Any]:
    spec = obj["spec"]
    pod: dict[str, Any] = spec["workerGroupSpecs"][i]["template"]["spec"]
    return pod


def terms_of(obj: Mapping[str, Any], i: int = 0) -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = pod_of(obj, i)["affinity"]["nodeAffinity"][REQ]["nodeSelectorTerms"]
    return terms


def spec_of(raw: object) -> SpotSpec:
    spec, results = parse_spot(raw)
    assert [r for r in results if r.is_error] == []
    return spec


def errors(results: list[Result]) -> list[Result]:
    return [r for r in results if r.is_error]


GKE = SpotSpec()
GKE_POOLS = spec_of({"nodePools": {"workers": "spot-a", "gpu": "spot-gpu"}})


# ------------------------------------------------------------------------------------------
# parse_spot


class TestParse:
    def test_absent_means_gke_required(self) -> None:
        spec, results = parse_spot(None)
        assert (spec, results) == (SpotSpec(), [])
        assert spec.enabled and spec.provider == "gke" and spec.mode == "required"
        assert spec.taint_key == "dedicated"

    def test_full_spec(self) -> None:
        spec = spec_of(
            {
                "provider": "eks",
                "mode": "preferred",
                "nodePools": {"gpu": "spot-gpu"},
                "taintKey": "pool",
                "matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
                ],
                "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "groups": ["gpu"],
                "gracefulStop": {"terminationGracePeriodSeconds": 60, "preStop": ["sleep", "5"]},
            }
        )
        assert spec == SpotSpec(
            provider="eks",
            mode="preferred",
            node_pools={"gpu": "spot-gpu"},
            taint_key="pool",
            match_expressions=({"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]},),
            tolerations=({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},),
            groups=("gpu",),
            graceful_stop=GracefulStop(60, ("sleep", "5")),
        )

    def test_none_is_disabled(self) -> None:
        assert not spec_of({"provider": "none"}).enabled

    def test_every_problem_reported_together(self) -> None:
        _, results = parse_spot(
            {
                "provider": "gcp",
                "mode": "always",
                "nodePools": {"gpu": 3, "cpu": "ok-pool"},
                "taintKey": "bad key",
                "groups": "gpu",
                "colour": "blue",
                "matchExpressions": [{"key": "a", "operator": "Near", "values": ["x"]}],
            }
        )
        fields = [r.field for r in results]
        assert fields == [
            "spec.spot.colour",
            "spec.spot.provider",
            "spec.spot.mode",
            "spec.spot.taintKey",
            "spec.spot.nodePools.gpu",
            "spec.spot.matchExpressions[0].operator",
            "spec.spot.groups",
        ]
        assert all(r.is_error and r.resource is None for r in results)
        by_field = {r.field: r.message for r in results}
        assert "expected one of gke, eks, karpenter, aks, custom, none" in by_field["spec.spot.provider"]
        assert "'gcp'" in by_field["spec.spot.provider"]
        assert "expected one of required, preferred" in by_field["spec.spot.mode"]
        assert "node pool name" in by_field["spec.spot.nodePools.gpu"]
        assert "unknown field 'colour'" in by_field["spec.spot.colour"]

    def test_path_prefix_is_the_callers(self) -> None:
        _, results = parse_spot({"mode": 1}, path="spec.tenants[2].spot")
        assert [r.field for r in results] == ["spec.tenants[2].spot.mode"]

    @pytest.mark.parametrize(
        ("raw", "field", "needle"),
        [
            (False, "spec.spot", "provider: none"),
            ([], "spec.spot", "expected a mapping"),
            ({"nodePools": ["gpu"]}, "spec.spot.nodePools", "mapping of worker group name"),
            ({"nodePools": {"": "p"}}, "spec.spot.nodePools.", "worker group name"),
            ({"poolLabel": "no spaces"}, "spec.spot.poolLabel", "node label key"),
            ({"groups": ["a", "a"]}, "spec.spot.groups[1]", "listed twice"),
            ({"groups": [""]}, "spec.spot.groups[0]", "worker group name"),
            ({"marketTypeLabel": "yes"}, "spec.spot.marketTypeLabel", "true or false"),
            (
                {"mode": "preferred", "marketTypeLabel": True},
                "spec.spot.marketTypeLabel",
                "mode: required",
            ),
            ({"provider": "custom"}, "spec.spot", "needs matchExpressions"),
            (
                {"provider": "custom", "nodePools": {"g": "p"}},
                "spec.spot.poolLabel",
                "set poolLabel",
            ),
            ({"matchExpressions": {}}, "spec.spot.matchExpressions", "expected a list"),
            ({"matchExpressions": ["x"]}, "spec.spot.matchExpressions[0]", "expected a mapping"),
            (
                {"matchExpressions": [{"key": "k", "operator": "In"}]},
                "spec.spot.matchExpressions[0].values",
                "at least one",
            ),
            (
                {"matchExpressions": [{"key": "k", "operator": "In", "values": [True]}]},
                "spec.spot.matchExpressions[0].values",
                "quote true",
            ),
            (
                {"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["a"]}]},
                "spec.spot.matchExpressions[0].values",
                "takes no values",
            ),
            (
                {"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["x"]}]},
                "spec.spot.matchExpressions[0].values",
                "one integer",
            ),
            (
                {"matchExpressions": [{"key": "k", "operator": "In", "values": ["a"], "x": 1}]},
                "spec.spot.matchExpressions[0].x",
                "unknown field",
            ),
            (
                {"tolerations": [{"operator": "Equal", "value": "v"}]},
                "spec.spot.tolerations[0].operator",
                "without a key",
            ),
            (
                {"tolerations": [{"key": "k", "effect": "Never"}]},
                "spec.spot.tolerations[0].effect",
                "NoSchedule",
            ),
            (
                {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
                "spec.spot.tolerations[0].value",
                "no value",
            ),
            (
                {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
                "spec.spot.tolerations[0].tolerationSeconds",
                "NoExecute",
            ),
            ({"tolerations": "all"}, "spec.spot.tolerations", "expected a list"),
            ({"gracefulStop": 20}, "spec.spot.gracefulStop", "true, false or a mapping"),
            (
                {"gracefulStop": {"terminationGracePeriodSeconds": 31}},
                "spec.spot.gracefulStop.terminationGracePeriodSeconds",
                "longer than the 30 s",
            ),
            (
                {"provider": "eks", "gracefulStop": {"terminationGracePeriodSeconds": 121}},
                "spec.spot.gracefulStop.terminationGracePeriodSeconds",
                "at most 120",
            ),
            (
                {"gracefulStop": {"terminationGracePeriodSeconds": True}},
                "spec.spot.gracefulStop.terminationGracePeriodSeconds",
                "positive number",
            ),
            (
                {"gracefulStop": {"preStop": "ray stop"}},
                "spec.spot.gracefulStop.preStop",
                "list of strings",
            ),
            ({"gracefulStop": {"sleep": 1}}, "spec.spot.gracefulStop.sleep", "unknown field"),
            (
                {"provider": "custom", "matchExpressions": [SPOT], "gracefulStop": True},
                "spec.spot.gracefulStop.terminationGracePeriodSeconds",
                "give the seconds",
            ),
        ],
    )
    def test_bad_values(self, raw: object, field: str, needle: str) -> None:
        _, results = parse_spot(raw)
        matching = [r for r in results if r.field == field and r.is_error]
        assert matching, results
        assert needle in matching[0].message

    def test_contradicting_requirements_are_refused(self) -> None:
        _, results = parse_spot(
            {
                "matchExpressions": [
                    {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]}
                ]
            }
        )
        assert [r.field for r in results] == ["spec.spot.matchExpressions[0]"]
        assert "no node matches" in results[0].message

    def test_pool_contradicting_match_expressions(self) -> None:
        _, results = parse_spot({"nodePools": {"gpu": "b"}, "matchExpressions": [pool("a")]})
        assert [r.field for r in results] == ["spec.spot.nodePools.gpu"]

    def test_pool_outside_groups_is_a_warning(self) -> None:
        spec, results = parse_spot({"groups": ["cpu"], "nodePools": {"gpu": "p"}})
        assert [(r.field, r.severity) for r in results] == [("spec.spot.nodePools.gpu", "warning")]
        assert spec.groups == ("cpu",)

    @pytest.mark.parametrize(
        ("provider", "seconds"), [("gke", 15), ("eks", 90), ("karpenter", 90), ("aks", 25)]
    )
    def test_graceful_stop_true_defaults_within_the_notice(self, provider: str, seconds: int) -> None:
        spec = spec_of({"provider": provider, "gracefulStop": True})
        assert spec.graceful_stop == GracefulStop(seconds)
        notice = PRESETS[provider].notice_seconds
        assert notice is not None and seconds < notice

    def test_graceful_stop_false_is_off(self) -> None:
        assert spec_of({"gracefulStop": False}).graceful_stop is None

    def test_gke_above_pod_share_warns(self) -> None:
        spec, results = parse_spot({"gracefulStop": {"terminationGracePeriodSeconds": 25}})
        assert spec.graceful_stop == GracefulStop(25)
        assert [(r.severity, r.field) for r in results] == [
            ("warning", "spec.spot.gracefulStop.terminationGracePeriodSeconds")
        ]
        assert "15 s of the 30 s" in results[0].message

    def test_notice_seconds_lifts_the_window(self) -> None:
        spec = spec_of({"gracefulStop": {"noticeSeconds": 120, "terminationGracePeriodSeconds": 100}})
        assert spec.graceful_stop == GracefulStop(100, None, 120)
        assert spec_of({"gracefulStop": {"noticeSeconds": 60}}).graceful_stop == GracefulStop(60, None, 60)

    def test_custom_with_pool_label(self) -> None:
        spec = spec_of({"provider": "custom", "poolLabel": "example.com/pool", "nodePools": {"g": "p"}})
        assert spot_requirements(spec, "g") == [pool("p", "example.com/pool")]
        assert spot_requirements(spec, "other") == []

    def test_empty_taint_key_means_no_pool_toleration(self) -> None:
        spec = spec_of({"taintKey": "", "nodePools": {"g": "p"}})
        assert spot_tolerations(spec, "g") == [SPOT_TOL]


# ------------------------------------------------------------------------------------------
# requirements and presets


class TestPresets:
    @pytest.mark.parametrize(
        ("provider", "requirement", "toleration", "pool_label"),
        [
            ("gke", SPOT, SPOT_TOL, "cloud.google.com/gke-nodepool"),
            (
                "eks",
                {"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["SPOT"]},
                None,
                "eks.amazonaws.com/nodegroup",
            ),
            (
                "karpenter",
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
                None,
                "karpenter.sh/nodepool",
            ),
            (
                "aks",
                {
                    "key": "kubernetes.azure.com/scalesetpriority",
                    "operator": "In",
                    "values": ["spot"],
                },
                {
                    "key": "kubernetes.azure.com/scalesetpriority",
                    "operator": "Equal",
                    "value": "spot",
                    "effect": "NoSchedule",
                },
                "kubernetes.azure.com/agentpool",
            ),
        ],
    )
    def test_provider(
        self,
        provider: str,
        requirement: dict[str, Any],
        toleration: dict[str, Any] | None,
        pool_label: str,
    ) -> None:
        spec = spec_of({"provider": provider, "nodePools": {"g": "p1"}})
        assert spot_requirements(spec, "other") == [requirement]
        assert spot_requirements(spec, "g") == [requirement, pool("p1", pool_label)]
        assert spot_tolerations(spec, "other") == ([toleration] if toleration else [])
        assert spot_tolerations(spec, "g") == [
            *([toleration] if toleration else []),
            pool_tol("p1"),
        ]
        assert KNOWN_SPOT_REQUIREMENTS[provider] == (requirement,)
        assert is_spot_requirement(requirement)

    def test_known_requirements_cover_the_real_providers_only(self) -> None:
        assert sorted(KNOWN_SPOT_REQUIREMENTS) == ["aks", "eks", "gke", "karpenter"]

    def test_is_spot_requirement(self) -> None:
        assert is_spot_requirement(
            {"key": "cloud.google.com/gke-preemptible", "operator": "In", "values": ["true"]}
        )
        assert not is_spot_requirement({**SPOT, "operator": "NotIn"})
        assert not is_spot_requirement({**SPOT, "values": ["true", "false"]})
        assert not is_spot_requirement(pool("a"))

    def test_extra_requirements_are_deduplicated(self) -> None:
        spec = spec_of(
            {
                "matchExpressions": [SPOT, pool("a")],
                "nodePools": {"g": "a"},
                "tolerations": [SPOT_TOL],
            }
        )
        assert spot_requirements(spec, "g") == [SPOT, pool("a")]
        assert spot_tolerations(spec, "g") == [SPOT_TOL, pool_tol("a")]

    def test_returned_dicts_are_fresh(self) -> None:
        first = spot_requirements(GKE, None)
        first[0]["values"].append("false")
        assert spot_requirements(GKE, None) == [SPOT]


# ------------------------------------------------------------------------------------------
# apply_spot: where it applies


def _embedded(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": "w", "namespace": "team-a"}
    if kind == "RayJob":
        return {
            "apiVersion": "ray.io/v1",
            "kind": kind,
            "metadata": meta,
            "spec": {
                "entrypoint": "python x.py",
                "rayClusterSpec": spec,
                "submitterPodTemplate": {"spec": {"containers": [{"name": "submit", "image": "ray"}]}},
            },
        }
    if kind == "RayService":
        return {
            "apiVersion": "ray.io/v1",
            "kind": kind,
            "metadata": meta,
            "spec": {"rayClusterConfig": spec},
        }
    if kind == "RayCronJob":
        return {
            "apiVersion": "ray.io/v1",
            "kind": kind,
            "metadata": meta,
            "spec": {"schedule": "* * * * *", "jobTemplate": {"rayClusterSpec": spec}},
        }
    return {"apiVersion": "ray.io/v1", "kind": kind, "metadata": meta, "spec": spec}


KIND_PATHS = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
    "RayCronJob": ("spec", "jobTemplate", "rayClusterSpec"),
}


def _at(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for key in path:
        node = node[key]
    return node


class TestWhere:
    @pytest.mark.parametrize("kind", list(KIND_PATHS))
    def test_every_worker_group_of_every_kind(self, kind: str) -> None:
        obj = _embedded(kind, cluster_spec(group("a"), group("b")))
        out, results = apply_spot(obj, GKE)
        assert results == []
        embedded = _at(out, KIND_PATHS[kind])
        for g in embedded["workerGroupSpecs"]:
            assert g["template"]["spec"]["affinity"]["nodeAffinity"][REQ]["nodeSelectorTerms"] == [
                {"matchExpressions": [SPOT]}
            ]
            assert g["template"]["spec"]["tolerations"] == [SPOT_TOL]
        assert embedded["headGroupSpec"] == _at(obj, KIND_PATHS[kind])["headGroupSpec"]
        if kind == "RayJob":
            assert out["spec"]["submitterPodTemplate"] == obj["spec"]["submitterPodTemplate"]

    def test_not_ray_objects_unchanged(self) -> None:
        for obj in (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}},
            {"apiVersion": "example.com/v1", "kind": "RayCluster", "spec": cluster_spec(group())},
            {"apiVersion": "ray.io/v1", "kind": "RayNode", "spec": cluster_spec(group())},
        ):
            out, results = apply_spot(obj, GKE)
            assert (out, results) == (obj, [])

    def test_rayjob_with_cluster_selector_unchanged(self) -> None:
        obj = {
            "apiVersion": "ray.io/v1",
            "kind": "RayJob",
            "metadata": {"name": "j"},
            "spec": {"clusterSelector": {"a": "b"}},
        }
        assert apply_spot(obj, GKE) == (obj, [])

    def test_provider_none_unchanged(self) -> None:
        obj = raycluster(group())
        out, results = apply_spot(obj, spec_of({"provider": "none"}))
        assert (out, results) == (obj, [])

    def test_groups_restrict(self) -> None:
        obj = raycluster(group("cpu"), group("gpu"))
        out, _ = apply_spot(obj, spec_of({"groups": ["gpu"]}))
        assert out["spec"]["workerGroupSpecs"][0] == obj["spec"]["workerGroupSpecs"][0]
        assert terms_of(out, 1) == [{"matchExpressions": [SPOT]}]

    def test_input_never_mutated_and_output_independent(self) -> None:
        obj = raycluster(
            group(
                "workers",
                affinity={
                    "nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": [pool("x", "z")]}]}}
                },
            ),
            group("gpu", tolerations=[{"key": "t", "operator": "Exists"}]),
        )
        before = copy.deepcopy(obj)
        out, _ = apply_spot(obj, GKE_POOLS)
        assert obj == before
        out["metadata"]["name"] = "changed"
        pod_of(out, 1)["tolerations"].clear()
        assert obj == before

    def test_head_pinned_to_spot_warns(self) -> None:
        for head_pod, field in (
            (
                {"nodeSelector": {"cloud.google.com/gke-spot": "true"}},
                "spec.headGroupSpec.template.spec.nodeSelector",
            ),
            (
                {"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": [SPOT]}]}}}},
                f"spec.headGroupSpec.template.spec.affinity.nodeAffinity.{REQ}",
            ),
            (
                {
                    "affinity": {
                        "nodeAffinity": {
                            REQ: {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "karpenter.sh/capacity-type",
                                                "operator": "In",
                                                "values": ["spot"],
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    }
                },
                f"spec.headGroupSpec.template.spec.affinity.nodeAffinity.{REQ}",
            ),
        ):
            obj = raycluster(group(), head_pod=head_pod)
            out, results = apply_spot(obj, GKE)
            assert [(r.severity, r.field) for r in results] == [("warning", field)]
            assert "head" in results[0].message and results[0].resource == ResourceRef.of(obj)
            assert out["spec"]["headGroupSpec"] == obj["spec"]["headGroupSpec"]

    def test_head_with_an_on_demand_way_out_is_not_pinned(self) -> None:
        terms = [{"matchExpressions": [SPOT]}, {"matchExpressions": [pool("regular")]}]
        obj = raycluster(
            group(), head_pod={"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": terms}}}}
        )
        assert apply_spot(obj, GKE)[1] == []


# ------------------------------------------------------------------------------------------
# apply_spot: node affinity semantics


def with_terms(*terms: dict[str, Any], **pod: Any) -> dict[str, Any]:
    return raycluster(
        group("workers", affinity={"nodeAffinity": {REQ: {"nodeSelectorTerms": list(terms)}}}, **pod)
    )


TERM_PATH = f"spec.workerGroupSpecs[0].template.spec.affinity.nodeAffinity.{REQ}.nodeSelectorTerms"


class TestRequired:
    def test_no_affinity_creates_one_term(self) -> None:
        out, results = apply_spot(raycluster(group("workers")), GKE_POOLS)
        assert results == []
        assert pod_of(out)["affinity"] == {
            "nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": [SPOT, pool("spot-a")]}]}}
        }
        assert list(pod_of(out)) == ["containers", "affinity", "tolerations"]

    def test_existing_affinity_kinds_kept_and_keys_appended(self) -> None:
        pod_affinity: dict[str, Any] = {
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}
        }
        prefs = [{"weight": 5, "preference": {"matchExpressions": [pool("other")]}}]
        obj = raycluster(group("workers", affinity={**pod_affinity, "nodeAffinity": {PREF: prefs}}))
        out, _ = apply_spot(obj, GKE)
        affinity = pod_of(out)["affinity"]
        assert list(affinity) == ["podAntiAffinity", "nodeAffinity"]
        assert affinity["podAntiAffinity"] == pod_affinity["podAntiAffinity"]
        assert list(affinity["nodeAffinity"]) == [PREF, REQ]
        assert affinity["nodeAffinity"][PREF] == prefs

    def test_every_term_gets_the_requirement_no_new_term(self) -> None:
        # Kyverno's add-node-affinity patches only the last term: term 0 stays a way onto on-demand
        obj = with_terms(
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
        )
        out, results = apply_spot(obj, GKE_POOLS)
        assert results == []
        terms = terms_of(out)
        assert len(terms) == 3
        for before, after in zip(terms_of(obj), terms, strict=True):
            assert after["matchExpressions"] == [*before["matchExpressions"], SPOT, pool("spot-a")]

    def test_expression_already_present_is_not_duplicated(self) -> None:
        obj = with_terms({"matchExpressions": [pool("spot-a"), {**SPOT, "values": ["true"]}]})
        out, results = apply_spot(obj, GKE_POOLS)
        assert results == []
        assert terms_of(out) == terms_of(obj)

    def test_superset_in_is_kept_and_the_requirement_anded(self) -> None:
        wide = pool("spot-a") | {"values": ["spot-a", "on-demand"]}
        out, results = apply_spot(with_terms({"matchExpressions": [wide]}), GKE_POOLS)
        assert results == []
        assert terms_of(out) == [{"matchExpressions": [wide, SPOT, pool("spot-a")]}]

    @pytest.mark.parametrize(
        "expr",
        [
            {"key": "cloud.google.com/gke-spot", "operator": "Exists"},
            {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["false"]},
            {
                "key": "cloud.google.com/gke-nodepool",
                "operator": "NotIn",
                "values": ["default-pool"],
            },
            {"key": "other", "operator": "DoesNotExist"},
        ],
    )
    def test_compatible_expressions(self, expr: dict[str, Any]) -> None:
        out, results = apply_spot(with_terms({"matchExpressions": [expr]}), GKE_POOLS)
        assert results == []
        assert terms_of(out) == [{"matchExpressions": [expr, SPOT, pool("spot-a")]}]

    @pytest.mark.parametrize(
        "expr",
        [
            {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]},
            {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"},
            {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["false"]},
            {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["other-pool"]},
            {"key": "cloud.google.com/gke-spot", "operator": "Gt", "values": ["0"]},
        ],
    )
    def test_contradiction_is_an_error_and_the_group_untouched(self, expr: dict[str, Any]) -> None:
        obj = with_terms(
            {"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
            {"matchExpressions": [expr]},
        )
        out, results = apply_spot(obj, GKE_POOLS)
        assert [(r.severity, r.field) for r in results] == [("error", f"{TERM_PATH}[1]")]
        assert results[0].resource == ResourceRef("ray.io/v1", "RayCluster", "rc", "team-a")
        assert "worker group 'workers'" in results[0].message
        assert "contradicts" in results[0].message and expr["key"] in results[0].message
        assert out == obj

    def test_contradiction_only_blocks_its_group(self) -> None:
        bad = {
            "affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": [pool("x")]}]}}}
        }
        obj = raycluster(group("workers", **bad), group("gpu"))
        out, results = apply_spot(obj, GKE_POOLS)
        assert [r.field for r in errors(results)] == [f"{TERM_PATH}[0]"]
        assert out["spec"]["workerGroupSpecs"][0] == obj["spec"]["workerGroupSpecs"][0]
        assert terms_of(out, 1) == [{"matchExpressions": [SPOT, pool("spot-gpu")]}]

    def test_numeric_operators(self) -> None:
        spec = spec_of(
            {
                "provider": "custom",
                "matchExpressions": [{"key": "cpu-gen", "operator": "Gt", "values": ["3"]}],
            }
        )
        ok = {"key": "cpu-gen", "operator": "Lt", "values": ["6"]}
        assert apply_spot(with_terms({"matchExpressions": [ok]}), spec)[1] == []
        bad = {"key": "cpu-gen", "operator": "Lt", "values": ["5"]}
        bad_in = {"key": "cpu-gen", "operator": "In", "values": ["4"]}
        assert errors(
            apply_spot(with_terms({"matchExpressions": [bad, bad_in | {"operator": "NotIn"}]}), spec)[1]
        )

    def test_match_fields_term_gets_the_expressions(self) -> None:
        fields = [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]
        out, _ = apply_spot(with_terms({"matchFields": fields}), GKE)
        assert terms_of(out) == [{"matchFields": fields, "matchExpressions": [SPOT]}]

    def test_empty_term_left_alone_with_a_warning(self) -> None:
        # an empty term matches no node; filling it in would open it to every Spot node
        obj = with_terms({}, {"matchExpressions": [{"key": "zone", "operator": "Exists"}]})
        out, results = apply_spot(obj, GKE)
        assert [(r.severity, r.field) for r in results] == [("warning", f"{TERM_PATH}[0]")]
        assert terms_of(out)[0] == {}
        assert terms_of(out)[1]["matchExpressions"][-1] == SPOT

    def test_null_or_empty_term_list_gets_one_term(self) -> None:
        terms: list[Any] | None
        for terms in (None, []):
            obj = raycluster(group("workers", affinity={"nodeAffinity": {REQ: {"nodeSelectorTerms": terms}}}))
            out, results = apply_spot(obj, GKE)
            assert results == [] and terms_of(out) == [{"matchExpressions": [SPOT]}]

    def test_null_affinity_replaced_in_place(self) -> None:
        obj = raycluster(group("workers", affinity=None, tolerations=None, nodeSelector={"a": "b"}))
        out, _ = apply_spot(obj, GKE)
        assert list(pod_of(out)) == ["containers", "affinity", "tolerations", "nodeSelector"]
        assert pod_of(out)["nodeSelector"] == {"a": "b"}

    def test_node_selector_contradiction(self) -> None:
        obj = raycluster(group("workers", nodeSelector={"cloud.google.com/gke-spot": "false"}))
        out, results = apply_spot(obj, GKE)
        assert [(r.severity, r.field) for r in results] == [
            ("error", "spec.workerGroupSpecs[0].template.spec.nodeSelector")
        ]
        assert "cloud.google.com/gke-spot=false" in results[0].message
        assert out == obj

    def test_node_selector_agreeing_is_kept(self) -> None:
        obj = raycluster(group("workers", nodeSelector={"cloud.google.com/gke-spot": "true", "x": "y"}))
        out, results = apply_spot(obj, GKE)
        assert results == [] and pod_of(out)["nodeSelector"] == pod_of(obj)["nodeSelector"]

    @pytest.mark.parametrize(
        ("pod", "field"),
        [
            ({"affinity": []}, "affinity"),
            ({"affinity": {"nodeAffinity": "x"}}, "affinity.nodeAffinity"),
            ({"affinity": {"nodeAffinity": {REQ: []}}}, f"affinity.nodeAffinity.{REQ}"),
            (
                {"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": {}}}}},
                f"affinity.nodeAffinity.{REQ}.nodeSelectorTerms",
            ),
            (
                {"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": ["x"]}}}},
                f"affinity.nodeAffinity.{REQ}.nodeSelectorTerms[0]",
            ),
            (
                {"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": "x"}]}}}},
                f"affinity.nodeAffinity.{REQ}.nodeSelectorTerms[0].matchExpressions",
            ),
            (
                {
                    "affinity": {
                        "nodeAffinity": {
                            REQ: {
                                "nodeSelectorTerms": [
                                    {"matchExpressions": [{"key": "k", "operator": "Near"}]}
                                ]
                            }
                        }
                    }
                },
                f"affinity.nodeAffinity.{REQ}.nodeSelectorTerms[0].matchExpressions[0].operator",
            ),
            ({"tolerations": {}}, "tolerations"),
            ({"nodeSelector": []}, "nodeSelector"),
        ],
    )
    def test_malformed_placement_is_an_error(self, pod: dict[str, Any], field: str) -> None:
        obj = raycluster(group("workers", **pod))
        out, results = apply_spot(obj, GKE)
        assert [(r.severity, r.field) for r in results] == [
            ("error", f"spec.workerGroupSpecs[0].template.spec.{field}")
        ]
        assert out == obj

    def test_missing_template_is_an_error(self) -> None:
        g = group("workers")
        del g["template"]
        _, results = apply_spot(raycluster(g), GKE)
        assert [(r.field, r.message) for r in results] == [
            ("spec.workerGroupSpecs[0].template", "worker group 'workers': template is missing")
        ]

    def test_custom_group_without_requirement_warns(self) -> None:
        spec = spec_of({"provider": "custom", "poolLabel": "example.com/pool", "nodePools": {"gpu": "p"}})
        out, results = apply_spot(raycluster(group("cpu"), group("gpu")), spec)
        assert [(r.severity, r.field) for r in results] == [
            ("warning", "spec.workerGroupSpecs[0].template.spec")
        ]
        assert "affinity" not in pod_of(out, 0)
        assert terms_of(out, 1) == [{"matchExpressions": [pool("p", "example.com/pool")]}]


class TestPreferred:
    SPEC = spec_of({"mode": "preferred", "nodePools": {"workers": "spot-a"}})
    TERM: ClassVar[dict[str, Any]] = {
        "weight": 100,
        "preference": {"matchExpressions": [SPOT, pool("spot-a")]},
    }

    def test_one_preferred_term_no_requirement(self) -> None:
        out, results = apply_spot(raycluster(group("workers")), self.SPEC)
        assert results == []
        assert pod_of(out)["affinity"] == {"nodeAffinity": {PREF: [self.TERM]}}
        assert pod_of(out)["tolerations"] == [SPOT_TOL, pool_tol("spot-a")]

    def test_existing_terms_kept_and_required_untouched(self) -> None:
        other = {"weight": 10, "preference": {"matchExpressions": [pool("x", "zone")]}}
        req = {"nodeSelectorTerms": [{"matchExpressions": [pool("y", "zone")]}]}
        obj = raycluster(group("workers", affinity={"nodeAffinity": {REQ: req, PREF: [other]}}))
        out, results = apply_spot(obj, self.SPEC)
        assert results == []
        assert pod_of(out)["affinity"]["nodeAffinity"] == {REQ: req, PREF: [other, self.TERM]}

    def test_identical_term_not_added_twice(self) -> None:
        same = {"weight": 100, "preference": {"matchExpressions": [pool("spot-a"), SPOT]}}
        obj = raycluster(group("workers", affinity={"nodeAffinity": {PREF: [same]}}))
        out, _ = apply_spot(obj, self.SPEC)
        assert pod_of(out)["affinity"]["nodeAffinity"][PREF] == [same]

    def test_same_preference_other_weight_is_not_identical(self) -> None:
        light = {"weight": 1, "preference": {"matchExpressions": [SPOT, pool("spot-a")]}}
        obj = raycluster(group("workers", affinity={"nodeAffinity": {PREF: [light]}}))
        out, _ = apply_spot(obj, self.SPEC)
        assert pod_of(out)["affinity"]["nodeAffinity"][PREF] == [light, self.TERM]

    def test_contradicting_required_term_is_only_a_warning(self) -> None:
        bad = {"nodeSelectorTerms": [{"matchExpressions": [{**SPOT, "operator": "NotIn"}]}]}
        obj = raycluster(group("workers", affinity={"nodeAffinity": {REQ: bad}}))
        out, results = apply_spot(obj, self.SPEC)
        assert [(r.severity, r.field) for r in results] == [("warning", f"{TERM_PATH}[0]")]
        assert "can never be chosen" in results[0].message
        assert pod_of(out)["affinity"]["nodeAffinity"] == {REQ: bad, PREF: [self.TERM]}

    def test_contradicting_node_selector_is_only_a_warning(self) -> None:
        obj = raycluster(group("workers", nodeSelector={"cloud.google.com/gke-nodepool": "default"}))
        out, results = apply_spot(obj, self.SPEC)
        assert [r.severity for r in results] == ["warning"]
        assert pod_of(out)["affinity"]["nodeAffinity"][PREF] == [self.TERM]


class TestTolerations:
    def test_existing_kept_in_order_missing_appended(self) -> None:
        existing = [
            {"key": "b", "operator": "Exists"},
            {"key": "a", "operator": "Equal", "value": "1", "effect": "NoExecute"},
        ]
        out, _ = apply_spot(raycluster(group("workers", tolerations=copy.deepcopy(existing))), GKE_POOLS)
        assert pod_of(out)["tolerations"] == [*existing, SPOT_TOL, pool_tol("spot-a")]

    def test_equivalent_spelling_is_not_duplicated(self) -> None:
        # operator defaults to Equal
        have = [{"key": "dedicated", "value": "spot-a", "effect": "NoSchedule"}, SPOT_TOL]
        out, _ = apply_spot(raycluster(group("workers", tolerations=copy.deepcopy(have))), GKE_POOLS)
        assert pod_of(out)["tolerations"] == have

    @pytest.mark.parametrize(
        "cover",
        [
            {"operator": "Exists"},
            {"key": "dedicated", "operator": "Exists"},
            {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "dedicated", "operator": "Equal", "value": "spot-a"},
        ],
    )
    def test_broader_toleration_already_covers(self, cover: dict[str, Any]) -> None:
        spec = spec_of({"provider": "eks", "nodePools": {"workers": "spot-a"}})
        out, _ = apply_spot(raycluster(group("workers", tolerations=[cover])), spec)
        assert pod_of(out)["tolerations"] == [cover]

    def test_narrower_toleration_does_not_cover(self) -> None:
        spec = spec_of({"provider": "eks", "nodePools": {"workers": "spot-a"}})
        for have in (
            {"key": "dedicated", "operator": "Exists", "effect": "PreferNoSchedule"},
            {"key": "dedicated", "operator": "Equal", "value": "other"},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        ):
            out, _ = apply_spot(raycluster(group("workers", tolerations=[have])), spec)
            assert pod_of(out)["tolerations"] == [have, pool_tol("spot-a")]

    def test_extra_tolerations(self) -> None:
        extra = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        spec = spec_of({"provider": "karpenter", "tolerations": [extra]})
        out, _ = apply_spot(raycluster(group("workers")), spec)
        assert pod_of(out)["tolerations"] == [extra]


class TestGracefulStopAndLabels:
    def test_grace_period_set_no_pre_stop(self) -> None:
        out, results = apply_spot(raycluster(group("workers")), spec_of({"gracefulStop": True}))
        assert results == []
        assert pod_of(out)["terminationGracePeriodSeconds"] == 15
        assert "lifecycle" not in pod_of(out)["containers"][0]

    def test_pre_stop_only_when_asked(self) -> None:
        spec = spec_of(
            {
                "provider": "eks",
                "gracefulStop": {"terminationGracePeriodSeconds": 60, "preStop": ["ray", "stop"]},
            }
        )
        out, _ = apply_spot(raycluster(group("workers")), spec)
        assert pod_of(out)["containers"][0]["lifecycle"] == {
            "preStop": {"exec": {"command": ["ray", "stop"]}}
        }
        assert pod_of(out)["terminationGracePeriodSeconds"] == 60

    def test_existing_grace_period_and_hook_kept(self) -> None:
        spec = spec_of({"provider": "eks", "gracefulStop": {"preStop": ["ray", "stop"]}})
        obj = raycluster(group("workers", terminationGracePeriodSeconds=200))
        pod_of(obj)["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "1"]}}}
        out, results = apply_spot(obj, spec)
        assert [r.field for r in results] == [
            "spec.workerGroupSpecs[0].template.spec.terminationGracePeriodSeconds",
            "spec.workerGroupSpecs[0].template.spec.containers[0].lifecycle.preStop",
        ]
        assert all(r.severity == "warning" for r in results)
        assert pod_of(out)["terminationGracePeriodSeconds"] == 200
        assert pod_of(out)["containers"][0]["lifecycle"] == pod_of(obj)["containers"][0]["lifecycle"]

    def test_market_type_label_opt_in(self) -> None:
        spec = spec_of({"marketTypeLabel": True})
        out, results = apply_spot(raycluster(group("workers")), spec)
        assert results == [] and out["spec"]["workerGroupSpecs"][0]["labels"] == {
            "ray.io/market-type": "spot"
        }
        assert list(out["spec"]["workerGroupSpecs"][0])[-1] == "labels"
        g = group("workers")
        g["labels"] = {"ray.io/market-type": "on-demand"}
        obj = raycluster(g)
        out, results = apply_spot(obj, spec)
        assert [(r.severity, r.field) for r in results] == [("error", "spec.workerGroupSpecs[0].labels")]
        assert out == obj

    def test_market_type_label_not_set_by_default_but_warned(self) -> None:
        out, _ = apply_spot(raycluster(group("workers")), GKE)
        assert "labels" not in out["spec"]["workerGroupSpecs"][0]
        g = group("workers")
        g["labels"] = {"ray.io/market-type": "on-demand"}
        out, results = apply_spot(raycluster(g), GKE)
        assert [(r.severity, r.field) for r in results] == [("warning", "spec.workerGroupSpecs[0].labels")]
        assert out["spec"]["workerGroupSpecs"][0]["labels"] == {"ray.io/market-type": "on-demand"}


class TestCheckGroupNames:
    def test_unknown_names_warned(self) -> None:
        spec = spec_of({"groups": ["cpu", "tpu"], "nodePools": {"cpu": "a", "tpu": "b"}})
        found = check_group_names(spec, [raycluster(group("cpu"))])
        assert [(r.severity, r.field) for r in found] == [
            ("warning", "spec.spot.groups[1]"),
            ("warning", "spec.spot.nodePools.tpu"),
        ]
        assert check_group_names(spec, [raycluster(group("cpu"), group("tpu"))]) == []


def test_idempotent_on_a_busy_template() -> None:
    obj = with_terms(
        {"matchExpressions": [pool("spot-a") | {"values": ["spot-a", "b"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]},
        {},
        tolerations=[{"operator": "Exists", "effect": "NoExecute"}],
    )
    once, first = apply_spot(obj, GKE_POOLS)
    twice, second = apply_spot(once, GKE_POOLS)
    assert yamlio.dump(twice) == yamlio.dump(once)
    assert first == second


def test_fast_enough_for_a_thousand_tenants() -> None:
    base = yamlio.load_documents((GOLDEN / "gke-required" / "resources.yaml").read_text())[0].data
    start = time.perf_counter()
    for _ in range(1000):
        apply_spot(base, GKE_POOLS)
    elapsed = time.perf_counter() - start
    # about 40 us per two-group cluster (bench/bench.py measures it); this bound only catches a
    # hang or a quadratic blow-up, never a loaded machine
    assert elapsed < 60, f"1,000 applications took {elapsed:.2f} s"


DOCS = REPO / "README.md"


def test_documented_examples_parse() -> None:
    """Every `spot:` example in the README is accepted as written."""
    text = DOCS.read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    examples = [yamlio.load(b)["spot"] for b in blocks if b.startswith("spot:")]
    assert len(examples) == 6
    providers = set()
    for raw in examples:
        spec, results = parse_spot(raw)
        assert results == [], (raw, results)
        providers.add(spec.provider)
    assert providers == {"gke", "eks", "karpenter", "aks", "custom", "none"}
