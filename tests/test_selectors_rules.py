"""Node selector and toleration semantics, case by case, against the Kubernetes scheduler's rules.

Each expectation is what the scheduler does with the expressions or tolerations, written by hand:
whether some node label value satisfies a set of expressions (and that the value offered does),
how Gt/Lt read integers, and which tolerations cover which.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.selectors import (
    NO_WITNESS,
    NoWitness,
    by_key,
    expression_id,
    int64,
    is_empty_term,
    same_expression,
    same_expressions,
    selector_satisfies,
    show_expressions,
    show_toleration,
    term_holds,
    tolerates,
    witness,
)


def e(op: str, *values: Any, key: str = "k") -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


def matches(value: str | None, expr: dict[str, Any]) -> bool:
    """The scheduler's reading of one expression against a node's label value (None: no label)."""
    op, values = expr["operator"], [str(v) for v in expr.get("values", [])]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if value is None or len(values) != 1:
        return False
    try:
        n, bound = int(value), int(values[0])
    except ValueError:
        return False
    return n > bound if op == "Gt" else n < bound


SATISFIABLE = [
    [],
    [e("NotIn", "a")],
    [e("DoesNotExist")],
    [e("DoesNotExist"), e("NotIn", "a")],
    [e("In", "a", "b")],
    [e("In", "a", "b"), e("In", "b", "c")],
    [e("In", "a", "b"), e("NotIn", "a")],
    [e("Exists")],
    [e("Exists"), e("NotIn", "\x000", "\x001")],
    [e("In", 1, 2), e("NotIn", "1")],  # values are compared as strings
    [e("Gt", "5")],
    [e("Gt", "5"), e("NotIn", "6", "7")],
    [e("Lt", "5")],
    [e("Lt", "5"), e("NotIn", "4")],
    [e("Gt", "1"), e("Lt", "4"), e("NotIn", "2")],
    [e("Gt", "1"), e("Gt", "3"), e("Lt", "9"), e("Lt", "5")],
    [e("Gt", 1), e("Lt", 3)],
    [e("In", "3", "7", "x"), e("Gt", "5")],
    [e("In", "3", "7"), e("Lt", "5")],
    [e("Gt", "-3"), e("Lt", "-1")],
]

UNSATISFIABLE = [
    [e("In", "a"), e("In", "b")],
    [e("In", "a"), e("NotIn", "a")],
    [e("In")],
    [e("In", "a"), e("DoesNotExist")],
    [e("Exists"), e("DoesNotExist")],
    [e("Gt", "5"), e("DoesNotExist")],
    [e("Gt", "5"), e("Lt", "6")],
    [e("Gt", "5"), e("Lt", "5")],
    [e("Gt", "1"), e("Lt", "4"), e("NotIn", "2", "3")],
    [e("Gt", "3"), e("Gt", "1"), e("Lt", "5"), e("NotIn", "4")],
    [e("Lt", "9"), e("Lt", "5"), e("Gt", "3"), e("NotIn", "4")],
    [e("Gt", "3"), e("Lt", "5"), e("Lt", "9"), e("NotIn", "4")],  # the lowest Lt bounds, wherever it is
    [e("In", "5"), e("Gt", "5")],  # the bounds are exclusive
    [e("In", "5"), e("Lt", "5")],
    [e("In", "3", "x"), e("Gt", "5")],
    [e("In", "7"), e("Lt", "5")],
    [e("Gt", "x")],
    [e("Gt", "1", "2")],
    [e("Gt")],
    [e("Lt", "1.5")],
    [e("Near", "a")],
    [{"key": "k"}],
]


@pytest.mark.parametrize("exprs", SATISFIABLE)
def test_a_witness_satisfies_every_expression(exprs: list[dict[str, Any]]) -> None:
    found = witness(exprs)
    assert found is not NO_WITNESS
    assert not isinstance(found, NoWitness)
    assert all(matches(found, x) for x in exprs), found


@pytest.mark.parametrize("exprs", UNSATISFIABLE)
def test_no_witness_where_no_label_value_satisfies_them_all(exprs: list[dict[str, Any]]) -> None:
    assert witness(exprs) is NO_WITNESS


@pytest.mark.parametrize(
    ("exprs", "expected"),
    [
        ([], None),
        ([e("NotIn", "a")], None),  # nothing asks for the label: a node without it matches
        ([e("DoesNotExist")], None),
        ([e("Gt", "5"), e("NotIn", "6", "7")], "8"),
        ([e("Lt", "5"), e("NotIn", "4")], "3"),
        ([e("Lt", "5")], "4"),  # the first integer inside the bound
        ([e("Gt", "5")], "6"),
        ([e("Lt", "-5")], "-6"),
        ([e("Gt", "1"), e("Lt", "4"), e("NotIn", "2")], "3"),
        ([e("Exists"), e("NotIn", "\x000", "\x001")], "\x002"),
        ([e("Exists")], "\x000"),
        ([e("In", "3", "7", "x"), e("Gt", "5")], "7"),
    ],
)
def test_the_witness_offered(exprs: list[dict[str, Any]], expected: str | None) -> None:
    assert witness(exprs) == expected


def test_no_witness_reads_as_such() -> None:
    assert repr(NO_WITNESS) == "<no witness>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        ("5", 5),
        ("+5", 5),
        ("-5", -5),
        ("007", 7),
        ("-007", -7),
        ("0", 0),
        ("-0", 0),
        ("+000", 0),
        ("9223372036854775807", (1 << 63) - 1),
        ("-9223372036854775808", -(1 << 63)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("0000000000000000000009", 9),  # leading zeros do not count as digits
        ("1" * 20, None),
        ("9" * 5000, None),
        ((1 << 63) - 1, (1 << 63) - 1),
        (1 << 63, None),
        (-(1 << 63), -(1 << 63)),
        (-(1 << 63) - 1, None),
        (True, None),
        ("1.0", None),
        ("1e3", None),
        ("", None),
        (" 1", None),
        ("+", None),
        ("0x1F", None),
        (None, None),
    ],
)
def test_int64_reads_integers_as_kubernetes_does(value: Any, expected: int | None) -> None:
    assert int64(value) == expected


@pytest.mark.parametrize(
    ("term", "empty"),
    [
        ({}, True),
        ({"matchExpressions": []}, True),
        ({"matchExpressions": [], "matchFields": []}, True),
        ({"matchExpressions": [e("Exists")]}, False),
        ({"matchFields": [e("In", "n", key="metadata.name")]}, False),
    ],
)
def test_an_empty_term_is_one_without_expressions_or_fields(term: dict[str, Any], empty: bool) -> None:
    assert is_empty_term(term) is empty


def test_expressions_grouped_by_key_in_order() -> None:
    a1, b, a2, none = (
        e("In", "x", key="a"),
        e("Exists", key="b"),
        e("NotIn", "y", key="a"),
        {"operator": "Exists"},
    )
    assert by_key([a1, b, a2, none]) == {"a": [a1, a2], "b": [b], "None": [none]}


def test_two_requirements_are_the_same_whatever_the_order_of_their_values() -> None:
    assert expression_id(e("In", "b", "a")) == ("k", "In", frozenset({"a", "b"}))
    assert expression_id({"key": "k", "operator": "In", "values": "ab"}) == ("k", "In", frozenset())
    assert same_expression(e("In", "a", "b"), e("In", "b", "a"))
    assert not same_expression(e("In", "a"), e("In", "a", "b"))
    assert not same_expression(e("In", "a"), e("NotIn", "a"))
    assert not same_expression(e("In", "a"), e("In", "a", key="other"))
    assert not same_expression(e("In", "a"), "text")
    assert same_expressions([e("In", "a"), e("Exists", key="z")], [e("Exists", key="z"), e("In", "a")])
    assert not same_expressions([e("In", "a")], [e("In", "a"), e("Exists", key="z")])
    assert not same_expressions([e("In", "a"), "text"], [e("In", "a")])


@pytest.mark.parametrize(
    ("exprs", "req", "holds"),
    [
        ([e("In", "a")], e("In", "a", "b"), True),  # narrower: a subset of the values
        ([e("In", "a", "b")], e("In", "a", "b"), True),
        ([e("In", "a", "c")], e("In", "a", "b"), False),
        ([e("In")], e("In", "a"), False),  # In nothing holds no node at all, not the requirement
        ([e("NotIn", "a")], e("NotIn", "a"), True),
        ([e("NotIn", "a")], e("NotIn", "a", "b"), False),
        ([e("Exists")], e("Exists"), True),
        ([e("Exists")], e("In", "a"), False),
        ([e("In", "a")], e("Exists"), False),
        ([e("In", "a", key="other")], e("In", "a"), False),
        (["text", e("In", "a")], e("In", "a"), True),
    ],
)
def test_a_term_holds_a_requirement_or_something_narrower(
    exprs: list[Any], req: dict[str, Any], holds: bool
) -> None:
    assert term_holds({"matchExpressions": exprs}, req) is holds


def test_a_term_without_a_list_of_expressions_holds_nothing() -> None:
    assert term_holds({}, e("Exists")) is False
    assert term_holds({"matchExpressions": "text"}, e("Exists")) is False


@pytest.mark.parametrize(
    ("selector", "req", "satisfied"),
    [
        ({"k": "a"}, e("In", "a", "b"), True),
        ({"k": "c"}, e("In", "a", "b"), False),
        ({"k": 1}, e("In", "1"), True),
        ({"k": "a"}, e("Exists"), True),
        ({"other": "a"}, e("Exists"), False),
        ({"k": "a"}, e("NotIn", "b"), False),  # only In and Exists are guaranteed by a selector
        ({"k": "a"}, e("DoesNotExist"), False),
    ],
)
def test_a_node_selector_alone_guarantees_in_and_exists(
    selector: Any, req: dict[str, Any], satisfied: bool
) -> None:
    assert selector_satisfies(selector, req) is satisfied


def t(
    key: str = "spot", op: str = "Equal", value: str = "true", effect: str = "NoSchedule", **more: Any
) -> Any:
    out: dict[str, Any] = {"key": key, "operator": op, "effect": effect, **more}
    if value:
        out["value"] = value
    return out


@pytest.mark.parametrize(
    ("have", "want", "covers"),
    [
        (t(), t(), True),
        ({"key": "spot", "value": "true", "effect": "NoSchedule"}, t(), True),  # Equal is the default
        (t(effect=""), t(), True),  # an empty effect matches every effect
        (t(effect="NoExecute"), t(), False),
        (t(), t(effect=""), False),  # wants every effect, has one
        (t(value="false"), t(), False),
        (t(key="other"), t(), False),
        (t(op="Exists", value=""), t(), True),
        (t(op="Exists", value="", key=""), t(key="anything"), True),
        (t(op="Exists", value="", key="other"), t(), False),
        (t(), t(op="Exists", value=""), False),  # Equal never covers every value
        (t(op="Near"), t(), False),  # an unknown operator tolerates nothing
        ("text", t(), False),
        (t(op="Exists", value="", effect=""), t(op="Exists", value="", effect=""), True),
    ],
)
def test_which_tolerations_cover_which(have: Any, want: Any, covers: bool) -> None:
    assert tolerates(have, want) is covers


@pytest.mark.parametrize(
    ("have", "want", "covers"),
    [
        # an unknown operator in `want` is covered only by the same toleration
        (t(op="Near", tolerationSeconds=5), t(op="Near", tolerationSeconds=5), True),
        (t(op="Near", tolerationSeconds=5), t(op="Near", tolerationSeconds=6), False),
        (t(op="Near", value="a"), t(op="Near", value="b"), False),
    ],
)
def test_an_unknown_operator_is_covered_only_by_itself(have: Any, want: Any, covers: bool) -> None:
    assert tolerates(have, want) is covers


@pytest.mark.parametrize(
    ("have_seconds", "want_seconds", "covers"),
    [
        (None, None, True),
        (None, 30, True),  # staying forever is at least as long
        (30, None, False),  # evicted after 30 s where the wanted one stays
        (30, 30, True),
        (60, 30, True),
        (10, 30, False),
        (True, 1, False),
        (30, True, False),
        ("30", 30, False),
    ],
)
def test_toleration_seconds_matter_only_for_no_execute(
    have_seconds: Any, want_seconds: Any, covers: bool
) -> None:
    def timed(effect: str, seconds: Any) -> Any:
        return t(effect=effect, **({} if seconds is None else {"tolerationSeconds": seconds}))

    assert tolerates(timed("NoExecute", have_seconds), timed("NoExecute", want_seconds)) is covers
    empty_want = t(effect="", **({} if want_seconds is None else {"tolerationSeconds": want_seconds}))
    empty_have = t(effect="", **({} if have_seconds is None else {"tolerationSeconds": have_seconds}))
    assert tolerates(empty_have, empty_want) is covers
    # for NoSchedule the seconds are never read
    assert tolerates(timed("NoSchedule", have_seconds), timed("NoSchedule", want_seconds)) is True


def test_requirements_and_tolerations_in_messages() -> None:
    assert show_expressions([e("In", "a", 1), e("Exists", key="z")]) == "`k In [a, 1]` and `z Exists`"
    assert show_expressions([]) == ""
    assert show_toleration(t()) == "spot=true:NoSchedule"
    assert show_toleration(t(value="", effect="")) == "spot:*"
