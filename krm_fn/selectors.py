"""Node selector and toleration semantics, as the Kubernetes scheduler reads them.

One definition for every layer: the Spot injection asks these functions whether a workload
already holds what it would add, and the Spot policy asks the same functions whether a workload
holds what it must. The witness solver decides whether expressions on one label key can hold
together (some node label value satisfies them all).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


@functools.cache
def _integer_pattern() -> re.Pattern[str]:
    """A Gt/Lt value: compiled on first use, as only those operators need it."""
    return re.compile(r"[+-]?[0-9]+")


class NoWitness:
    """The answer of `witness` when no label value satisfies the expressions."""

    def __repr__(self) -> str:
        return "<no witness>"


NO_WITNESS = NoWitness()


def witness(exprs: Sequence[Mapping[str, Any]]) -> str | NoWitness | None:
    """A label value (None = label absent) satisfying every expression on one key, or NO_WITNESS.

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
        elif op in ("Gt", "Lt") and len(values) == 1 and (bound := int64(values[0])) is not None:
            present = True
            if op == "Gt":
                low = bound if low is None else max(low, bound)
            else:
                high = bound if high is None else min(high, bound)
        else:  # an unknown operator, or a Gt/Lt without one integer: no node matches
            return NO_WITNESS
    if not present:
        return None
    if absent:
        return NO_WITNESS

    def in_bounds(value: str) -> bool:
        n = int64(value)
        return n is not None and (low is None or n > low) and (high is None or n < high)

    if allowed is not None:
        candidates = allowed - excluded
        if low is not None or high is not None:
            candidates = {v for v in candidates if in_bounds(v)}
        # which one is immaterial: callers only ask whether a witness exists
        return next(iter(candidates), NO_WITNESS)
    if low is None and high is None:
        return next(c for i in range(len(excluded) + 1) if (c := f"\x00{i}") not in excluded)
    n, step = (low + 1, 1) if low is not None else (high - 1 if high is not None else 0, -1)
    for _ in range(len(excluded) + 1):
        if (low is not None and n <= low) or (high is not None and n >= high):
            return NO_WITNESS
        if str(n) not in excluded:
            return str(n)
        n += step
    return NO_WITNESS


# Kubernetes parses Gt/Lt operands and node label values with strconv.ParseInt(s, 10, 64)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT64_DIGITS = 19


def int64(value: object) -> int | None:
    """`value` as a 64-bit integer the way Kubernetes reads it, None when it is not one.

    Never converts more than 19 digits: Python refuses int() of very long strings.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    text = str(value)
    if not _integer_pattern().fullmatch(text):
        return None
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > _INT64_DIGITS:
        return None
    n = int(text[0] + digits if text[0] in "+-" and digits else digits or "0")
    return n if _INT64_MIN <= n <= _INT64_MAX else None


def is_empty_term(term: Mapping[str, Any]) -> bool:
    """A nodeSelectorTerm without expressions or fields: it matches no node."""
    return not term.get("matchExpressions") and not term.get("matchFields")


def by_key(exprs: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The expressions grouped by their label key, in order."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for e in exprs:
        out.setdefault(str(e.get("key")), []).append(e)
    return out


def expression_id(e: Mapping[str, Any]) -> tuple[object, object, frozenset[str]]:
    """What makes two node selector requirements the same: key, operator, the set of values."""
    values = e.get("values")
    return e.get("key"), e.get("operator"), frozenset(map(str, values) if isinstance(values, list) else ())


def same_expression(a: Mapping[str, Any], b: object) -> bool:
    """True when `b` is the requirement `a` (values in any order)."""
    return isinstance(b, Mapping) and expression_id(a) == expression_id(b)


def same_expressions(a: Sequence[object], b: Sequence[Mapping[str, Any]]) -> bool:
    """True when `a` and `b` hold the same requirements."""
    if not all(isinstance(e, Mapping) for e in a):
        return False
    return {expression_id(e) for e in a if isinstance(e, Mapping)} == {expression_id(e) for e in b}


def term_holds(term: Mapping[str, Any], req: Mapping[str, Any]) -> bool:
    """True when the term holds `req` or something narrower (In a subset of its values)."""
    exprs = term.get("matchExpressions")
    want = req.get("operator")
    want_values = _values(req)
    for expr in exprs if isinstance(exprs, list) else ():
        if not isinstance(expr, Mapping) or expr.get("key") != req.get("key"):
            continue
        op, have_values = expr.get("operator"), _values(expr)
        if want == "In" and op == "In" and have_values and have_values <= want_values:
            return True
        if want == op and have_values == want_values:
            return True
    return False


def selector_satisfies(selector: Mapping[str, Any], req: Mapping[str, Any]) -> bool:
    """True when a nodeSelector alone guarantees the requirement `req` (In or Exists)."""
    key = str(req.get("key"))
    if key not in selector:
        return False
    return req.get("operator") == "Exists" or (
        req.get("operator") == "In" and str(selector[key]) in _values(req)
    )


def tolerates(have: object, want: Mapping[str, Any]) -> bool:
    """Whether toleration `have` tolerates every taint that `want` does, at least as long.

    Kubernetes' matching: an empty effect matches every effect, an empty key with Exists every
    key, Exists every value. tolerationSeconds only bounds how long a pod stays on a node with
    a NoExecute taint; it never stops scheduling, so it matters only when `want` covers
    NoExecute, and then `have` must not let the pod be evicted sooner than `want` does.
    """
    if not isinstance(have, Mapping):
        return False
    h_key, h_op, h_value, h_effect = _toleration(have)
    w_key, w_op, w_value, w_effect = _toleration(want)
    if w_op not in ("Equal", "Exists"):
        return _toleration(have) == _toleration(want) and have.get("tolerationSeconds") == want.get(
            "tolerationSeconds"
        )
    if h_effect and h_effect != w_effect:
        return False
    if h_op == "Exists":
        if h_key and h_key != w_key:
            return False
    elif h_op == "Equal":
        if h_key != w_key or w_op != "Equal" or h_value != w_value:
            return False
    else:  # an unknown operator tolerates nothing
        return False
    if w_effect in ("", "NoExecute"):
        h_seconds, w_seconds = have.get("tolerationSeconds"), want.get("tolerationSeconds")
        if h_seconds is not None and not (
            _seconds(h_seconds) and _seconds(w_seconds) and h_seconds >= w_seconds
        ):
            return False
    return True


def show_expressions(exprs: Iterable[Mapping[str, Any]]) -> str:
    """Requirements for a message: `key Op [values]` and `key Op`."""
    parts = []
    for e in exprs:
        values = e.get("values")
        parts.append(
            f"`{e.get('key')} {e.get('operator')}" + (f" [{', '.join(map(str, values))}]`" if values else "`")
        )
    return " and ".join(parts)


def show_toleration(tol: Mapping[str, Any]) -> str:
    """A toleration for a message: `key=value:effect`, `*` for every effect."""
    value = f"={tol['value']}" if tol.get("value") else ""
    return f"{tol.get('key')}{value}:{tol.get('effect') or '*'}"


def _values(expr: Mapping[str, Any]) -> set[str]:
    values = expr.get("values")
    return set(map(str, values)) if isinstance(values, list) else set()


def _toleration(t: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(t.get("key") or ""),
        str(t.get("operator") or "Equal"),
        str(t.get("value") or ""),
        str(t.get("effect") or ""),
    )


def _seconds(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against an object's labels: every matchLabels entry and expression holds.

    `In`/`NotIn` on a label's value, `Exists`/`DoesNotExist` on its key; an empty selector matches
    everything. An expression of another operator matches nothing (the API server refuses it).
    """
    match = selector.get("matchLabels")
    if isinstance(match, Mapping) and any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, Mapping):
            return False
        key, op = expr.get("key"), expr.get("operator")
        present = isinstance(key, str) and key in labels
        value = labels.get(key) if isinstance(key, str) else None
        holds = {
            "In": present and value in _values(expr),
            "NotIn": not present or value not in _values(expr),
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(op), False)
        if not holds:
            return False
    return True
