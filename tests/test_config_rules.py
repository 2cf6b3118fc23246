"""Tenant spec rules not pinned elsewhere: `spec.kindScopes` and where `spec.outputDir` points.

Each finding is written out whole; a declared scope is shown by what the expansion does with
an object of that kind.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import parse_config
from krm_fn.expand import expand
from krm_fn.results import FnError, ResourceRef, Result

REF = ResourceRef("fn.ray-tenants.dev/v1alpha1", "RayTenants", "t")


def spec(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "t"},
        "spec": fields,
    }


def errors(**fields: Any) -> list[Result]:
    with pytest.raises(FnError) as raised:
        parse_config(spec(**fields))
    return list(raised.value.results)


def test_declared_kind_scopes_decide_what_is_copied_per_tenant() -> None:
    config = parse_config(
        spec(
            tenants=[{"name": "a"}, {"name": "b"}],
            kindScopes={"kueue.x-k8s.io/LocalQueue": "Namespaced", "example.com/Pool": "Cluster"},
        )
    )
    assert config.kind_scopes == {("kueue.x-k8s.io", "LocalQueue"): True, ("example.com", "Pool"): False}
    queue = {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue", "metadata": {"name": "q"}}
    pool = {"apiVersion": "example.com/v1", "kind": "Pool", "metadata": {"name": "p"}}
    out = expand([queue, pool], config)
    assert out.results == []
    assert [(i["kind"], i["metadata"].get("namespace")) for i in out.items] == [
        ("Pool", None),
        ("Namespace", None),
        ("LocalQueue", "a"),
        ("Namespace", None),
        ("LocalQueue", "b"),
    ]


KEY = "expected a key of the form group/Kind (e.g. kueue.x-k8s.io/LocalQueue), got "


@pytest.mark.parametrize(
    ("key", "shown"),
    [("LocalQueue", "'LocalQueue'"), ("a/b/C", "'a/b/C'"), ("/K", "'/K'"), ("g/", "'g/'"), (5, "5")],
)
def test_a_kind_scope_key_is_group_slash_kind(key: Any, shown: str) -> None:
    assert errors(kindScopes={key: "Namespaced"}) == [
        Result(KEY + shown, resource=REF, field=f"spec.kindScopes.{key}")
    ]


@pytest.mark.parametrize(
    ("scope", "shown"), [("namespaced", "'namespaced'"), (5, "a number"), (None, "nothing")]
)
def test_a_kind_scope_is_namespaced_or_cluster(scope: Any, shown: str) -> None:
    assert errors(kindScopes={"x.io/K": scope}) == [
        Result(f"expected Namespaced or Cluster, got {shown}", resource=REF, field="spec.kindScopes.x.io/K")
    ]


def test_kind_scopes_are_a_mapping() -> None:
    assert errors(kindScopes=["x.io/K"]) == [
        Result(
            "expected a mapping of group/Kind to Namespaced or Cluster, got a list",
            resource=REF,
            field="spec.kindScopes",
        )
    ]


def test_every_bad_kind_scope_is_reported_and_the_good_ones_are_not() -> None:
    found = errors(kindScopes={"a.io/A": "Cluster", "B": "Cluster", "c.io/C": "Both"})
    assert [r.field for r in found] == ["spec.kindScopes.B", "spec.kindScopes.c.io/C"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [("base/", "base"), ("./x", "x"), ("a/b/", "a/b"), (".", "."), ("./", "."), ("out", "out")],
)
def test_the_output_folder_is_kept_relative_and_plain(given: str, kept: str) -> None:
    assert parse_config(spec(outputDir=given)).output_dir == kept


def test_without_an_output_folder_the_overlays_go_to_overlays() -> None:
    assert parse_config(spec()).output_dir == "overlays"


@pytest.mark.parametrize("given", ["/abs", "../up", "a/../../b", "", "  "])
def test_an_output_folder_outside_the_package_is_refused(given: str) -> None:
    assert errors(outputDir=given) == [
        Result(
            f"expected a relative folder inside the package, got {given!r}",
            resource=REF,
            field="spec.outputDir",
        )
    ]
