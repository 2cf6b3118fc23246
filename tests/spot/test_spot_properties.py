"""Spot placement: properties that must hold for any worker group and any settings.

The node matching below is an independent reference of the Kubernetes NodeSelector rules
(terms ORed, expressions ANDed, an empty term matches nothing, nodeSelector also required),
checked over generated nodes, so the engine's own solver is tested rather than trusted. What
"Spot" means for a group (the requirements and tolerations it must carry) is worked out here
from the raw settings and the README's provider table, never asked of the engine.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krm_fn import yamlio
from krm_fn.results import Result
from krm_fn.selectors import witness
from krm_fn.spot import SpotSpec, apply_spot, parse_spot

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"
VALUES = ["true", "false", "SPOT", "spot", "a", "b", "1", "2", "3"]
BOUNDS = ["1", "2", "3"]
# every value the generated expressions can tell apart: listed ones, an unlisted one, numbers
# beyond the bounds, and absence (None); brute force over it decides satisfiability exactly
UNIVERSE: list[str | None] = [None, *VALUES, "zz", "0", "4", "5"]
GROUPS = ["g0", "g1", "gpu-workers"]
NODE_NAMES = ["node-1", "node-2"]
EXTRA_KEYS = ["topology.kubernetes.io/zone", "example.com/gen"]


@dataclass(frozen=True)
class Preset:
    """One row of the README's provider table, written out by hand."""

    spot_label: str | None
    spot_value: str | None
    tainted: bool  # whether Spot nodes carry the taint <spot_label>=<spot_value>:NoSchedule
    pool_label: str | None
    grace_seconds: int | None  # what `gracefulStop: true` gives


PROVIDER_TABLE = {
    "gke": Preset("cloud.google.com/gke-spot", "true", True, "cloud.google.com/gke-nodepool", 15),
    "eks": Preset("eks.amazonaws.com/capacityType", "SPOT", False, "eks.amazonaws.com/nodegroup", 90),
    "karpenter": Preset("karpenter.sh/capacity-type", "spot", False, "karpenter.sh/nodepool", 90),
    "aks": Preset(
        "kubernetes.azure.com/scalesetpriority", "spot", True, "kubernetes.azure.com/agentpool", 25
    ),
    "custom": Preset(None, None, False, None, None),
}
# where each Ray kind keeps its embedded cluster spec (README, "Spot placement")
CLUSTER_PATHS = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
    "RayCronJob": ("spec", "jobTemplate", "rayClusterSpec"),
}


@functools.cache
def keys_for(provider: str) -> tuple[str, ...]:
    preset = PROVIDER_TABLE[provider]
    keys = [preset.spot_label] if preset.spot_label else []
    keys.append(preset.pool_label or "example.com/pool")
    return (*keys, *EXTRA_KEYS)


@dataclass(frozen=True)
class Expected:
    """What the raw `spec.spot` settings promise, derived without the engine."""

    raw: Mapping[str, Any]

    @property
    def preset(self) -> Preset:
        return PROVIDER_TABLE[self.raw["provider"]]

    @property
    def mode(self) -> str:
        return str(self.raw.get("mode", "required"))

    def targets(self, group: str) -> bool:
        return "groups" not in self.raw or group in self.raw["groups"]

    def pool(self, group: str) -> str | None:
        pools: Mapping[str, str] = self.raw.get("nodePools") or {}
        return pools.get(group)

    def requirements(self, group: str) -> list[dict[str, Any]]:
        """The provider's expression, the pool's, then matchExpressions; duplicates dropped."""
        wanted: list[dict[str, Any]] = []
        preset = self.preset
        if preset.spot_label:
            wanted.append({"key": preset.spot_label, "operator": "In", "values": [preset.spot_value]})
        pool_label = self.raw.get("poolLabel") or preset.pool_label
        pool = self.pool(group)
        if pool is not None and pool_label:
            wanted.append({"key": pool_label, "operator": "In", "values": [pool]})
        wanted.extend(copy.deepcopy(list(self.raw.get("matchExpressions") or [])))
        out: list[dict[str, Any]] = []
        for e in wanted:
            if not any(_same(e, seen) for seen in out):
                out.append(e)
        return out

    def tolerations(self, group: str) -> list[dict[str, Any]]:
        """The provider's taint, the pool's (`taintKey`, default `dedicated`), then tolerations."""
        preset = self.preset
        out: list[dict[str, Any]] = []
        if preset.tainted:
            out.append(
                {
                    "key": preset.spot_label,
                    "operator": "Equal",
                    "value": preset.spot_value,
                    "effect": "NoSchedule",
                }
            )
        pool = self.pool(group)
        if pool is not None:
            out.append({"key": "dedicated", "operator": "Equal", "value": pool, "effect": "NoSchedule"})
        out.extend(copy.deepcopy(list(self.raw.get("tolerations") or [])))
        return out

    @property
    def grace_seconds(self) -> int | None:
        stop = self.raw.get("gracefulStop")
        if stop is True:
            return self.preset.grace_seconds
        return int(stop["terminationGracePeriodSeconds"]) if isinstance(stop, Mapping) else None

    @property
    def market_type_label(self) -> bool:
        return bool(self.raw.get("marketTypeLabel"))


# ------------------------------------------------------------------------------------------
# reference semantics


def expr_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    op, values = expr["operator"], list(expr.get("values") or [])
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    try:
        have, bound = int(str(value)), int(values[0])
    except ValueError:
        return False
    return have > bound if op == "Gt" else have < bound


def term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = node["labels"]
    return all(expr_matches(e, labels.get(e["key"])) for e in exprs) and all(
        expr_matches(f, node["name"]) for f in fields
    )


def pod_matches(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    for key, value in (pod.get("nodeSelector") or {}).items():
        if node["labels"].get(key) != value:
            return False
    affinity = pod.get("affinity") or {}
    required = (affinity.get("nodeAffinity") or {}).get(REQ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(term_matches(t, node) for t in terms)


def satisfiable(exprs: Sequence[Mapping[str, Any]]) -> bool:
    return any(all(expr_matches(e, v) for e in exprs) for v in UNIVERSE)


def tolerates(have: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Kubernetes' ToleratesTaint for a NoSchedule-style taint."""
    if have.get("effect") and have["effect"] != taint["effect"]:
        return False
    if have.get("operator") == "Exists":
        return not have.get("key") or bool(have["key"] == taint["key"])
    return bool(have.get("key") == taint["key"] and (have.get("value") or "") == taint["value"])


def covers(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """Kubernetes' rules: `have` tolerates every taint `want` does, for at least as long.

    An empty effect is every effect, an empty key with Exists every key, Exists every value;
    tolerationSeconds bounds only NoExecute evictions (no seconds: forever).
    """
    h_effect, w_effect = have.get("effect") or "", want.get("effect") or ""
    if h_effect and h_effect != w_effect:
        return False
    h_op, w_op = have.get("operator") or "Equal", want.get("operator") or "Equal"
    h_key, w_key = have.get("key") or "", want.get("key") or ""
    if h_key and h_key != w_key:
        return False
    if not h_key and h_op != "Exists":
        return False
    if h_op == "Equal" and (w_op != "Equal" or (have.get("value") or "") != (want.get("value") or "")):
        return False
    if w_effect in ("", "NoExecute") and have.get("tolerationSeconds") is not None:
        return (
            want.get("tolerationSeconds") is not None
            and have["tolerationSeconds"] >= want["tolerationSeconds"]
        )
    return True


# ------------------------------------------------------------------------------------------
# strategies (built once per provider: building strategies costs more than drawing from them)


@functools.cache
def expression(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    key = st.sampled_from(keys)
    sets = st.lists(st.sampled_from(VALUES), min_size=1, max_size=3, unique=True)
    return st.one_of(
        st.builds(
            lambda k, o, v: {"key": k, "operator": o, "values": v},
            key,
            st.sampled_from(["In", "NotIn"]),
            sets,
        ),
        st.builds(lambda k, o: {"key": k, "operator": o}, key, st.sampled_from(["Exists", "DoesNotExist"])),
        st.builds(
            lambda k, o, b: {"key": k, "operator": o, "values": [b]},
            key,
            st.sampled_from(["Gt", "Lt"]),
            st.sampled_from(BOUNDS),
        ),
    )


@functools.cache
def term(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    fields = [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]
    # terms mostly speak of other labels, as real ones do; some touch the Spot and pool labels
    exprs = expression((*keys, *EXTRA_KEYS, *EXTRA_KEYS))
    return st.one_of(
        st.builds(lambda e: {"matchExpressions": e}, st.lists(exprs, min_size=1, max_size=3)),
        st.builds(
            lambda e: {"matchFields": copy.deepcopy(fields), "matchExpressions": e},
            st.lists(exprs, max_size=2),
        ),
        st.builds(lambda: {"matchFields": copy.deepcopy(fields)}),
        st.builds(dict),
    )


@functools.cache
def toleration(keys: tuple[str, ...], seconds: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    key = st.sampled_from(["dedicated", "other", *keys])
    effect = st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"])
    options = [
        st.builds(
            lambda k, v, e: {"key": k, "operator": "Equal", "value": v, "effect": e},
            key,
            st.sampled_from(VALUES),
            effect,
        ),
        st.builds(lambda k, e: {"key": k, "value": "a", "effect": e}, key, effect),
        st.builds(lambda k: {"key": k, "operator": "Exists"}, key),
        st.builds(lambda: {"operator": "Exists"}),
    ]
    if seconds:
        options.append(
            st.builds(lambda: {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30})
        )
    return st.one_of(*options)


@functools.cache
def pod(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    prefs = st.lists(
        st.builds(
            lambda w, e: {"weight": w, "preference": {"matchExpressions": e}},
            st.sampled_from([1, 100]),
            st.lists(expression(keys), min_size=1, max_size=2),
        ),
        max_size=2,
    )
    required = st.builds(lambda t: {"nodeSelectorTerms": t}, st.lists(term(keys), max_size=4))
    node = st.one_of(
        st.fixed_dictionaries({REQ: required}, optional={PREF: prefs}),
        st.fixed_dictionaries({}, optional={REQ: required, PREF: prefs}),
    )
    affinity = st.one_of(
        st.builds(lambda n: {"nodeAffinity": n}, node),
        st.builds(lambda n: {"podAffinity": {}, "nodeAffinity": n}, node),
        st.none(),
    )
    selector = st.dictionaries(st.sampled_from(keys), st.sampled_from(VALUES), max_size=2)
    return st.fixed_dictionaries(
        {"containers": st.builds(lambda: [{"name": "ray", "image": "rayproject/ray:2.52.0"}])},
        optional={
            "nodeSelector": selector,
            "affinity": affinity,
            "tolerations": st.lists(toleration(keys), max_size=3),
            "terminationGracePeriodSeconds": st.sampled_from([10, 30, 600]),
        },
    )


def _parsed(raw: dict[str, Any]) -> tuple[SpotSpec, Expected] | None:
    spec, results = parse_spot(raw)
    # settings parse_spot refuses (e.g. requirements that contradict each other) are dropped
    return None if any(r.is_error for r in results) else (spec, Expected(raw))


@functools.cache
def spot_spec(provider: str) -> st.SearchStrategy[tuple[SpotSpec, Expected]]:
    keys = keys_for(provider)
    optional: dict[str, st.SearchStrategy[Any]] = {
        "nodePools": st.dictionaries(st.sampled_from(GROUPS), st.sampled_from(["a", "b"]), max_size=2),
        "matchExpressions": st.lists(expression(keys), min_size=1, max_size=2),
        "tolerations": st.lists(toleration(keys, seconds=False), min_size=1, max_size=1),
        "groups": st.lists(st.sampled_from(GROUPS), unique=True, max_size=2),
        "gracefulStop": st.sampled_from([True, {"terminationGracePeriodSeconds": 5}]),
    }
    fixed: dict[str, st.SearchStrategy[Any]] = {"provider": st.just(provider)}
    if provider == "custom":
        fixed["poolLabel"] = st.just("example.com/pool")
    raw = st.one_of(
        st.fixed_dictionaries(
            {**fixed, "mode": st.just("required")},
            optional={**optional, "marketTypeLabel": st.just(True)},
        ),
        st.fixed_dictionaries({**fixed, "mode": st.just("preferred")}, optional=optional),
    )
    return raw.map(_parsed).filter(lambda spec: spec is not None)  # type: ignore[return-value]


@functools.cache
def worker_group(keys: tuple[str, ...], name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "groupName": st.just(name),
            "minReplicas": st.just(0),
            "maxReplicas": st.just(2),
            "rayStartParams": st.builds(dict),
            "template": st.builds(lambda p: {"spec": p}, pod(keys)),
        },
        optional={
            "labels": st.builds(lambda v: {"ray.io/market-type": v}, st.sampled_from(["spot", "on-demand"]))
        },
    )


@functools.cache
def nodes(keys: tuple[str, ...]) -> st.SearchStrategy[list[dict[str, Any]]]:
    labels = st.dictionaries(st.sampled_from(keys), st.sampled_from(UNIVERSE[1:]), max_size=len(keys))
    node = st.fixed_dictionaries({"name": st.sampled_from(NODE_NAMES), "labels": labels})
    return st.lists(node, min_size=1, max_size=6)


@dataclass(frozen=True)
class Case:
    """A generated Ray workload, the parsed settings, what they promise, and some nodes."""

    obj: dict[str, Any]
    spec: SpotSpec
    expected: Expected
    nodes: list[dict[str, Any]]

    def __iter__(self) -> Any:
        return iter((self.obj, self.spec, self.nodes))


@st.composite
def case(draw: st.DrawFn) -> Case:
    provider = draw(st.sampled_from(["gke", "eks", "karpenter", "aks", "custom"]))
    keys = keys_for(provider)
    spec, expected = draw(spot_spec(provider))
    kind = draw(st.sampled_from(sorted(CLUSTER_PATHS)))
    # no group, one, or several, in any order, some named in nodePools/groups and some not
    names = draw(st.lists(st.sampled_from([*GROUPS, "other"]), unique=True, max_size=3))
    cluster = {
        "headGroupSpec": {"template": {"spec": draw(pod(keys))}},
        "workerGroupSpecs": [draw(worker_group(keys, n)) for n in names],
    }
    body: dict[str, Any] = cluster
    for key in reversed(CLUSTER_PATHS[kind][1:]):
        body = {key: body}
    if kind == "RayJob":
        body["entrypoint"] = "python job.py"
        body["submitterPodTemplate"] = {"spec": draw(pod(keys))}
    if kind == "RayCronJob":
        body["schedule"] = "*/5 * * * *"
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": kind,
        "metadata": {"name": "rc", "namespace": "ns"},
        "spec": body,
    }
    return Case(obj, spec, expected, draw(nodes(keys)))


def cluster_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The embedded cluster spec, found by the README's table."""
    node: Any = obj
    for key in CLUSTER_PATHS[obj["kind"]]:
        node = node[key]
    return dict(node)


def groups_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(cluster_of(obj)["workerGroupSpecs"])


def group_prefix(obj: Mapping[str, Any], i: int) -> str:
    return ".".join(CLUSTER_PATHS[obj["kind"]]) + f".workerGroupSpecs[{i}]"


def witness_nodes(pod: Mapping[str, Any], reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nodes that some term of the pod (with and without the requirements) would accept.

    Random nodes rarely satisfy a whole term; these make the placement check bite on both
    sides: a node the input accepted must stay accepted exactly when it is Spot.
    """
    selector = [
        {"key": k, "operator": "In", "values": [v]} for k, v in (pod.get("nodeSelector") or {}).items()
    ]
    affinity = pod.get("affinity") or {}
    terms = ((affinity.get("nodeAffinity") or {}).get(REQ) or {}).get("nodeSelectorTerms") or [{}]
    out = []
    for t in terms:
        for extra in ([], reqs):
            exprs = [*(t.get("matchExpressions") or []), *selector, *extra]
            labels: dict[str, str] = {}
            for key in {e["key"] for e in exprs}:
                mine = [e for e in exprs if e["key"] == key]
                value = next((v for v in UNIVERSE if all(expr_matches(e, v) for e in mine)), "none")
                if value is not None and value != "none":
                    labels[key] = value
            out.append({"name": "node-1", "labels": labels})
    return out


def group_errors(results: list[Result], obj: Mapping[str, Any], i: int) -> list[Result]:
    prefix = group_prefix(obj, i)
    return [r for r in results if r.is_error and (r.field == prefix or r.field.startswith(prefix + "."))]


def pods(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [g["template"]["spec"] for g in groups_of(obj)]


# ------------------------------------------------------------------------------------------
# properties: one generated case is checked against all of them (generation is the slow part)


@SETTINGS
@given(case())
def test_spot_invariants(c: Case) -> None:
    """Every property below, on the same generated workload, settings and nodes."""
    check_idempotent_byte_for_byte(c)
    check_input_never_mutated_and_head_untouched(c)
    check_required_placement_is_exactly_input_and_spot(c)
    check_no_new_ored_term_and_every_term_carries_the_requirements(c)
    check_errors_exactly_for_contradictions(c)
    check_removing_the_injected_parts_gives_the_input_back(c)
    check_tolerations_added_once_and_kept(c)
    check_preferred_term_added_at_most_once(c)


def check_idempotent_byte_for_byte(c: Case) -> None:
    obj, spec, _ = c
    once, first = apply_spot(obj, spec)
    twice, second = apply_spot(once, spec)
    assert yamlio.dump(twice) == yamlio.dump(once)
    assert [r.field for r in second if r.is_error] == [r.field for r in first if r.is_error]


def check_input_never_mutated_and_head_untouched(
    c: Case,
) -> None:
    obj, spec, _ = c
    before = copy.deepcopy(obj)
    out, _ = apply_spot(obj, spec)
    assert obj == before
    assert cluster_of(out)["headGroupSpec"] == cluster_of(obj)["headGroupSpec"]
    assert out["metadata"] == obj["metadata"]
    # outside the worker groups nothing changes (a RayJob's submitter included)
    assert len(groups_of(out)) == len(groups_of(obj))
    assert _without_groups(out) == _without_groups(obj)


def _without_groups(obj: Mapping[str, Any]) -> dict[str, Any]:
    bare = copy.deepcopy(dict(obj))
    node: Any = bare
    for key in CLUSTER_PATHS[obj["kind"]]:
        node = node[key]
    node.pop("workerGroupSpecs")
    return bare


def check_required_placement_is_exactly_input_and_spot(
    c: Case,
) -> None:
    """The heart of it: a worker may run on a node iff it could before AND the node is Spot.

    Never wider (Kyverno's last-term-only patch fails this), never narrower than needed.
    """
    obj, spec, nodes = c
    out, results = apply_spot(obj, spec)
    for i, (before, after) in enumerate(zip(pods(obj), pods(out), strict=True)):
        g = groups_of(obj)[i]
        if not c.expected.targets(g["groupName"]) or group_errors(results, obj, i):
            assert groups_of(out)[i] == g
            continue
        reqs = c.expected.requirements(g["groupName"])
        for node in [*nodes, *witness_nodes(before, reqs)]:
            is_spot = all(expr_matches(r, node["labels"].get(r["key"])) for r in reqs)
            if c.expected.mode == "required":
                assert pod_matches(after, node) == (pod_matches(before, node) and is_spot)
            else:
                assert pod_matches(after, node) == pod_matches(before, node)


def check_no_new_ored_term_and_every_term_carries_the_requirements(
    c: Case,
) -> None:
    obj, spec, _ = c
    out, results = apply_spot(obj, spec)
    if c.expected.mode != "required":
        return
    for i, (before, after) in enumerate(zip(pods(obj), pods(out), strict=True)):
        name = groups_of(obj)[i]["groupName"]
        if not c.expected.targets(name) or group_errors(results, obj, i):
            continue
        reqs = c.expected.requirements(name)
        if not reqs:  # e.g. `custom` with a pool for other groups only: nothing to pin with
            assert after.get("affinity") == before.get("affinity")
            continue
        terms_in = ((before.get("affinity") or {}).get("nodeAffinity") or {}).get(REQ, {}) or {}
        terms_in = terms_in.get("nodeSelectorTerms") or []
        terms_out = after["affinity"]["nodeAffinity"][REQ]["nodeSelectorTerms"]
        assert len(terms_out) == max(1, len(terms_in))
        for t in terms_out:
            if t.get("matchExpressions") or t.get("matchFields"):
                for r in reqs:
                    assert any(_same(r, e) for e in t["matchExpressions"]), (r, t)
            else:
                assert t == {}  # an empty term stays empty (it matches nothing)


def check_errors_exactly_for_contradictions(
    c: Case,
) -> None:
    """Required mode reports an error iff a term or the nodeSelector can no longer match."""
    obj, spec, _ = c
    _, results = apply_spot(obj, spec)
    for i, before in enumerate(pods(obj)):
        g = groups_of(obj)[i]
        if not c.expected.targets(g["groupName"]):
            assert group_errors(results, obj, i) == []
            continue
        reqs = c.expected.requirements(g["groupName"])
        by_key: dict[str, list[dict[str, Any]]] = {}
        for r in reqs:
            by_key.setdefault(r["key"], []).append(r)
        expected = set()
        base = group_prefix(obj, i) + ".template.spec"
        selector = before.get("nodeSelector") or {}
        if any(
            k in by_key and not satisfiable([{"key": k, "operator": "In", "values": [v]}, *by_key[k]])
            for k, v in selector.items()
        ):
            expected.add(f"{base}.nodeSelector")
        terms = ((before.get("affinity") or {}).get("nodeAffinity") or {}).get(REQ, {}) or {}
        for j, t in enumerate(terms.get("nodeSelectorTerms") or []):
            exprs = t.get("matchExpressions") or []
            for k, wanted in by_key.items():
                mine = [e for e in exprs if e["key"] == k]
                if mine and satisfiable(mine) and not satisfiable([*mine, *wanted]):
                    expected.add(f"{base}.affinity.nodeAffinity.{REQ}.nodeSelectorTerms[{j}]")
        if c.expected.market_type_label and (g.get("labels") or {}).get("ray.io/market-type") == "on-demand":
            expected.add(group_prefix(obj, i) + ".labels")
        got = {r.field for r in group_errors(results, obj, i)}
        if c.expected.mode == "required":
            assert got == expected
        else:
            assert got == set()


def check_removing_the_injected_parts_gives_the_input_back(
    c: Case,
) -> None:
    """Everything else is untouched: the output is the input plus injected items, appended."""
    obj, spec, _ = c
    out, _ = apply_spot(obj, spec)
    for i, g in enumerate(groups_of(obj)):
        injected = Injected(c.expected, g["groupName"])
        stripped = injected.strip(groups_of(out)[i], g)
        # dumped, so that key order counts too
        assert yamlio.dump(stripped) == yamlio.dump(g)


class Injected:
    """What apply_spot may add to one worker group, and how to take it away again."""

    def __init__(self, expected: Expected, group: str) -> None:
        self.expected = expected
        self.reqs = expected.requirements(group)
        self.tols = expected.tolerations(group)

    def strip(self, got: Any, want: Any, key: str = "") -> Any:
        """`got` without the injected parts, guided by what the input `want` held."""
        if isinstance(got, dict):
            given = want if isinstance(want, dict) else {}
            out = {}
            for k, v in got.items():
                if k in given:
                    out[k] = self.strip(v, given[k], k)
                else:
                    assert self.key(k, v), (k, v)
            return None if want is None and not out else out
        if isinstance(got, list):
            base = want if isinstance(want, list) else []
            kept = [self.strip(g, w, key) for g, w in zip(got, base, strict=False)]
            for extra in got[len(base) :]:
                assert self.item(key, extra), (key, extra)
            return None if want is None and not kept else kept
        return got

    def key(self, key: str, value: Any) -> bool:
        """Whether a key that was not in the input holds only injected things."""
        if key in ("affinity", "nodeAffinity", REQ):
            return isinstance(value, dict) and all(self.key(k, v) for k, v in value.items())
        if key in (PREF, "tolerations", "matchExpressions", "nodeSelectorTerms"):
            return isinstance(value, list) and all(self.item(key, v) for v in value)
        if key == "terminationGracePeriodSeconds":
            return value is not None and value == self.expected.grace_seconds
        if key == "labels":
            return self.expected.market_type_label and value == {"ray.io/market-type": "spot"}
        if key == "ray.io/market-type":
            return self.expected.market_type_label and value == "spot"
        return False

    def item(self, key: str, value: Any) -> bool:
        """Whether an item appended to the list under `key` is an injected one."""
        if key == "matchExpressions":
            return any(_same(r, value) for r in self.reqs)
        if key == "tolerations":
            return value in self.tols
        if key == PREF:
            return bool(value == {"weight": 100, "preference": {"matchExpressions": self.reqs}})
        if key == "nodeSelectorTerms":
            return bool(value == {"matchExpressions": self.reqs})
        return False


def check_tolerations_added_once_and_kept(
    c: Case,
) -> None:
    obj, spec, _ = c
    out, results = apply_spot(obj, spec)
    for i, (before, after) in enumerate(zip(pods(obj), pods(out), strict=True)):
        name = groups_of(obj)[i]["groupName"]
        if not c.expected.targets(name) or group_errors(results, obj, i):
            continue
        have = before.get("tolerations") or []
        now = after.get("tolerations") or []
        assert now[: len(have)] == have
        added = now[len(have) :]
        assert len(added) == len({yamlio.dump(t) for t in added})
        for want in c.expected.tolerations(name):
            if want.get("operator", "Equal") == "Equal" and "tolerationSeconds" not in want:
                assert any(tolerates(t, want) for t in now if t.get("tolerationSeconds") is None), want
            else:
                assert any(covers(t, want) for t in now), want


def check_preferred_term_added_at_most_once(
    c: Case,
) -> None:
    obj, spec, _ = c
    if c.expected.mode != "preferred":
        return
    out, _ = apply_spot(apply_spot(obj, spec)[0], spec)
    for i, after in enumerate(pods(out)):
        name = groups_of(obj)[i]["groupName"]
        reqs = c.expected.requirements(name)
        if not c.expected.targets(name) or not reqs:
            continue
        prefs = after["affinity"]["nodeAffinity"][PREF]
        ours = [
            p for p in prefs if p["weight"] == 100 and _ids(p["preference"]["matchExpressions"]) == _ids(reqs)
        ]
        before = ((pods(obj)[i].get("affinity") or {}).get("nodeAffinity") or {}).get(PREF) or []
        already = [
            p
            for p in before
            if p["weight"] == 100 and _ids(p["preference"]["matchExpressions"]) == _ids(reqs)
        ]
        assert len(ours) == max(1, len(already))


@SETTINGS
@given(st.data())
def test_witness_is_exact(data: st.DataObject) -> None:
    exprs = data.draw(st.lists(expression(("k",)), min_size=1, max_size=4))
    found = witness(exprs)
    if satisfiable(exprs):
        assert found is None or isinstance(found, str)
        assert all(expr_matches(e, found) for e in exprs)
    else:
        assert not (found is None or isinstance(found, str))


def _ids(exprs: Sequence[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    return {(e["key"], e["operator"], frozenset(e.get("values") or [])) for e in exprs}


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _ids([a]) == _ids([b])
