"""Spot placement for Ray worker groups: parse the `spot` settings, inject them, report conflicts.

Pure data in, data and findings out. The rules that matter (see the README, "Spot placement"):
required node affinity is ANDed into every existing nodeSelectorTerm (never a new ORed term),
contradictions are errors instead of unschedulable output, tolerations are only ever added,
and applying twice gives the same bytes as applying once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from krm_fn.ray import cluster_spec, cluster_spec_path, dotted, shape_problems, worker_groups
from krm_fn.results import ResourceRef, Result, Severity

Path = tuple[str | int, ...]
# reports a finding: (field, message[, severity])
Report = Callable[..., None]
# builds a finding about a worker group: (path, message[, severity])
Note = Callable[..., Result]

PROVIDERS = ("gke", "eks", "karpenter", "aks", "custom", "none")
MODES = ("required", "preferred")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MARKET_TYPE_LABEL = "ray.io/market-type"
PREFERRED_WEIGHT = 100

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def _in(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "operator": "In", "values": [value]}


def _taint(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}


@dataclass(frozen=True)
class Provider:
    """What a provider's Spot nodes look like and how long their pods get on preemption."""

    requirements: tuple[Mapping[str, Any], ...] = ()
    tolerations: tuple[Mapping[str, Any], ...] = ()
    pool_label: str | None = None
    # seconds between the preemption notice and the VM going away
    notice_seconds: int | None = None
    # what `gracefulStop: true` gives a pod: the part of the notice pods really get
    default_grace_seconds: int | None = None
    # a grace period above this is cut short by the node's own shutdown split (warning)
    pod_share_seconds: int | None = None


PRESETS: Mapping[str, Provider] = {
    # GKE Standard and Autopilot label Spot nodes alike; Autopilot also taints them, so the
    # toleration is harmless on Standard and needed on Autopilot. Graceful node shutdown splits
    # the 30 s notice into 15 s for ordinary pods and 15 s for critical system pods.
    "gke": Provider(
        requirements=(_in("cloud.google.com/gke-spot", "true"),),
        tolerations=(_taint("cloud.google.com/gke-spot", "true"),),
        pool_label="cloud.google.com/gke-nodepool",
        notice_seconds=30,
        default_grace_seconds=15,
        pod_share_seconds=15,
    ),
    # EC2 gives a 2 minute notice; the interruption handler (NTH or Karpenter) needs a moment
    # to receive it and start draining, hence a default well under the notice.
    "eks": Provider(
        requirements=(_in("eks.amazonaws.com/capacityType", "SPOT"),),
        pool_label="eks.amazonaws.com/nodegroup",
        notice_seconds=120,
        default_grace_seconds=90,
    ),
    "karpenter": Provider(
        requirements=(_in("karpenter.sh/capacity-type", "spot"),),
        pool_label="karpenter.sh/nodepool",
        notice_seconds=120,
        default_grace_seconds=90,
    ),
    # AKS taints every Spot node itself; eviction comes about 30 s after the scheduled event.
    "aks": Provider(
        requirements=(_in("kubernetes.azure.com/scalesetpriority", "spot"),),
        tolerations=(_taint("kubernetes.azure.com/scalesetpriority", "spot"),),
        pool_label="kubernetes.azure.com/agentpool",
        notice_seconds=30,
        default_grace_seconds=25,
    ),
    "custom": Provider(),
    "none": Provider(),
}

# provider -> the expressions that pin a pod to that provider's Spot capacity; for a checker
# that has no spec and must recognise "pinned to Spot" on any known provider
KNOWN_SPOT_REQUIREMENTS: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    name: p.requirements for name, p in PRESETS.items() if p.requirements
}

# node label -> value marking interruptible capacity (GKE preemptible VMs are as short-lived)
SPOT_NODE_LABELS: Mapping[str, str] = {
    **{str(r["key"]): str(r["values"][0]) for rs in KNOWN_SPOT_REQUIREMENTS.values() for r in rs},
    "cloud.google.com/gke-preemptible": "true",
}


@dataclass(frozen=True)
class GracefulStop:
    """How worker pods stop on preemption: a grace period and, only if asked, a preStop hook."""

    termination_grace_period_seconds: int
    pre_stop: tuple[str, ...] | None = None
    notice_seconds: int | None = None


@dataclass(frozen=True)
class SpotSpec:
    """What to inject into worker groups: the parsed `spec.spot` of the tenant spec."""

    provider: str = "gke"
    mode: str = "required"
    node_pools: Mapping[str, str] = field(default_factory=dict)
    taint_key: str = "dedicated"
    pool_label: str | None = None
    match_expressions: tuple[Mapping[str, Any], ...] = ()
    tolerations: tuple[Mapping[str, Any], ...] = ()
    groups: tuple[str, ...] | None = None
    graceful_stop: GracefulStop | None = None
    market_type_label: bool = False

    @property
    def enabled(self) -> bool:
        return self.provider != "none"

    @property
    def preset(self) -> Provider:
        """The provider's preset (empty for `custom`, `none` and unknown names)."""
        return PRESETS.get(self.provider, PRESETS["custom"])

    @property
    def pool_label_key(self) -> str | None:
        """Node label naming the pool: the `poolLabel` override, else the provider's."""
        return self.pool_label or self.preset.pool_label

    def targets(self, group_name: object) -> bool:
        """True when the worker group of that name gets Spot placement."""
        return self.enabled and (self.groups is None or group_name in self.groups)


def spot_requirements(spec: SpotSpec, group_name: str | None) -> list[dict[str, Any]]:
    """The node selector requirements a worker group must carry (fresh dicts, no duplicates)."""
    out: list[dict[str, Any]] = []
    pool = spec.node_pools.get(group_name) if group_name is not None else None
    candidates: list[Mapping[str, Any]] = list(spec.preset.requirements)
    if pool is not None and spec.pool_label_key:
        candidates.append(_in(spec.pool_label_key, pool))
    candidates.extend(spec.match_expressions)
    for expr in candidates:
        if not any(_same_expression(expr, seen) for seen in out):
            out.append(_copy(expr))
    return out


def spot_tolerations(spec: SpotSpec, group_name: str | None) -> list[dict[str, Any]]:
    """The tolerations a worker group must carry (fresh dicts, no duplicates)."""
    out: list[dict[str, Any]] = []
    pool = spec.node_pools.get(group_name) if group_name is not None else None
    candidates: list[Mapping[str, Any]] = list(spec.preset.tolerations)
    if pool is not None and spec.taint_key:
        candidates.append(_taint(spec.taint_key, pool))
    candidates.extend(spec.tolerations)
    for tol in candidates:
        if not any(_tolerates(seen, tol) for seen in out):
            out.append(_copy(tol))
    return out


def is_spot_requirement(expr: object) -> bool:
    """True for `<known spot label> In [<spot value>]`, i.e. an expression that pins to Spot."""
    if not isinstance(expr, Mapping):
        return False
    value = SPOT_NODE_LABELS.get(str(expr.get("key")))
    values = expr.get("values")
    return (
        value is not None
        and expr.get("operator") == "In"
        and isinstance(values, list)
        and bool(values)
        and all(v == value for v in values)
    )


# --------------------------------------------------------------------------------------------
# parse_spot: schema check -> default -> validate, every problem reported together

_FIELDS = (
    "provider",
    "mode",
    "nodePools",
    "taintKey",
    "poolLabel",
    "matchExpressions",
    "tolerations",
    "groups",
    "gracefulStop",
    "marketTypeLabel",
)
_GRACEFUL_FIELDS = ("terminationGracePeriodSeconds", "preStop", "noticeSeconds")
_EXPRESSION_FIELDS = ("key", "operator", "values")
_TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def parse_spot(raw: object, path: str = "spec.spot") -> tuple[SpotSpec, list[Result]]:
    """Validate and default the `spot` settings; findings carry field paths under `path`.

    Returns the defaults (GKE, required) with the errors when the settings are unusable.
    """
    if raw is None:
        return SpotSpec(), []
    errors: list[Result] = []

    def err(where: str, message: str, severity: Severity = "error") -> None:
        errors.append(Result(message, severity=severity, field=where))

    if not isinstance(raw, Mapping):
        err(path, f"expected a mapping, got {_kind(raw)} (use `provider: none` to turn Spot off)")
        return SpotSpec(), errors
    for key in raw:
        if key not in _FIELDS:
            err(f"{path}.{key}", f"unknown field {key!r}; expected one of: {', '.join(_FIELDS)}")

    provider = _enum(raw, "provider", PROVIDERS, "gke", path, err)
    mode = _enum(raw, "mode", MODES, "required", path, err)
    preset = PRESETS[provider]

    taint_key = raw.get("taintKey", "dedicated")
    if taint_key is None:
        taint_key = ""
    if not isinstance(taint_key, str) or (taint_key and not _qualified_name(taint_key)):
        err(
            f"{path}.taintKey",
            f"expected a taint key such as `dedicated` or '' for none, got {taint_key!r}",
        )
        taint_key = "dedicated"

    pool_label = raw.get("poolLabel")
    if pool_label is not None and not (isinstance(pool_label, str) and _qualified_name(pool_label)):
        err(
            f"{path}.poolLabel",
            f"expected a node label key such as `example.com/pool`, got {pool_label!r}",
        )
        pool_label = None

    node_pools: dict[str, str] = {}
    pools_raw = raw.get("nodePools")
    if pools_raw is not None and not isinstance(pools_raw, Mapping):
        err(
            f"{path}.nodePools",
            f"expected a mapping of worker group name to node pool, got {_kind(pools_raw)}",
        )
    elif pools_raw:
        for group, pool in pools_raw.items():
            where = f"{path}.nodePools.{group}"
            if not _name_value(group):
                err(where, f"expected a worker group name (a label value), got {group!r}")
            elif not _name_value(pool):
                err(where, f"expected a node pool name (a label value), got {pool!r}")
            else:
                node_pools[group] = pool
        if node_pools and not (pool_label or preset.pool_label):
            err(
                f"{path}.poolLabel",
                f"provider {provider!r} has no node pool label: set poolLabel to use nodePools",
            )

    exprs = tuple(_expressions(raw.get("matchExpressions"), f"{path}.matchExpressions", err))
    tolerations = tuple(_tolerations(raw.get("tolerations"), f"{path}.tolerations", err))

    groups: tuple[str, ...] | None = None
    groups_raw = raw.get("groups")
    if groups_raw is not None:
        if not isinstance(groups_raw, list):
            err(f"{path}.groups", f"expected a list of worker group names, got {_kind(groups_raw)}")
        else:
            names: list[str] = []
            for i, name in enumerate(groups_raw):
                if not _name_value(name):
                    err(
                        f"{path}.groups[{i}]",
                        f"expected a worker group name (a label value), got {name!r}",
                    )
                elif name in names:
                    err(f"{path}.groups[{i}]", f"worker group {name!r} is listed twice")
                else:
                    names.append(name)
            groups = tuple(names)
            for group in node_pools:
                if group not in groups:
                    err(
                        f"{path}.nodePools.{group}",
                        f"worker group {group!r} is not in {path}.groups: this pool is never used",
                        "warning",
                    )

    market = raw.get("marketTypeLabel", False)
    if not isinstance(market, bool):
        err(f"{path}.marketTypeLabel", f"expected true or false, got {market!r}")
        market = False
    elif market and mode != "required":
        err(
            f"{path}.marketTypeLabel",
            "needs mode: required (with preferred placement a worker may run on on-demand nodes)",
        )

    graceful = _graceful_stop(raw.get("gracefulStop"), provider, f"{path}.gracefulStop", err)

    if provider == "custom" and not exprs and not node_pools:
        err(
            path,
            "provider custom needs matchExpressions (or nodePools with poolLabel): "
            "without them nothing pins workers to Spot",
        )

    spec = SpotSpec(
        provider=provider,
        mode=mode,
        node_pools=node_pools,
        taint_key=taint_key,
        pool_label=pool_label,
        match_expressions=exprs,
        tolerations=tolerations,
        groups=groups,
        graceful_stop=graceful,
        market_type_label=market,
    )
    _check_requirements_consistent(spec, path, err)
    return spec, errors


def _enum(
    raw: Mapping[str, Any], key: str, allowed: Sequence[str], default: str, path: str, err: Report
) -> str:
    value = raw.get(key, default)
    if value in allowed:
        return str(value)
    err(f"{path}.{key}", f"expected one of {', '.join(allowed)}; got {value!r}")
    return default


def _expressions(raw: object, path: str, err: Report) -> Iterator[dict[str, Any]]:
    if raw is None:
        return
    if not isinstance(raw, list):
        err(path, f"expected a list of node selector requirements, got {_kind(raw)}")
        return
    for i, expr in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(expr, Mapping):
            err(where, f"expected a mapping with key, operator, values; got {_kind(expr)}")
            continue
        ok = True
        for k in expr:
            if k not in _EXPRESSION_FIELDS:
                err(f"{where}.{k}", f"unknown field {k!r}; expected key, operator, values")
                ok = False
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values")
        if not (isinstance(key, str) and _qualified_name(key)):
            err(f"{where}.key", f"expected a node label key, got {key!r}")
            ok = False
        if op not in OPERATORS:
            err(f"{where}.operator", f"expected one of {', '.join(OPERATORS)}; got {op!r}")
            continue
        if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            err(f"{where}.values", "expected a list of strings (quote true, false and numbers)")
            continue
        values = values or []
        if op in ("In", "NotIn") and not values:
            err(f"{where}.values", f"operator {op} needs at least one value")
            ok = False
        elif op in ("Exists", "DoesNotExist") and values:
            err(f"{where}.values", f"operator {op} takes no values")
            ok = False
        elif op in ("Gt", "Lt") and (len(values) != 1 or _int(values[0]) is None):
            err(f"{where}.values", f"operator {op} needs exactly one integer value (64-bit), quoted")
            ok = False
        if ok:
            yield {"key": key, "operator": op, **({"values": list(values)} if values else {})}


def _tolerations(raw: object, path: str, err: Report) -> Iterator[dict[str, Any]]:
    if raw is None:
        return
    if not isinstance(raw, list):
        err(path, f"expected a list of tolerations, got {_kind(raw)}")
        return
    for i, tol in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(tol, Mapping):
            err(where, f"expected a toleration mapping, got {_kind(tol)}")
            continue
        problems = 0
        for k in tol:
            if k not in _TOLERATION_FIELDS:
                err(f"{where}.{k}", f"unknown field {k!r}; expected {', '.join(_TOLERATION_FIELDS)}")
                problems += 1
        key = tol.get("key", "")
        op = tol.get("operator", "Equal")
        value = tol.get("value", "")
        effect = tol.get("effect", "")
        seconds = tol.get("tolerationSeconds")
        if not isinstance(key, str) or (key and not _qualified_name(key)):
            err(f"{where}.key", f"expected a taint key, got {key!r}")
            problems += 1
        if op not in ("Equal", "Exists"):
            err(f"{where}.operator", f"expected Equal or Exists, got {op!r}")
            problems += 1
        if not isinstance(value, str) or (value and not _label_value(value)):
            err(f"{where}.value", f"expected a taint value (a string), got {value!r}")
            problems += 1
        elif op == "Exists" and value:
            err(f"{where}.value", "operator Exists takes no value")
            problems += 1
        if key == "" and op != "Exists":
            err(f"{where}.operator", "a toleration without a key must use operator Exists")
            problems += 1
        if effect not in ("", *EFFECTS):
            err(
                f"{where}.effect",
                f"expected one of {', '.join(EFFECTS)} or empty for all; got {effect!r}",
            )
            problems += 1
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
            err(f"{where}.tolerationSeconds", f"expected an integer, got {seconds!r}")
            problems += 1
        elif seconds is not None and effect != "NoExecute":
            err(f"{where}.tolerationSeconds", "only allowed with effect NoExecute")
            problems += 1
        if not problems:
            yield _copy(dict(tol))


def _graceful_stop(raw: object, provider: str, path: str, err: Report) -> GracefulStop | None:
    if raw is None or raw is False:
        return None
    preset = PRESETS[provider]
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        err(
            path,
            f"expected true, false or a mapping with the grace period; got {_kind(raw)}",
        )
        return None
    bad = False
    for k in raw:
        if k not in _GRACEFUL_FIELDS:
            err(f"{path}.{k}", f"unknown field {k!r}; expected {', '.join(_GRACEFUL_FIELDS)}")
            bad = True
    notice = raw.get("noticeSeconds")
    if notice is not None and not _positive_int(notice):
        err(f"{path}.noticeSeconds", f"expected a positive number of seconds, got {notice!r}")
        notice, bad = None, True
    window = notice if notice is not None else preset.notice_seconds
    seconds = raw.get("terminationGracePeriodSeconds")
    if seconds is None:
        seconds = preset.default_grace_seconds if notice is None else notice
        if seconds is None:
            err(
                f"{path}.terminationGracePeriodSeconds",
                f"provider {provider!r} has no known preemption notice: give the seconds",
            )
            return None
    elif not _positive_int(seconds):
        err(
            f"{path}.terminationGracePeriodSeconds",
            f"expected a positive number of seconds, got {seconds!r}",
        )
        return None
    elif window is not None and seconds > window:
        err(
            f"{path}.terminationGracePeriodSeconds",
            f"{seconds} s is longer than the {window} s a {provider} Spot node gets before it is "
            f"reclaimed; use at most {window} (or set noticeSeconds if the nodes allow more)",
        )
        bad = True
    elif notice is None and preset.pod_share_seconds is not None and seconds > preset.pod_share_seconds:
        err(
            f"{path}.terminationGracePeriodSeconds",
            f"{seconds} s: graceful node shutdown on {provider} gives ordinary pods only "
            f"{preset.pod_share_seconds} s of the {window} s notice unless the node pool's "
            "shutdown grace period was raised (then set noticeSeconds)",
            "warning",
        )
    pre_stop_raw = raw.get("preStop")
    pre_stop: tuple[str, ...] | None = None
    if pre_stop_raw is not None:
        if (
            not isinstance(pre_stop_raw, list)
            or not pre_stop_raw
            or not all(isinstance(a, str) and a for a in pre_stop_raw)
        ):
            err(
                f"{path}.preStop",
                "expected a command as a non-empty list of strings, e.g. [ray, stop]",
            )
            bad = True
        else:
            pre_stop = tuple(pre_stop_raw)
    if bad:
        return None
    return GracefulStop(int(seconds), pre_stop, notice)


def _check_requirements_consistent(spec: SpotSpec, path: str, err: Report) -> None:
    """Refuse settings whose own requirements can never hold together (no node could match)."""
    base = spot_requirements(spec, None)
    for key, exprs in _by_key(base).items():
        if _witness(exprs) is _NONE:
            index = next(
                (i for i, e in enumerate(spec.match_expressions) if e.get("key") == key),
                None,
            )
            where = f"{path}.matchExpressions[{index}]" if index is not None else path
            err(
                where,
                f"requirements on {key!r} contradict each other: {_show(exprs)}; no node matches",
            )
            return
    for group in spec.node_pools:
        for key, exprs in _by_key(spot_requirements(spec, group)).items():
            if _witness(exprs) is _NONE:
                err(
                    f"{path}.nodePools.{group}",
                    f"pool {spec.node_pools[group]!r} contradicts the other requirements on "
                    f"{key!r}: {_show(exprs)}; no node matches",
                )


# --------------------------------------------------------------------------------------------
# apply_spot


def apply_spot(obj: Mapping[str, Any], spec: SpotSpec) -> tuple[dict[str, Any], list[Result]]:
    """Return a copy of `obj` with Spot placement in every worker group, and the findings.

    Only worker groups are touched (never the head, never a RayJob submitter). A group whose
    placement would contradict the requirements is left as it is, with an error.
    """
    out = _copy(obj)
    if not spec.enabled or cluster_spec_path(out) is None:
        return out, []
    ref = ResourceRef.of(obj)
    shapes = shape_problems(out)
    if shapes:  # placing what can be read would leave the rest of the workers off Spot, silently
        return out, [Result(message, resource=ref, field=dotted(path)) for path, message in shapes]
    results = _check_head(out, spec, ref)
    for path, group in worker_groups(out):
        # _copy built plain dicts, so the groups can be edited in place
        if spec.targets(group.get("groupName")) and isinstance(group, dict):
            results.extend(_place_group(group, path, spec, ref))
    return out, results


def check_group_names(
    spec: SpotSpec, objects: Iterable[Mapping[str, Any]], path: str = "spec.spot"
) -> list[Result]:
    """Warn about `groups` and `nodePools` entries that name no worker group in `objects`."""
    names = {n for obj in objects for _, g in worker_groups(obj) if isinstance(n := g.get("groupName"), str)}
    out = [
        Result(
            f"no worker group is named {name!r}; this entry has no effect",
            "warning",
            field=f"{path}.groups[{i}]",
        )
        for i, name in enumerate(spec.groups or ())
        if name not in names
    ]
    out += [
        Result(
            f"no worker group is named {name!r}; this pool is never used",
            "warning",
            field=f"{path}.nodePools.{name}",
        )
        for name in spec.node_pools
        if name not in names
    ]
    return out


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
    raise _Refused([note(where, f"expected a mapping, got {_kind(value)}")])


def _plan_affinity(
    pod: Mapping[str, Any], ppath: Path, reqs: list[dict[str, Any]], mode: str, note: Note
) -> list[Result]:
    """Check the pod's placement against the requirements before anything is changed."""
    findings: list[Result] = []
    soft: Severity = "warning" if mode == "preferred" else "error"
    consequence = (
        "Spot is preferred but can never be chosen" if mode == "preferred" else "no node could ever match"
    )
    by_key = _by_key(reqs)

    tolerations = pod.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        raise _Refused([note((*ppath, "tolerations"), f"expected a list, got {_kind(tolerations)}")])
    selector = pod.get("nodeSelector")
    spath: Path = (*ppath, "nodeSelector")
    if selector is not None and not isinstance(selector, Mapping):
        raise _Refused([note(spath, f"expected a mapping, got {_kind(selector)}")])
    for key, value in (selector or {}).items():
        if key in by_key and _witness([_in(str(key), str(value)), *by_key[key]]) is _NONE:
            findings.append(
                note(
                    spath,
                    f"nodeSelector {key}={value} contradicts the Spot requirement "
                    f"{_show(by_key[key])}: {consequence}",
                    soft,
                )
            )

    affinity = pod.get("affinity")
    apath: Path = (*ppath, "affinity")
    if affinity is None:
        return findings
    if not isinstance(affinity, Mapping):
        raise _Refused([note(apath, f"expected a mapping, got {_kind(affinity)}")])
    node = affinity.get("nodeAffinity")
    npath: Path = (*apath, "nodeAffinity")
    if node is None:
        return findings
    if not isinstance(node, Mapping):
        raise _Refused([note(npath, f"expected a mapping, got {_kind(node)}")])
    if mode == "preferred" and node.get(PREFERRED) is not None and not isinstance(node.get(PREFERRED), list):
        raise _Refused([note((*npath, PREFERRED), f"expected a list, got {_kind(node.get(PREFERRED))}")])
    required = node.get(REQUIRED)
    rpath: Path = (*npath, REQUIRED)
    if required is None:
        return findings
    if not isinstance(required, Mapping):
        raise _Refused([note(rpath, f"expected a mapping, got {_kind(required)}")])
    terms = required.get("nodeSelectorTerms")
    tpath: Path = (*rpath, "nodeSelectorTerms")
    if terms is None:
        return findings
    if not isinstance(terms, list):
        raise _Refused([note(tpath, f"expected a list, got {_kind(terms)}")])
    for i, term in enumerate(terms):
        where: Path = (*tpath, i)
        if not isinstance(term, Mapping):
            raise _Refused([note(where, f"expected a mapping, got {_kind(term)}")])
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
                raise _Refused([note(vpath, f"expected a list of strings, got {_kind(values)}")])
            # Kubernetes reads a Gt/Lt operand as a 64-bit integer; any other makes the term match
            # no node (and thousands of digits are beyond what Python converts)
            if e.get("operator") in ("Gt", "Lt") and (
                not values or len(values) != 1 or _int(values[0]) is None
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
        if _is_empty_term(term):
            if mode == "required":
                findings.append(
                    note(where, "an empty nodeSelectorTerm matches no node; left as it is", "warning")
                )
            continue
        for key, wanted in by_key.items():
            mine = [e for e in exprs if e.get("key") == key]
            if mine and _witness(mine) is not _NONE and _witness([*mine, *wanted]) is _NONE:
                findings.append(
                    note(
                        where,
                        f"{_show(mine)} contradicts the Spot requirement {_show(wanted)}: "
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
        required["nodeSelectorTerms"] = [{"matchExpressions": _copy(reqs)}]
        return
    # AND into every term: a new ORed term would let pods through the old terms onto on-demand
    for term in terms:
        if _is_empty_term(term):
            continue  # it matches nothing; adding requirements would widen it to all Spot nodes
        exprs = term.get("matchExpressions")
        if not isinstance(exprs, list):
            exprs = term["matchExpressions"] = []
        # each existing expression's identity once: a long In list is read once, not once per req
        have = {_expr_id(e) for e in exprs if isinstance(e, Mapping)}
        for req in reqs:
            if _expr_id(req) not in have:
                exprs.append(_copy(req))


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
            and _same_expressions(pref.get("matchExpressions") or [], reqs)
        ):
            return
    prefs.append({"weight": PREFERRED_WEIGHT, "preference": {"matchExpressions": _copy(reqs)}})


def _add_tolerations(pod: dict[str, Any], tols: list[dict[str, Any]]) -> None:
    if not tols:
        return
    existing = pod.get("tolerations")
    if not isinstance(existing, list):
        existing = pod["tolerations"] = []
    for tol in tols:
        if not any(isinstance(e, Mapping) and _tolerates(e, tol) for e in existing):
            existing.append(_copy(tol))


def _market_label(
    group: Mapping[str, Any], path: Path, spec: SpotSpec, note: Note, findings: list[Result]
) -> None:
    labels = group.get("labels")
    lpath: Path = (*path, "labels")
    if labels is not None and not isinstance(labels, Mapping):
        if spec.market_type_label:
            raise _Refused([note(lpath, f"expected a mapping, got {_kind(labels)}")])
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


def _check_head(obj: Mapping[str, Any], spec: SpotSpec, ref: ResourceRef) -> list[Result]:
    """Warn when the head can only run on Spot nodes: a preemption takes the whole cluster."""
    cluster = cluster_spec(obj)
    path = cluster_spec_path(obj) or ()
    head = cluster.get("headGroupSpec") if cluster else None
    template = head.get("template") if isinstance(head, Mapping) else None
    pod = template.get("spec") if isinstance(template, Mapping) else None
    if not isinstance(pod, Mapping):
        return []
    ppath: Path = (*path, "headGroupSpec", "template", "spec")
    message = "the head is pinned to Spot nodes; it must survive preemption, keep it on on-demand nodes"
    selector = pod.get("nodeSelector")
    if isinstance(selector, Mapping) and any(SPOT_NODE_LABELS.get(str(k)) == v for k, v in selector.items()):
        return [Result(message, "warning", ref, dotted((*ppath, "nodeSelector")))]
    own = spot_requirements(spec, None) if spec.provider == "custom" else []
    affinity = pod.get("affinity")
    node = affinity.get("nodeAffinity") if isinstance(affinity, Mapping) else None
    required = node.get(REQUIRED) if isinstance(node, Mapping) else None
    terms = required.get("nodeSelectorTerms") if isinstance(required, Mapping) else None
    if not isinstance(terms, list) or not terms:
        return []

    def pins(term: object) -> bool:
        exprs = term.get("matchExpressions") if isinstance(term, Mapping) else None
        return isinstance(exprs, list) and any(
            isinstance(e, Mapping)
            and (is_spot_requirement(e) or (own and any(_same_expression(e, o) for o in own)))
            for e in exprs
        )

    live = [t for t in terms if not (isinstance(t, Mapping) and _is_empty_term(t))]
    if live and all(pins(t) for t in live):
        return [Result(message, "warning", ref, dotted((*ppath, "affinity", "nodeAffinity", REQUIRED)))]
    return []


# --------------------------------------------------------------------------------------------
# node selector semantics


class _NoWitness:
    def __repr__(self) -> str:
        return "<no witness>"


_NONE = _NoWitness()


def _witness(exprs: Sequence[Mapping[str, Any]]) -> str | _NoWitness | None:
    """A label value (None = label absent) satisfying every expression on one key, or _NONE.

    Exact for the six operators, in time linear in the number of values: absence if nothing
    asks for a value; else the first value of the In lists that every other expression allows;
    else a value listed nowhere; else, between the Gt/Lt bounds, the first integer not excluded
    (at most one more step than there are excluded values). Set operations, no scan per value.
    """
    allowed: set[str] | None = None  # what every In list allows
    excluded: set[str] = set()
    present = absent = False
    low: int | None = None  # exclusive bounds of Gt and Lt
    high: int | None = None
    for e in exprs:
        op = e.get("operator")
        raw = e.get("values")
        values = raw if isinstance(raw, list) else []
        if op == "In":
            present = True
            allowed = set(map(str, values)) if allowed is None else allowed.intersection(map(str, values))
        elif op == "NotIn":
            excluded.update(map(str, values))
        elif op == "Exists":
            present = True
        elif op == "DoesNotExist":
            absent = True
        elif op in ("Gt", "Lt") and len(values) == 1 and (bound := _int(values[0])) is not None:
            present = True
            if op == "Gt":
                low = bound if low is None else max(low, bound)
            else:
                high = bound if high is None else min(high, bound)
        else:  # an unknown operator, or a Gt/Lt without one integer: no node matches
            return _NONE
    if not present:
        return None
    if absent:
        return _NONE

    def fits(value: str) -> bool:
        if value in excluded:
            return False
        if low is None and high is None:
            return True
        n = _int(value)
        return n is not None and (low is None or n > low) and (high is None or n < high)

    if allowed is not None:
        candidates = allowed - excluded
        if low is not None or high is not None:
            candidates = {v for v in candidates if fits(v)}
        # which one is immaterial: callers only ask whether a witness exists
        return next(iter(candidates), _NONE)
    if low is None and high is None:
        return next(c for i in range(len(excluded) + 1) if (c := f"\x00{i}") not in excluded)
    n, step = (low + 1, 1) if low is not None else (high - 1 if high is not None else 0, -1)
    for _ in range(len(excluded) + 1):
        if (low is not None and n <= low) or (high is not None and n >= high):
            return _NONE
        if str(n) not in excluded:
            return str(n)
        n += step
    return _NONE


# Kubernetes parses Gt/Lt operands and node label values with strconv.ParseInt(s, 10, 64)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT64_DIGITS = 19


def _int(value: object) -> int | None:
    """`value` as a 64-bit integer the way Kubernetes reads it, None when it is not one.

    Never converts more than 19 digits: Python refuses int() of very long strings.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    text = str(value)
    if not _INTEGER.fullmatch(text):
        return None
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > _INT64_DIGITS:
        return None
    n = int(text[0] + digits if text[0] in "+-" and digits else digits or "0")
    return n if _INT64_MIN <= n <= _INT64_MAX else None


def _is_empty_term(term: Mapping[str, Any]) -> bool:
    return not term.get("matchExpressions") and not term.get("matchFields")


def _by_key(exprs: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for e in exprs:
        out.setdefault(str(e.get("key")), []).append(e)
    return out


def _expr_id(e: Mapping[str, Any]) -> tuple[object, object, frozenset[str]]:
    values = e.get("values")
    return e.get("key"), e.get("operator"), frozenset(map(str, values) if isinstance(values, list) else ())


def _same_expression(a: Mapping[str, Any], b: object) -> bool:
    return isinstance(b, Mapping) and _expr_id(a) == _expr_id(b)


def _same_expressions(a: Sequence[object], b: Sequence[Mapping[str, Any]]) -> bool:
    if not all(isinstance(e, Mapping) for e in a):
        return False
    return {_expr_id(e) for e in a if isinstance(e, Mapping)} == {_expr_id(e) for e in b}


def _tolerates(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """Whether toleration `have` already does all that `want` does (so `want` is not missing)."""
    if _tol_id(have) == _tol_id(want):
        return True
    # `want` is a plain taint tolerance (key=value:effect): any toleration of that taint covers it
    if want.get("operator", "Equal") != "Equal" or "tolerationSeconds" in want or not want.get("effect"):
        return False
    if have.get("tolerationSeconds") is not None and have.get("effect") in ("", None, "NoExecute"):
        return False
    effect_ok = not have.get("effect") or have.get("effect") == want.get("effect")
    op = have.get("operator") or "Equal"
    if op == "Exists":
        return effect_ok and (not have.get("key") or have.get("key") == want.get("key"))
    return effect_ok and have.get("key") == want.get("key") and (have.get("value") or "") == want.get("value")


def _tol_id(t: Mapping[str, Any]) -> tuple[object, ...]:
    return (
        t.get("key") or "",
        t.get("operator") or "Equal",
        t.get("value") or "",
        t.get("effect") or "",
        t.get("tolerationSeconds"),
    )


def _show(exprs: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for e in exprs:
        values = e.get("values")
        parts.append(
            f"`{e.get('key')} {e.get('operator')}" + (f" [{', '.join(map(str, values))}]`" if values else "`")
        )
    return " and ".join(parts)


# --------------------------------------------------------------------------------------------
# small helpers


def _ensure(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """`parent[key]` as a mapping, created at the end of `parent` (or in place of a null)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_SET = frozenset(_SCALARS)


def _copy(value: Any) -> Any:
    """Deep copy of YAML data into plain dicts and lists, several times faster than deepcopy.

    Exact type checks first: ABC isinstance checks would cost more than the copying itself.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        # a list of scalars (a long `values` list) is copied whole, without a call per element
        if set(map(type, value)) <= _SCALAR_SET:
            return list(value)
        return [_copy(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _qualified_name(key: str) -> bool:
    """A Kubernetes label key: optional DNS subdomain prefix and a name of at most 63 chars."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (0 < len(prefix) <= 253 and _DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_NAME.match(name))


def _label_value(value: str) -> bool:
    """A Kubernetes label value (may be empty)."""
    return len(value) <= 63 and (value == "" or bool(_NAME.match(value)))


def _name_value(value: object) -> bool:
    """A non-empty label value: what group names and pool names must be."""
    return isinstance(value, str) and value != "" and _label_value(value)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
    }.get(type(value), type(value).__name__)
