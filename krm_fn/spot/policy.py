"""Verify Spot placement: worker groups pinned as the settings ask, the head off Spot, group names.

The verdicts come from the same rules the injection applies (`providers` for what a group must
carry, `selectors` for what a pod spec holds), so `apply_spot`'s output always passes and a
workload missing any part of it does not. Findings carry field paths within the object; the
caller locates them in its files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from krm_fn.ray import cluster_spec, cluster_spec_path, shape_problems, worker_groups
from krm_fn.results import Record, Result, Severity
from krm_fn.selectors import (
    PREFERRED,
    REQUIRED,
    is_empty_term,
    same_expression,
    selector_satisfies,
    show_expressions,
    show_toleration,
    term_holds,
    tolerates,
)
from krm_fn.spot.providers import (
    MARKET_TYPE_LABEL,
    SPOT_NODE_LABELS,
    SpotSpec,
    is_spot_requirement,
    spot_requirements,
    spot_tolerations,
)

FieldPath = tuple[str | int, ...]

HEAD_ON_SPOT = "the head is pinned to Spot nodes; it must survive preemption, keep it on on-demand nodes"


class Finding(Record):
    """A problem at a field path of the verified object."""

    _fields = __slots__ = ("path", "message", "severity")

    def __init__(self, path: FieldPath, message: str, severity: Severity = "error") -> None:
        self.path = path
        self.message = message
        self.severity: Severity = severity


def verify_head(obj: Mapping[str, Any], spec: SpotSpec | None = None) -> list[Finding]:
    """Warn when the head can only run on Spot nodes: a preemption takes the whole cluster.

    Pinned means its nodeSelector asks for a Spot label, or EVERY required nodeSelectorTerm
    that can match a node holds a Spot requirement (one on-demand term lets it off Spot).
    Without `spec`, a Spot requirement is one of a known provider; with provider custom, the
    spec's own requirements count too.
    """
    cluster = cluster_spec(obj)
    path = cluster_spec_path(obj) or ()
    pod = _pod_spec(_mapping(cluster.get("headGroupSpec")) if cluster else {})
    if not pod:
        return []
    ppath: FieldPath = (*path, "headGroupSpec", "template", "spec")
    if _selector_spot(pod.get("nodeSelector")):
        return [Finding((*ppath, "nodeSelector"), HEAD_ON_SPOT, "warning")]
    own = spot_requirements(spec, None) if spec is not None and spec.provider == "custom" else []
    terms = _required_terms(pod)

    def pins(term: object) -> bool:
        exprs = _list(_mapping(term).get("matchExpressions"))
        return any(
            isinstance(e, Mapping) and (is_spot_requirement(e) or any(same_expression(e, o) for o in own))
            for e in exprs
        )

    live = [t for t in terms if not (isinstance(t, Mapping) and is_empty_term(t))]
    if live and all(pins(t) for t in live):
        return [Finding((*ppath, "affinity", "nodeAffinity", REQUIRED), HEAD_ON_SPOT, "warning")]
    return []


def verify_workers(obj: Mapping[str, Any], spec: SpotSpec | None) -> list[Finding]:
    """Every targeted worker group placed as `spec` asks (pinned to any known provider without one)."""
    # a worker group list or template of another type hides workers from the loop below
    out = [Finding(path, message) for path, message in shape_problems(obj)]
    for gpath, group in worker_groups(obj):
        name = group.get("groupName")
        gname = name if isinstance(name, str) else None
        pod = _pod_spec(group)
        ppath: FieldPath = (*gpath, "template", "spec")
        label = f"worker group {gname!r}" if gname else "a worker group"
        if spec is None:
            out.extend(_any_spot(pod, ppath, label))
            continue
        if not spec.targets(gname):
            continue
        wanted = spot_requirements(spec, gname)
        if wanted:
            out.extend(_requirements(pod, ppath, label, wanted, spec.mode))
        for tol in spot_tolerations(spec, gname):
            if not any(tolerates(have, tol) for have in _list(pod.get("tolerations"))):
                out.append(
                    Finding(
                        (*ppath, "tolerations"),
                        f"{label} lacks the toleration {show_toleration(tol)}: its pods cannot "
                        "schedule on the tainted Spot nodes",
                    )
                )
        out.extend(_stop_and_label(group, gpath, pod, ppath, label, spec))
    return out


def check_group_names(
    spec: SpotSpec, objects: Iterable[Mapping[str, Any]], path: str = "spec.spot"
) -> list[Result]:
    """Warn about `groups` and `nodePools` entries that name no worker group in `objects`."""
    names = {n for obj in objects for _, g in worker_groups(obj) if isinstance(n := g.get("groupName"), str)}
    out = [
        Result(
            f"no worker group is named {name!r}; this entry has no effect{_known_groups(name, names)}",
            "warning",
            field=f"{path}.groups[{i}]",
        )
        for i, name in enumerate(spec.groups or ())
        if name not in names
    ]
    out += [
        Result(
            f"no worker group is named {name!r}; this pool is never used{_known_groups(name, names)}",
            "warning",
            field=f"{path}.nodePools.{name}",
        )
        for name in spec.node_pools
        if name not in names
    ]
    return out


def _known_groups(name: str, names: set[str]) -> str:
    """` (worker groups: 'cpu', 'gpu'; did you mean 'gpu'?)`: what the spec could have meant."""
    import difflib  # only a spec with a typo pays for it

    if not names:
        return " (the workloads name no worker groups)"
    close = difflib.get_close_matches(name, sorted(names), cutoff=0.75)  # best first
    listed = ", ".join(repr(n) for n in sorted(names))
    return f" (worker groups: {listed}{f'; did you mean {close[0]!r}?' if close else ''})"


def _requirements(
    pod: Mapping[str, Any], ppath: FieldPath, label: str, wanted: Sequence[Mapping[str, Any]], mode: str
) -> list[Finding]:
    selector = _mapping(pod.get("nodeSelector"))
    missing = [r for r in wanted if not selector_satisfies(selector, r)]
    if not missing:
        return []
    affinity = _mapping(_mapping(pod.get("affinity")).get("nodeAffinity"))
    if mode == "preferred":
        prefs = _list(affinity.get(PREFERRED))
        if any(
            all(term_holds(_mapping(p.get("preference")), r) for r in missing)
            for p in prefs
            if isinstance(p, Mapping)
        ):
            return []
        return [
            Finding(
                (*ppath, "affinity", "nodeAffinity", PREFERRED),
                f"{label} does not prefer Spot nodes: no preferred term holds {show_expressions(missing)}",
            )
        ]
    terms_path: FieldPath = (*ppath, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms")
    terms = _required_terms(pod)
    if not terms:
        return [
            Finding(
                (*ppath, "affinity"),
                f"{label} is not pinned to Spot: no required node affinity holds {show_expressions(missing)}",
            )
        ]
    out = []
    for i, term in enumerate(terms):
        if isinstance(term, Mapping) and is_empty_term(term):
            continue  # it matches no node, so no pod gets off Spot through it
        lacking = [r for r in missing if not term_holds(_mapping(term), r)]
        if lacking:
            out.append(
                Finding(
                    (*terms_path, i),
                    f"{label} is not pinned to Spot: required term {i} lacks {show_expressions(lacking)} "
                    "(terms are ORed: through this one a pod can run on other nodes)",
                )
            )
    return out


def _any_spot(pod: Mapping[str, Any], ppath: FieldPath, label: str) -> list[Finding]:
    if _selector_spot(pod.get("nodeSelector")):
        return []
    terms = _required_terms(pod)
    known = ", ".join(f"{k} In [{v}]" for k, v in SPOT_NODE_LABELS.items())
    if not terms:
        return [
            Finding(
                (*ppath, "affinity"),
                f"{label} is not pinned to Spot: no required node affinity on a Spot label ({known})",
            )
        ]
    terms_path: FieldPath = (*ppath, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms")
    return [
        Finding(
            (*terms_path, i),
            f"{label} is not pinned to Spot: required term {i} holds no Spot requirement ({known}); "
            "terms are ORed, so through this one a pod can run on on-demand nodes",
        )
        for i, term in enumerate(terms)
        if not (isinstance(term, Mapping) and is_empty_term(term))
        and not any(is_spot_requirement(e) for e in _list(_mapping(term).get("matchExpressions")))
    ]


def _stop_and_label(
    group: Mapping[str, Any],
    gpath: FieldPath,
    pod: Mapping[str, Any],
    ppath: FieldPath,
    label: str,
    spec: SpotSpec,
) -> list[Finding]:
    """What the settings add besides placement: the grace period, the preStop hook, the label."""
    out = []
    stop = spec.graceful_stop
    if stop is not None and pod.get("terminationGracePeriodSeconds") is None:
        out.append(
            Finding(
                ppath,
                f"{label} has no terminationGracePeriodSeconds; the Spot settings ask for "
                f"{stop.termination_grace_period_seconds} (gracefulStop)",
            )
        )
    if stop is not None and stop.pre_stop is not None:
        containers = _list(pod.get("containers"))
        lifecycle = _mapping(_mapping(containers[0]).get("lifecycle")) if containers else {}
        if containers and lifecycle.get("preStop") is None:
            out.append(
                Finding(
                    (*ppath, "containers", 0),
                    f"{label} has no preStop hook on its Ray container; the Spot settings ask for "
                    f"{list(stop.pre_stop)} (gracefulStop.preStop)",
                )
            )
    if spec.market_type_label and spec.mode == "required":
        labels = group.get("labels")
        if not isinstance(labels, Mapping) or labels.get(MARKET_TYPE_LABEL) is None:
            out.append(
                Finding(
                    (*gpath, "labels"),
                    f"{label} lacks the label {MARKET_TYPE_LABEL}: spot (marketTypeLabel)",
                )
            )
    return out


def _selector_spot(selector: object) -> bool:
    return isinstance(selector, Mapping) and any(
        SPOT_NODE_LABELS.get(str(k)) == v for k, v in selector.items()
    )


def _required_terms(pod: Mapping[str, Any]) -> list[Any]:
    affinity = _mapping(_mapping(pod.get("affinity")).get("nodeAffinity"))
    return _list(_mapping(affinity.get(REQUIRED)).get("nodeSelectorTerms"))


def _pod_spec(group: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(group.get("template")).get("spec"))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
