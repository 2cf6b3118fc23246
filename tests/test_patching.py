"""A tenant's patch that does not apply: the message says what the base holds, in words."""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import parse_config
from krm_fn.expand import expand
from krm_fn.results import Result


def base(*groups: str) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "ray"},
        "spec": {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "head"}]}}},
            "workerGroupSpecs": [
                {"groupName": g, "maxReplicas": 2, "template": {"spec": {"containers": []}}} for g in groups
            ],
        },
    }


def patched(ops: list[dict[str, Any]], *groups: str) -> list[Result]:
    """The errors of expanding `base(*groups)` for one tenant whose patch is `ops`."""
    config = parse_config(
        {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": {
                "tenants": [
                    {
                        "name": "a",
                        "patches": [{"target": {"kind": "RayCluster", "name": "ray"}, "patch": ops}],
                    }
                ]
            },
        }
    )
    return [r for r in expand([base(*groups)], config).results if r.is_error]


PREFIX = "patch for RayCluster/ray of tenant 'a' does not apply: "


@pytest.mark.parametrize(
    ("ops", "groups", "message"),
    [
        (
            [{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "gpu"}],
            ("cpu",),
            'test failed at /spec/workerGroupSpecs/0/groupName: value is "cpu", the patch expects "gpu"',
        ),
        (
            [{"op": "test", "path": "/spec/workerGroupSpecs/0/maxReplicas", "value": "2"}],
            ("cpu",),
            'test failed at /spec/workerGroupSpecs/0/maxReplicas: value is 2, the patch expects "2"',
        ),
        (
            [{"op": "replace", "path": "/spec/workerGroupSpecs/1/maxReplicas", "value": 8}],
            ("small-group",),
            "replace failed at /spec/workerGroupSpecs/1/maxReplicas: the base has one worker group "
            "('small-group'), no index 1",
        ),
        (
            [{"op": "remove", "path": "/spec/workerGroupSpecs/2"}],
            ("cpu", "gpu"),
            "remove failed at /spec/workerGroupSpecs/2: the base has two worker groups ('cpu', 'gpu'), no index 2",
        ),
        (
            [{"op": "add", "path": "/spec/workerGroupSpec/-", "value": {}}],
            ("cpu",),
            "add failed at /spec/workerGroupSpec/-: /spec has no field 'workerGroupSpec'; did you mean "
            "'workerGroupSpecs'? (it has 'headGroupSpec', 'workerGroupSpecs')",
        ),
        (
            [{"op": "add", "path": "/spec/workerGroupSpecs/0/maxReplicas/x", "value": 1}],
            ("cpu",),
            "add failed at /spec/workerGroupSpecs/0/maxReplicas/x: /spec/workerGroupSpecs/0/maxReplicas "
            "is a number, not a mapping or a list",
        ),
    ],
)
def test_a_failed_op_says_what_the_base_holds(
    ops: list[dict[str, Any]], groups: tuple[str, ...], message: str
) -> None:
    assert [(r.message, r.field) for r in patched(ops, *groups)] == [
        (PREFIX + message, "spec.tenants[0].patches[0].patch[0]")
    ]


def test_the_failed_op_is_named_after_the_ops_that_applied() -> None:
    ops: list[dict[str, Any]] = [
        {
            "op": "add",
            "path": "/spec/workerGroupSpecs/-",
            "value": {"groupName": "gpu", "template": {"spec": {"containers": []}}},
        },
        {"op": "test", "path": "/spec/workerGroupSpecs/1/groupName", "value": "gpu"},
        {"op": "test", "path": "/spec/workerGroupSpecs/2/groupName", "value": "tpu"},
    ]
    (error,) = patched(ops, "cpu")
    assert error.field == "spec.tenants[0].patches[0].patch[2]"
    assert error.message == PREFIX + (
        "test failed at /spec/workerGroupSpecs/2/groupName: the base has two worker groups ('cpu', 'gpu'), "
        "no index 2"
    )
    assert patched(ops[:2], "cpu") == []
