"""Spot placement for Ray worker groups: inject the settings, report conflicts.

Pure data in, data and findings out. The rules that matter (see the README, "Spot placement"):
required node affinity is ANDed into every existing nodeSelectorTerm (never a new ORed term),
contradictions are errors instead of unschedulable output, tolerations are only ever added,
and applying twice gives the same bytes as applying once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from krm_fn.ray import cluster_spec_path, dotted, shape_problems, worker_groups
from krm_fn.results import ResourceRef, Result, Severity, describe
from krm_fn.selectors import (
    NO_WITNESS,
    OPERATORS,
    PREFERRED,
    REQUIRED,
    by_key,
    expression_id,
    int64,
    is_empty_term,
    same_expressions,
    show_expressions,
    tolerates,
    witness,
)
from krm_fn.spot.policy import verify_head
from krm_fn.spot.providers import (
    MARKET_TYPE_LABEL,
    PREFERRED_WEIGHT,
    SpotSpec,
    node_requirement,
    plain_copy,
    spot_requirements,
    spot_tolerations,
)

Path = tuple[str | int, ...]
# builds a finding about a worker group: (path, message[, severity])
Note = Callable[..., Result]


def apply_spot(obj: Mapping[str, Any], spec: SpotSpec) -> tuple[dict[str, Any], list[Result]]:
    """Return a copy of `obj` with Spot placement in every worker group, and the findings.

    Only worker groups are touched (never the head, never a RayJob submitter). A group whose
    placement would contradict the requirements is left as it is, with an error.
    """
    out = plain_copy(obj)
    if not spec.enabled or cluster_spec_path(out) is None:
        return out, []
    ref = ResourceRef.of(obj)
    shapes = shape_problems(out)
    if shapes:  # placing what can be read would leave the rest of the workers off Spot, silently
        return out, [Result(message, resource=ref, field=dotted(path)) for path, message in shapes]
    results = [Result(f.message, f.severity, ref, dotted(f.path)) for f in verify_head(out, spec)]
    for path, group in worker_groups(out):
        # _copy built plain dicts, so the groups can be edited in place
        if spec.targets(group.get("groupName")) and isinstance(group, dict):
            results.extend(_place_group(group, path, spec, ref))
    return out, results


class _Refused(Exception):
    """The group cannot be placed; the findings say why. Never escapes this module."""

    def __init__(self, results: list[Result]) -> None:
        self.results = results


def _place_group(group: dict[str, Any], path: Path, spec: SpotSpec, ref: ResourceRef) -> list[Result]:
    """Inject placement into one worker group in place; on refusal leave it as it was."""
    name = group.get("groupName")
    label = f"worker group {name!r}" if isinstance(name, str) else "worker group"
    findings: list[Result] = []

    def note(where: Path, message: str, severity: Severity = "error") -> Result:
        return Result(f"{label}: {message}", severity, ref, dotted(where))

    group_name = name if isinstance(name, str) else None
    reqs = spot_requirements(spec, group_name)
    tols = spot_tolerations(spec, group_name)
    tpath: Path = (*path, "template")
    try:
        template = _mapping(group, "template", tpath, note)
        pod = _mapping(template, "spec", (*tpath, "spec"), note)
        ppath: Path = (*tpath, "spec")
        plan = _plan_affinity(pod, ppath, reqs, spec.mode, note)
        findings.extend(plan)
        _market_label(group, path, spec, note, findings)
    except _Refused as refused:
        return refused.results
    if any(r.is_error for r in findings):
        return findings

    if not reqs:
        findings.append(note(ppath, "no Spot requirement applies (provider custom, no pool)", "warning"))
    elif spec.mode == "required":
        _add_required(pod, reqs)
    else:
        _add_preferred(pod, reqs)
    _add_tolerations(pod, tols)
    if spec.market_type_label:
        labels = group.get("labels")
        if not isinstance(labels, dict):
            labels = group["labels"] = {}
        labels.setdefault(MARKET_TYPE_LABEL, "spot")
    findings.extend(_graceful(pod, ppath, spec, note))
    return findings


def _mapping(parent: dict[str, Any], key: str, where: Path, note: Note) -> dict[str, Any]:
    """`parent[key]`, which must be a mapping already (a worker needs its template and spec)."""
    value = parent.get(key)
    if isinstance(value, dict):
        return value
    if value is None:
        raise _Refused([note(where, f"{where[-1]} is missing")])
    raise _Refused([note(where, f"expected a mapping, got {describe(value)}")])


def _plan_affinity(
    pod: Mapping[str, Any], ppath: Path, reqs: list[dict[str, Any]], mode: str, note: Note
) -> list[Result]:
    """Check the pod's placement against the requirements before anything is changed."""
    findings: list[Result] = []
    soft: Severity = "warning" if mode == "preferred" else "error"
    consequence = (
        "Spot is preferred but can never be chosen" if mode == "preferred" else "no node could ever match"
    )
    wanted_by_key = by_key(reqs)

    tolerations = pod.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        raise _Refused([note((*ppath, "tolerations"), f"expected a list, got {describe(tolerations)}")])
    selector = pod.get("nodeSelector")
    spath: Path = (*ppath, "nodeSelector")
    if selector is not None and not isinstance(selector, Mapping):
        raise _Refused([note(spath, f"expected a mapping, got {describe(selector)}")])
    for key, value in (selector or {}).items():
        if (
            key in wanted_by_key
            and witness([node_requirement(str(key), str(value)), *wanted_by_key[key]]) is NO_WITNESS
        ):
            findings.append(
                note(
                    spath,
                    f"nodeSelector {key}={value} contradicts the Spot requirement "
                    f"{show_expressions(wanted_by_key[key])}: {consequence}",
                    soft,
                )
            )

    affinity = pod.get("affinity")
    apath: Path = (*ppath, "affinity")
    if affinity is None:
        return findings
    if not isinstance(affinity, Mapping):
        raise _Refused([note(apath, f"expected a mapping, got {describe(affinity)}")])
    node = affinity.get("nodeAffinity")
    npath: Path = (*apath, "nodeAffinity")
    if node is None:
        return findings
    if not isinstance(node, Mapping):
        raise _Refused([note(npath, f"expected a mapping, got {describe(node)}")])
    if mode == "preferred" and node.get(PREFERRED) is not None and not isinstance(node.get(PREFERRED), list):
        raise _Refused([note((*npath, PREFERRED), f"expected a list, got {describe(node.get(PREFERRED))}")])
    required = node.get(REQUIRED)
    rpath: Path = (*npath, REQUIRED)
    if required is None:
        return findings
    if not isinstance(required, Mapping):
        raise _Refused([note(rpath, f"expected a mapping, got {describe(required)}")])
    terms = required.get("nodeSelectorTerms")
    tpath: Path = (*rpath, "nodeSelectorTerms")
    if terms is None:
        return findings
    if not isinstance(terms, list):
        raise _Refused([note(tpath, f"expected a list, got {describe(terms)}")])
    for i, term in enumerate(terms):
        where: Path = (*tpath, i)
        if not isinstance(term, Mapping):
            raise _Refused([note(where, f"expected a mapping, got {describe(term)}")])
        exprs = term.get("matchExpressions")
        if exprs is not None and not (
            isinstance(exprs, list)
            and all(isinstance(e, Mapping) and isinstance(e.get("key"), str) for e in exprs)
        ):
            raise _Refused([note((*where, "matchExpressions"), "expected a list of {key, operator, values}")])
        exprs = exprs or []
        for j, e in enumerate(exprs):
            if e.get("operator") not in OPERATORS:
                raise _Refused(
                    [
                        note(
                            (*where, "matchExpressions", j, "operator"),
                            f"unknown operator {e.get('operator')!r}; expected one of {', '.join(OPERATORS)}",
                        )
                    ]
                )
            values = e.get("values")
            vpath: Path = (*where, "matchExpressions", j, "values")
            if values is not None and not isinstance(values, list):
                raise _Refused([note(vpath, f"expected a list of strings, got {describe(values)}")])
            # Kubernetes reads a Gt/Lt operand as a 64-bit integer; any other makes the term match
            # no node (and thousands of digits are beyond what Python converts)
            if e.get("operator") in ("Gt", "Lt") and (
                not values or len(values) != 1 or int64(values[0]) is None
            ):
                raise _Refused(
                    [
                        note(
                            vpath,
                            f"operator {e.get('operator')} needs exactly one integer value (64-bit); "
                            "as it is, this term matches no node",
                        )
                    ]
                )
        if is_empty_term(term):
            if mode == "required":
                findings.append(
                    note(where, "an empty nodeSelectorTerm matches no node; left as it is", "warning")
                )
            continue
        for key, wanted in wanted_by_key.items():
            mine = [e for e in exprs if e.get("key") == key]
            if mine and witness(mine) is not NO_WITNESS and witness([*mine, *wanted]) is NO_WITNESS:
                findings.append(
                    note(
                        where,
                        f"{show_expressions(mine)} contradicts the Spot requirement {show_expressions(wanted)}: "
                        f"{consequence} through this term",
                        soft,
                    )
                )
    return findings


def _add_required(pod: dict[str, Any], reqs: list[dict[str, Any]]) -> None:
    node = _ensure(_ensure(pod, "affinity"), "nodeAffinity")
    required = _ensure(node, REQUIRED)
    terms = required.get("nodeSelectorTerms")
    if not terms:
        required["nodeSelectorTerms"] = [{"matchExpressions": plain_copy(reqs)}]
        return
    # AND into every term: a new ORed term would let pods through the old terms onto on-demand
    for term in terms:
        if is_empty_term(term):
            continue  # it matches nothing; adding requirements would widen it to all Spot nodes
        exprs = term.get("matchExpressions")
        if not isinstance(exprs, list):
            exprs = term["matchExpressions"] = []
        # each existing expression's identity once: a long In list is read once, not once per req
        have = {expression_id(e) for e in exprs if isinstance(e, Mapping)}
        for req in reqs:
            if expression_id(req) not in have:
                exprs.append(plain_copy(req))


def _add_preferred(pod: dict[str, Any], reqs: list[dict[str, Any]]) -> None:
    node = _ensure(_ensure(pod, "affinity"), "nodeAffinity")
    prefs = node.get(PREFERRED)
    if not isinstance(prefs, list):
        prefs = node[PREFERRED] = []
    for p in prefs:
        pref = p.get("preference") if isinstance(p, Mapping) else None
        if (
            isinstance(pref, Mapping)
            and p.get("weight") == PREFERRED_WEIGHT
            and not pref.get("matchFields")
            and same_expressions(pref.get("matchExpressions") or [], reqs)
        ):
            return
    prefs.append({"weight": PREFERRED_WEIGHT, "preference": {"matchExpressions": plain_copy(reqs)}})


def _add_tolerations(pod: dict[str, Any], tols: list[dict[str, Any]]) -> None:
    if not tols:
        return
    existing = pod.get("tolerations")
    if not isinstance(existing, list):
        existing = pod["tolerations"] = []
    for tol in tols:
        if not any(isinstance(e, Mapping) and tolerates(e, tol) for e in existing):
            existing.append(plain_copy(tol))


def _market_label(
    group: Mapping[str, Any], path: Path, spec: SpotSpec, note: Note, findings: list[Result]
) -> None:
    labels = group.get("labels")
    lpath: Path = (*path, "labels")
    if labels is not None and not isinstance(labels, Mapping):
        if spec.market_type_label:
            raise _Refused([note(lpath, f"expected a mapping, got {describe(labels)}")])
        return
    value = (labels or {}).get(MARKET_TYPE_LABEL)
    if value is None or value == "spot" or spec.mode != "required":
        return
    if spec.market_type_label:
        findings.append(note(lpath, f"{MARKET_TYPE_LABEL} is {value!r} but the group is pinned to Spot"))
    else:
        findings.append(
            note(
                lpath,
                f"{MARKET_TYPE_LABEL} is {value!r} but the group is pinned to Spot: Ray tasks that "
                "select on it will be placed on Spot nodes",
                "warning",
            )
        )


def _graceful(pod: dict[str, Any], ppath: Path, spec: SpotSpec, note: Note) -> list[Result]:
    findings: list[Result] = []
    stop = spec.graceful_stop
    window = (stop.notice_seconds if stop else None) or spec.preset.notice_seconds
    current = pod.get("terminationGracePeriodSeconds")
    gpath: Path = (*ppath, "terminationGracePeriodSeconds")
    if stop is not None and current is None:
        pod["terminationGracePeriodSeconds"] = stop.termination_grace_period_seconds
    elif isinstance(current, int) and window is not None and current > window:
        # the workload's own value is kept: it is the author's choice, but it cannot be honoured
        findings.append(
            note(
                gpath,
                f"{current} s is longer than the {window} s a {spec.provider} Spot node gets "
                "before it is reclaimed; the pod will be killed early",
                "warning",
            )
        )
    if stop is not None and stop.pre_stop is not None:
        containers = pod.get("containers")
        if not (isinstance(containers, list) and containers and isinstance(containers[0], dict)):
            findings.append(
                note((*ppath, "containers"), "no Ray container to add the preStop hook to", "warning")
            )
            return findings
        # KubeRay runs Ray in the first container
        ray = containers[0]
        hook = {"exec": {"command": list(stop.pre_stop)}}
        lifecycle = ray.get("lifecycle")
        if lifecycle is None:
            ray["lifecycle"] = {"preStop": hook}
        elif isinstance(lifecycle, dict) and lifecycle.get("preStop") is None:
            lifecycle["preStop"] = hook
        elif not (isinstance(lifecycle, Mapping) and lifecycle.get("preStop") == hook):
            findings.append(
                note(
                    (*ppath, "containers", 0, "lifecycle", "preStop"),
                    "already has a different preStop hook; kept it, gracefulStop.preStop not added",
                    "warning",
                )
            )
    return findings


def _ensure(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """`parent[key]` as a mapping, created at the end of `parent` (or in place of a null)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value
