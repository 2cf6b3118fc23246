"""`spec.spot` settings: each bad value is one finding on its field, with the message users see.

Findings are compared whole (message, severity, field), and the accepted settings are compared
to what they must mean, so a changed check, message or default shows up as a failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.results import Result
from krm_fn.spot import GracefulStop, parse_spot

P = "spec.spot"
TOL_FIELDS = "key, operator, value, effect, tolerationSeconds"


def err(field: str, message: str, severity: str = "error") -> Result:
    return Result(message, severity=severity, field=field)  # type: ignore[arg-type]


def findings(raw: Any) -> list[Result]:
    return parse_spot(raw)[1]


# --- what a value is called in messages ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "called"),
    [
        (None, "nothing"),
        ({}, "a mapping"),
        ([], "a list"),
        ("x", "a string"),
        (True, "a boolean"),
        (3, "a number"),
        (1.5, "float"),
    ],
)
def test_values_are_named_in_messages(value: Any, called: str) -> None:
    if isinstance(value, dict):  # a mapping is a toleration's shape: ask for a list instead
        assert findings({"groups": value}) == [
            err(f"{P}.groups", f"expected a list of worker group names, got {called}")
        ]
    else:
        assert findings({"tolerations": [value]}) == [
            err(f"{P}.tolerations[0]", f"expected a toleration mapping, got {called}")
        ]


@pytest.mark.parametrize("value", ["x", 3, [1]])
def test_spot_must_be_a_mapping(value: Any) -> None:
    kind = {str: "a string", int: "a number", list: "a list"}[type(value)]
    assert findings(value) == [
        err(P, f"expected a mapping, got {kind} (use `provider: none` to turn Spot off)")
    ]


# --- tolerations --------------------------------------------------------------------------------


def test_tolerations_must_be_a_list() -> None:
    assert findings({"tolerations": {"key": "a"}}) == [
        err(f"{P}.tolerations", "expected a list of tolerations, got a mapping")
    ]


@pytest.mark.parametrize(
    "tol",
    [
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "gpu"},  # Equal is the default operator
        {"key": "example.com/dedicated", "operator": "Exists"},
        {"operator": "Exists"},  # tolerate everything
        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        {"key": "k", "value": "", "effect": "PreferNoSchedule"},
        {"key": "k", "value": "a" * 63},
    ],
)
def test_valid_tolerations_are_kept_as_written(tol: dict[str, Any]) -> None:
    spec, results = parse_spot({"tolerations": [tol]})
    assert results == []
    assert spec.tolerations == (tol,)


@pytest.mark.parametrize(
    ("tol", "expected"),
    [
        ({"key": "k", "value": "v", "when": 1}, [(".when", f"unknown field 'when'; expected {TOL_FIELDS}")]),
        ({"key": 5, "operator": "Exists"}, [(".key", "expected a taint key, got 5")]),
        ({"key": "bad key", "operator": "Exists"}, [(".key", "expected a taint key, got 'bad key'")]),
        ({"key": "k", "operator": "In"}, [(".operator", "expected Equal or Exists, got 'In'")]),
        ({"key": "k", "value": 5}, [(".value", "expected a taint value (a string), got 5")]),
        ({"key": "k", "value": "a b"}, [(".value", "expected a taint value (a string), got 'a b'")]),
        (
            {"key": "k", "value": "a" * 64},
            [(".value", f"expected a taint value (a string), got {'a' * 64!r}")],
        ),
        ({"key": "k", "operator": "Exists", "value": "v"}, [(".value", "operator Exists takes no value")]),
        ({"value": "v"}, [(".operator", "a toleration without a key must use operator Exists")]),
        (
            {"key": "k", "operator": "Exists", "effect": "Sometimes"},
            [
                (
                    ".effect",
                    "expected one of NoSchedule, PreferNoSchedule, NoExecute or empty for all; got 'Sometimes'",
                )
            ],
        ),
        (
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": "30"},
            [(".tolerationSeconds", "expected an integer, got '30'")],
        ),
        (
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": True},
            [(".tolerationSeconds", "expected an integer, got True")],
        ),
        (
            {"operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 30},
            [(".tolerationSeconds", "only allowed with effect NoExecute")],
        ),
        (
            {"key": "bad key", "operator": "In", "when": 1},
            [
                (".when", f"unknown field 'when'; expected {TOL_FIELDS}"),
                (".key", "expected a taint key, got 'bad key'"),
                (".operator", "expected Equal or Exists, got 'In'"),
            ],
        ),
    ],
)
def test_each_bad_toleration_field_is_reported(tol: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    last = {"operator": "Exists", "key": "last"}
    spec, results = parse_spot({"tolerations": [{"operator": "Exists", "key": "ok"}, tol, last]})
    assert results == [err(f"{P}.tolerations[1]{where}", message) for where, message in expected]
    assert spec.tolerations == ({"operator": "Exists", "key": "ok"}, last)  # the good ones are kept


# --- matchExpressions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("x", [("", "expected a mapping with key, operator, values; got a string")]),
        (
            {"key": "k", "operator": "Exists", "value": ["a"]},
            [(".value", "unknown field 'value'; expected key, operator, values")],
        ),
        ({"key": 1, "operator": "Exists"}, [(".key", "expected a node label key, got 1")]),
        ({"key": "-k", "operator": "Exists"}, [(".key", "expected a node label key, got '-k'")]),
        (
            {"key": "k", "operator": "Is"},
            [(".operator", "expected one of In, NotIn, Exists, DoesNotExist, Gt, Lt; got 'Is'")],
        ),
        (
            {"key": "k", "operator": "In", "values": [True]},
            [(".values", "expected a list of strings (quote true, false and numbers)")],
        ),
        (
            {"key": "k", "operator": "In", "values": "a"},
            [(".values", "expected a list of strings (quote true, false and numbers)")],
        ),
        ({"key": "k", "operator": "In"}, [(".values", "operator In needs at least one value")]),
        (
            {"key": "k", "operator": "NotIn", "values": []},
            [(".values", "operator NotIn needs at least one value")],
        ),
        (
            {"key": "k", "operator": "Exists", "values": ["a"]},
            [(".values", "operator Exists takes no values")],
        ),
        (
            {"key": "k", "operator": "DoesNotExist", "values": ["a"]},
            [(".values", "operator DoesNotExist takes no values")],
        ),
        (
            {"key": "k", "operator": "Gt", "values": ["1", "2"]},
            [(".values", "operator Gt needs exactly one integer value (64-bit), quoted")],
        ),
        (
            {"key": "k", "operator": "Lt", "values": ["x"]},
            [(".values", "operator Lt needs exactly one integer value (64-bit), quoted")],
        ),
        (
            {"key": "k", "operator": "Lt"},
            [(".values", "operator Lt needs exactly one integer value (64-bit), quoted")],
        ),
        (
            {"key": "bad key", "operator": "Is"},
            [
                (".key", "expected a node label key, got 'bad key'"),
                (".operator", "expected one of In, NotIn, Exists, DoesNotExist, Gt, Lt; got 'Is'"),
            ],
        ),
    ],
)
def test_each_bad_expression_field_is_reported(expr: Any, expected: list[tuple[str, str]]) -> None:
    good = {"key": "example.com/zone", "operator": "In", "values": ["a"]}
    last = {"key": "example.com/last", "operator": "Exists"}
    spec, results = parse_spot({"matchExpressions": [good, expr, last]})
    assert results == [err(f"{P}.matchExpressions[1]{where}", message) for where, message in expected]
    assert spec.match_expressions == (good, last)


def test_match_expressions_must_be_a_list() -> None:
    assert findings({"matchExpressions": {"key": "k"}}) == [
        err(f"{P}.matchExpressions", "expected a list of node selector requirements, got a mapping")
    ]


@pytest.mark.parametrize(
    ("expr", "kept"),
    [
        ({"key": "k", "operator": "Exists"}, {"key": "k", "operator": "Exists"}),
        ({"key": "k", "operator": "Exists", "values": []}, {"key": "k", "operator": "Exists"}),
        ({"key": "k", "operator": "Gt", "values": ["-3"]}, {"key": "k", "operator": "Gt", "values": ["-3"]}),
        ({"key": "k", "operator": "Lt", "values": ["+3"]}, {"key": "k", "operator": "Lt", "values": ["+3"]}),
        (
            {"key": "k", "operator": "NotIn", "values": ["a", "b"]},
            {"key": "k", "operator": "NotIn", "values": ["a", "b"]},
        ),
    ],
)
def test_valid_expressions_are_kept_in_canonical_form(expr: dict[str, Any], kept: dict[str, Any]) -> None:
    spec, results = parse_spot({"matchExpressions": [expr]})
    assert results == []
    assert spec.match_expressions == (kept,)


# --- label keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "k",
        "a" * 63,
        "example.com/k",
        "a.b-c.d/x_y.z",
        f"{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 61}/k",
        "K8S",
    ],
)
def test_label_keys_accepted(key: str) -> None:
    assert findings({"poolLabel": key}) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a" * 64,
        "/k",
        "example.com/",
        "Example.com/k",
        "-example.com/k",
        f"{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 62}/k",  # prefix of 254
        "a/b/c",
        "k-",
        "_k",
        "k k",
    ],
)
def test_label_keys_refused(key: str) -> None:
    assert findings({"poolLabel": key}) == [
        err(f"{P}.poolLabel", f"expected a node label key such as `example.com/pool`, got {key!r}")
    ]


@pytest.mark.parametrize(
    ("pool", "ok"), [("a" * 63, True), ("a" * 64, False), ("p.o-o_l", True), ("-p", False)]
)
def test_pool_names_are_label_values(pool: str, ok: bool) -> None:
    expected = (
        [] if ok else [err(f"{P}.nodePools.cpu", f"expected a node pool name (a label value), got {pool!r}")]
    )
    assert findings({"nodePools": {"cpu": pool}}) == expected


# --- gracefulStop -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "raw", "expected"),
    [
        ("gke", True, GracefulStop(15)),
        ("eks", True, GracefulStop(90)),
        ("karpenter", True, GracefulStop(90)),
        ("aks", True, GracefulStop(25)),
        ("gke", {}, GracefulStop(15)),
        ("gke", False, None),
        ("eks", {"terminationGracePeriodSeconds": 120}, GracefulStop(120)),
        ("eks", {"terminationGracePeriodSeconds": 1}, GracefulStop(1)),
        ("eks", {"noticeSeconds": 300}, GracefulStop(300, None, 300)),
        ("eks", {"noticeSeconds": 300, "terminationGracePeriodSeconds": 200}, GracefulStop(200, None, 300)),
        ("gke", {"preStop": ["ray", "stop"]}, GracefulStop(15, ("ray", "stop"))),
        ("custom", {"terminationGracePeriodSeconds": 40}, GracefulStop(40)),
    ],
)
def test_graceful_stop_gives_the_providers_share_of_the_notice(
    provider: str, raw: Any, expected: GracefulStop | None
) -> None:
    extra = {"matchExpressions": [{"key": "k", "operator": "Exists"}]} if provider == "custom" else {}
    spec, results = parse_spot({"provider": provider, "gracefulStop": raw, **extra})
    assert results == []
    assert spec.graceful_stop == expected


G = f"{P}.gracefulStop"


@pytest.mark.parametrize(
    ("provider", "raw", "expected"),
    [
        ("gke", "yes", [(G, "expected true, false or a mapping with the grace period; got a string")]),
        (
            "gke",
            {"seconds": 5},
            [
                (
                    f"{G}.seconds",
                    "unknown field 'seconds'; expected terminationGracePeriodSeconds, preStop, noticeSeconds",
                )
            ],
        ),
        (
            "gke",
            {"noticeSeconds": 0},
            [(f"{G}.noticeSeconds", "expected a positive number of seconds, got 0")],
        ),
        (
            "gke",
            {"noticeSeconds": True},
            [(f"{G}.noticeSeconds", "expected a positive number of seconds, got True")],
        ),
        (
            "custom",
            True,
            [
                (
                    f"{G}.terminationGracePeriodSeconds",
                    "provider 'custom' has no known preemption notice: give the seconds",
                )
            ],
        ),
        (
            "gke",
            {"terminationGracePeriodSeconds": 0},
            [(f"{G}.terminationGracePeriodSeconds", "expected a positive number of seconds, got 0")],
        ),
        (
            "gke",
            {"terminationGracePeriodSeconds": "10"},
            [(f"{G}.terminationGracePeriodSeconds", "expected a positive number of seconds, got '10'")],
        ),
        (
            "eks",
            {"terminationGracePeriodSeconds": 121},
            [
                (
                    f"{G}.terminationGracePeriodSeconds",
                    "121 s is longer than the 120 s a eks Spot node gets before it is reclaimed; use at most "
                    "120 (or set noticeSeconds if the nodes allow more)",
                )
            ],
        ),
        (
            "eks",
            {"noticeSeconds": 60, "terminationGracePeriodSeconds": 61},
            [
                (
                    f"{G}.terminationGracePeriodSeconds",
                    "61 s is longer than the 60 s a eks Spot node gets before it is reclaimed; use at most "
                    "60 (or set noticeSeconds if the nodes allow more)",
                )
            ],
        ),
        (
            "gke",
            {"preStop": []},
            [(f"{G}.preStop", "expected a command as a non-empty list of strings, e.g. [ray, stop]")],
        ),
        (
            "gke",
            {"preStop": "ray stop"},
            [(f"{G}.preStop", "expected a command as a non-empty list of strings, e.g. [ray, stop]")],
        ),
        (
            "gke",
            {"preStop": ["ray", ""]},
            [(f"{G}.preStop", "expected a command as a non-empty list of strings, e.g. [ray, stop]")],
        ),
        (
            "gke",
            {"preStop": ["ray", 1]},
            [(f"{G}.preStop", "expected a command as a non-empty list of strings, e.g. [ray, stop]")],
        ),
    ],
)
def test_bad_graceful_stop_is_one_finding(provider: str, raw: Any, expected: list[tuple[str, str]]) -> None:
    spec, results = parse_spot({"provider": provider, "gracefulStop": raw})
    errors = [r for r in results if r.field.startswith(G)]
    assert errors == [err(field, message) for field, message in expected]
    assert spec.graceful_stop is None


@pytest.mark.parametrize(("seconds", "warned"), [(15, False), (16, True), (30, True)])
def test_gke_warns_past_the_ordinary_pods_share(seconds: int, warned: bool) -> None:
    spec, results = parse_spot({"gracefulStop": {"terminationGracePeriodSeconds": seconds}})
    message = (
        f"{seconds} s: graceful node shutdown on gke gives ordinary pods only 15 s of the 30 s notice "
        "unless the node pool's shutdown grace period was raised (then set noticeSeconds)"
    )
    assert results == ([err(f"{G}.terminationGracePeriodSeconds", message, "warning")] if warned else [])
    assert spec.graceful_stop == GracefulStop(seconds)


def test_a_raised_notice_silences_the_share_warning() -> None:
    spec, results = parse_spot({"gracefulStop": {"noticeSeconds": 60, "terminationGracePeriodSeconds": 40}})
    assert results == []
    assert spec.graceful_stop == GracefulStop(40, None, 60)


# --- the other settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"color": 1},
            [
                (
                    f"{P}.color",
                    "unknown field 'color'; expected one of: provider, mode, nodePools, taintKey, poolLabel, matchExpressions, tolerations, groups, gracefulStop, marketTypeLabel",
                )
            ],
        ),
        (
            {"provider": "gce"},
            [(f"{P}.provider", "expected one of gke, eks, karpenter, aks, custom, none; got 'gce'")],
        ),
        ({"mode": "soft"}, [(f"{P}.mode", "expected one of required, preferred; got 'soft'")]),
        (
            {"taintKey": 5},
            [(f"{P}.taintKey", "expected a taint key such as `dedicated` or '' for none, got 5")],
        ),
        (
            {"taintKey": "bad key"},
            [(f"{P}.taintKey", "expected a taint key such as `dedicated` or '' for none, got 'bad key'")],
        ),
        (
            {"poolLabel": 5},
            [(f"{P}.poolLabel", "expected a node label key such as `example.com/pool`, got 5")],
        ),
        (
            {"nodePools": ["cpu"]},
            [(f"{P}.nodePools", "expected a mapping of worker group name to node pool, got a list")],
        ),
        (
            {"nodePools": {"-cpu": "p"}},
            [(f"{P}.nodePools.-cpu", "expected a worker group name (a label value), got '-cpu'")],
        ),
        (
            {"nodePools": {"cpu": 5}},
            [(f"{P}.nodePools.cpu", "expected a node pool name (a label value), got 5")],
        ),
        (
            {"nodePools": {"cpu": ""}},
            [(f"{P}.nodePools.cpu", "expected a node pool name (a label value), got ''")],
        ),
        (
            {"provider": "custom", "nodePools": {"cpu": "p"}},
            [(f"{P}.poolLabel", "provider 'custom' has no node pool label: set poolLabel to use nodePools")],
        ),
        ({"groups": "cpu"}, [(f"{P}.groups", "expected a list of worker group names, got a string")]),
        ({"groups": ["cpu", 5]}, [(f"{P}.groups[1]", "expected a worker group name (a label value), got 5")]),
        ({"groups": ["cpu", "cpu"]}, [(f"{P}.groups[1]", "worker group 'cpu' is listed twice")]),
        ({"marketTypeLabel": "yes"}, [(f"{P}.marketTypeLabel", "expected true or false, got 'yes'")]),
        (
            {"marketTypeLabel": True, "mode": "preferred"},
            [
                (
                    f"{P}.marketTypeLabel",
                    "needs mode: required (with preferred placement a worker may run on on-demand nodes)",
                )
            ],
        ),
        (
            {"provider": "custom"},
            [
                (
                    P,
                    "provider custom needs matchExpressions (or nodePools with poolLabel): without them nothing pins workers to Spot",
                )
            ],
        ),
        (
            {
                "matchExpressions": [
                    {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]}
                ]
            },
            [
                (
                    f"{P}.matchExpressions[0]",
                    "requirements on 'cloud.google.com/gke-spot' contradict each other: `cloud.google.com/gke-spot In [true]` and `cloud.google.com/gke-spot NotIn [true]`; no node matches",
                )
            ],
        ),
        (
            {
                "matchExpressions": [
                    {"key": "zone", "operator": "Exists"},
                    {"key": "cloud.google.com/gke-spot", "operator": "DoesNotExist"},
                ]
            },
            [
                (
                    f"{P}.matchExpressions[1]",
                    "requirements on 'cloud.google.com/gke-spot' contradict each other: `cloud.google.com/gke-spot In [true]` and `cloud.google.com/gke-spot DoesNotExist`; no node matches",
                )
            ],
        ),
        (
            {
                "nodePools": {"cpu": "a"},
                "matchExpressions": [
                    {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["b"]}
                ],
            },
            [
                (
                    f"{P}.nodePools.cpu",
                    "pool 'a' contradicts the other requirements on 'cloud.google.com/gke-nodepool': `cloud.google.com/gke-nodepool In [a]` and `cloud.google.com/gke-nodepool In [b]`; no node matches",
                )
            ],
        ),
    ],
)
def test_each_bad_setting_is_one_finding(raw: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert findings(raw) == [err(field, message) for field, message in expected]


def test_a_pool_for_a_group_outside_groups_is_a_warning() -> None:
    spec, results = parse_spot({"groups": ["gpu"], "nodePools": {"cpu": "a", "gpu": "b"}})
    assert results == [
        err(
            f"{P}.nodePools.cpu",
            f"worker group 'cpu' is not in {P}.groups: this pool is never used",
            "warning",
        )
    ]
    assert (spec.groups, dict(spec.node_pools)) == (("gpu",), {"cpu": "a", "gpu": "b"})


def test_the_settings_and_their_defaults() -> None:
    spec, results = parse_spot(
        {
            "provider": "custom",
            "mode": "preferred",
            "poolLabel": "example.com/pool",
            "nodePools": {"cpu": "a"},
            "taintKey": "",
            "groups": ["cpu"],
        },
        "x.spot",
    )
    assert results == []
    assert (spec.provider, spec.mode, spec.pool_label, spec.taint_key, spec.groups) == (
        "custom",
        "preferred",
        "example.com/pool",
        "",
        ("cpu",),
    )
    assert parse_spot({"taintKey": None})[0].taint_key == ""
    default, results = parse_spot({})
    assert results == []
    assert (default.provider, default.mode, default.taint_key, default.pool_label, default.groups) == (
        "gke",
        "required",
        "dedicated",
        None,
        None,
    )
    assert (default.market_type_label, default.graceful_stop, dict(default.node_pools)) == (False, None, {})
    assert (
        findings(
            {"bad": 1},
        )
        != []
        and parse_spot({"bad": 1}, "x")[1][0].field == "x.bad"
    )


@pytest.mark.parametrize(
    "tol",
    [
        {"key": "k", "value": "v", "when": 1, "effect": "X"},
        {"key": "bad key", "operator": "In"},
        {"key": "k", "value": 5, "effect": "X"},
        {"key": "k", "operator": "Exists", "value": "v", "effect": "X"},
        {"value": "v", "effect": "X"},
        {"key": "k", "operator": "Exists", "tolerationSeconds": "3", "effect": "X"},
        {"key": "k", "operator": "Exists", "tolerationSeconds": 3, "effect": "NoSchedule", "when": 1},
    ],
)
def test_a_toleration_with_two_problems_is_refused(tol: dict[str, Any]) -> None:
    spec, results = parse_spot({"tolerations": [tol]})
    assert len(results) == 2 and all(r.is_error for r in results)
    assert spec.tolerations == ()


def test_is_spot_requirement() -> None:
    from krm_fn.spot import is_spot_requirement

    assert is_spot_requirement({"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]})
    assert is_spot_requirement(
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "spot"]}
    )
    for other in (
        "x",
        None,
        {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]},
        {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true", "false"]},
        {"key": "cloud.google.com/gke-spot", "operator": "In", "values": []},
        {"key": "cloud.google.com/gke-spot", "operator": "In", "values": "true"},
        {"key": "example.com/spot", "operator": "In", "values": ["true"]},
    ):
        assert not is_spot_requirement(other), other
