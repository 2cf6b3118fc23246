"""The `spot` settings of the tenant spec: schema check -> default -> validate, every problem together."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from krm_fn.ray import is_label_key, is_label_value
from krm_fn.results import Result, Severity, describe
from krm_fn.selectors import EFFECTS, NO_WITNESS, OPERATORS, by_key, int64, show_expressions, witness
from krm_fn.spot.providers import (
    MODES,
    PRESETS,
    PROVIDERS,
    GracefulStop,
    SpotSpec,
    plain_copy,
    spot_requirements,
)

# reports a finding: (field, message[, severity])
Report = Callable[..., None]

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
        err(path, f"expected a mapping, got {describe(raw)} (use `provider: none` to turn Spot off)")
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
    if not isinstance(taint_key, str) or (taint_key and not is_label_key(taint_key)):
        err(
            f"{path}.taintKey",
            f"expected a taint key such as `dedicated` or '' for none, got {taint_key!r}",
        )
        taint_key = "dedicated"

    pool_label = raw.get("poolLabel")
    if pool_label is not None and not (isinstance(pool_label, str) and is_label_key(pool_label)):
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
            f"expected a mapping of worker group name to node pool, got {describe(pools_raw)}",
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
            err(f"{path}.groups", f"expected a list of worker group names, got {describe(groups_raw)}")
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
        err(path, f"expected a list of node selector requirements, got {describe(raw)}")
        return
    for i, expr in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(expr, Mapping):
            err(where, f"expected a mapping with key, operator, values; got {describe(expr)}")
            continue
        ok = True
        for k in expr:
            if k not in _EXPRESSION_FIELDS:
                err(f"{where}.{k}", f"unknown field {k!r}; expected key, operator, values")
                ok = False
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values")
        if not (isinstance(key, str) and is_label_key(key)):
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
        elif op in ("Gt", "Lt") and (len(values) != 1 or int64(values[0]) is None):
            err(f"{where}.values", f"operator {op} needs exactly one integer value (64-bit), quoted")
            ok = False
        if ok:
            yield {"key": key, "operator": op, **({"values": list(values)} if values else {})}


def _tolerations(raw: object, path: str, err: Report) -> Iterator[dict[str, Any]]:
    if raw is None:
        return
    if not isinstance(raw, list):
        err(path, f"expected a list of tolerations, got {describe(raw)}")
        return
    for i, tol in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(tol, Mapping):
            err(where, f"expected a toleration mapping, got {describe(tol)}")
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
        if not isinstance(key, str) or (key and not is_label_key(key)):
            err(f"{where}.key", f"expected a taint key, got {key!r}")
            problems += 1
        if op not in ("Equal", "Exists"):
            err(f"{where}.operator", f"expected Equal or Exists, got {op!r}")
            problems += 1
        if not isinstance(value, str) or (value and not is_label_value(value)):
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
            yield plain_copy(dict(tol))


def _graceful_stop(raw: object, provider: str, path: str, err: Report) -> GracefulStop | None:
    if raw is None or raw is False:
        return None
    preset = PRESETS[provider]
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        err(
            path,
            f"expected true, false or a mapping with the grace period; got {describe(raw)}",
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
    for key, exprs in by_key(base).items():
        if witness(exprs) is NO_WITNESS:
            index = next(
                (i for i, e in enumerate(spec.match_expressions) if e.get("key") == key),
                None,
            )
            where = f"{path}.matchExpressions[{index}]" if index is not None else path
            err(
                where,
                f"requirements on {key!r} contradict each other: {show_expressions(exprs)}; no node matches",
            )
            return
    for group in spec.node_pools:
        for key, exprs in by_key(spot_requirements(spec, group)).items():
            if witness(exprs) is NO_WITNESS:
                err(
                    f"{path}.nodePools.{group}",
                    f"pool {spec.node_pools[group]!r} contradicts the other requirements on "
                    f"{key!r}: {show_expressions(exprs)}; no node matches",
                )


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _name_value(value: object) -> bool:
    """A non-empty label value: what group names and pool names must be."""
    return isinstance(value, str) and value != "" and is_label_value(value)
