"""The overlay patch builder's rules, pure and in memory: which base folders can be referenced, the
tenant's kustomization, and the operations of each patch, all written out by hand.

Every list of operations is also applied with jsonpatch to show it gives the copy: the builder's
own check is not the oracle.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest

from krm_fn.config import Tenant
from krm_fn.overlays import patches
from krm_fn.overlays.patches import Base, check_bases, folder_of, kustomization, patch_ops, target_of
from krm_fn.results import ResourceRef, Result

RC = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "ray"}, "spec": {"x": 1}}
RC_REF = ResourceRef("ray.io/v1", "RayCluster", "ray")
KUST_REF = ResourceRef("kustomize.config.k8s.io/v1beta1", "Kustomization", "")


def kust(file: str = "base/kustomization.yaml", **fields: Any) -> Base:
    obj = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}
    return Base(obj, file)


def ops_for(base: dict[str, Any], copy: dict[str, Any]) -> list[dict[str, Any]]:
    """The builder's operations, checked by applying them with jsonpatch."""
    ops = patch_ops(base, copy)
    assert jsonpatch.apply_patch(base, ops) == copy
    return ops


def thing(spec: Any, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x", **meta}, "spec": spec}


# --- base folders --------------------------------------------------------------------------------


@pytest.mark.parametrize("file", ["", "-"])
def test_a_base_without_a_file_cannot_be_referenced(file: str) -> None:
    assert check_bases([Base(RC, file)], [], "overlays") == [
        Result(
            "output: overlays references each base by its file, and this one came without "
            "(stdin, or a kustomize build): run kpt fn render, or ray-tenants render on files",
            resource=RC_REF,
        )
    ]


@pytest.mark.parametrize(
    ("file", "output_dir", "folder"),
    [("rc.yaml", "overlays", "."), ("base/rc.yaml", "base", "base"), ("base/rc.yaml", "base/out", "base")],
)
def test_the_output_folder_may_not_be_inside_a_base_folder(file: str, output_dir: str, folder: str) -> None:
    listed = kust(f"{folder}/kustomization.yaml", resources=["rc.yaml"])
    assert check_bases([Base(RC, file)], [listed], output_dir) == [
        Result(
            f"the output folder {output_dir!r} is inside the base folder {folder!r}: kustomize refuses an "
            "overlay inside the folder it builds; move the bases to a folder of their own (e.g. base/)",
            resource=RC_REF,
            file=file,
        )
    ]


def test_a_base_folder_needs_a_kustomization_listing_its_files() -> None:
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "d"}}
    bases = [Base(RC, "base/rc.yaml"), Base(vs, "base/vs.yaml"), Base(RC, "base/rc.yaml")]
    # a kustomization elsewhere, or a file that is no kustomization, does not count
    others = [kust("other/kustomization.yaml", resources=["rc.yaml"]), kust("base/kust.yaml")]
    assert check_bases(bases, others, "based") == [
        Result(
            "base/ has no kustomization.yaml: the overlays reference the folder, and kustomize builds a "
            "folder only through its kustomization; add base/kustomization.yaml with:\n"
            "resources:\n  - rc.yaml\n  - vs.yaml",
            resource=RC_REF,
            file="base/rc.yaml",
        )
    ]


@pytest.mark.parametrize("name", ["kustomization.yaml", "kustomization.yml", "Kustomization"])
def test_any_of_kustomizes_file_names_is_the_folders_kustomization(name: str) -> None:
    listed = kust(f"base/./{name}", resources=["./rc.yaml"])
    assert check_bases([Base(RC, "base/rc.yaml")], [listed], "overlays") == []


def test_the_base_kustomization_lists_exactly_the_base_files_and_nothing_else() -> None:
    listed = kust(resources=["rc.yaml", "other.yaml"], namePrefix="x-", metadata={"name": "k"})
    bases = [Base(RC, "base/rc.yaml"), Base(RC, "base/vs.yaml")]
    ref = ResourceRef("kustomize.config.k8s.io/v1beta1", "Kustomization", "k")
    file = "base/kustomization.yaml"
    assert check_bases(bases, [listed], "overlays") == [
        Result(
            "a base kustomization may only list the base files; 'namePrefix' would change the bases "
            "under the overlays' patches (put it in the tenant spec's patches instead)",
            resource=ref,
            field="namePrefix",
            file=file,
        ),
        Result(
            "lists 'other.yaml', which holds no base object among the inputs; the overlays are computed "
            "from the inputs only, so every tenant would get it unpatched",
            resource=ref,
            field="resources[1]",
            file=file,
        ),
        Result(
            "does not list 'vs.yaml', which holds base objects: add it to resources",
            resource=ref,
            field="resources",
            file=file,
        ),
    ]


@pytest.mark.parametrize("resources", ["rc.yaml", ["rc.yaml", 5]])
def test_base_kustomization_resources_must_be_file_names(resources: Any) -> None:
    listed = kust(resources=resources, labels=[])
    assert check_bases([Base(RC, "base/rc.yaml")], [listed], "overlays") == [
        Result(
            "a base kustomization may only list the base files; 'labels' would change the bases under "
            "the overlays' patches (put it in the tenant spec's patches instead)",
            resource=KUST_REF,
            field="labels",
            file="base/kustomization.yaml",
        ),
        Result(
            "expected a list of file names",
            resource=KUST_REF,
            field="resources",
            file="base/kustomization.yaml",
        ),
    ]


def test_every_base_folder_is_checked_in_order() -> None:
    bases = [Base(RC, "z/rc.yaml"), Base(RC, "a/rc.yaml")]
    found = check_bases(bases, [kust("a/kustomization.yaml")], "overlays")
    assert [(r.field, r.file) for r in found] == [("resources", "a/kustomization.yaml"), ("", "z/rc.yaml")]


# --- the tenant's kustomization ------------------------------------------------------------------


def test_the_tenants_kustomization_patches_the_bases_into_its_copies() -> None:
    copy = {**RC, "spec": {"x": 2}}
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "d"}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    pairs = [
        (Base(RC, "base/rc.yaml"), copy),
        (Base(vs, "base/vs.yaml"), vs),
        (Base(cm, "more/cm.yaml"), {**cm, "data": {}}),
    ]
    labels = {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "team"}
    assert kustomization(Tenant("team", "/team/"), pairs, "out/tenants") == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "metadata": {
            "name": "team",
            "labels": labels,
            "annotations": {"config.kubernetes.io/local-config": "true"},
        },
        "namespace": "team",
        "labels": [{"pairs": labels}],
        "resources": ["namespace.yaml", "../../../base", "../../../more"],
        "patches": [
            {
                "target": {"group": "ray.io", "version": "v1", "kind": "RayCluster", "name": "ray"},
                "patch": "- op: replace\n  path: /spec/x\n  value: 2\n",
            },
            {
                "target": {"version": "v1", "kind": "ConfigMap", "name": "c"},
                "patch": "- op: add\n  path: /data\n  value: {}\n",
            },
        ],
    }


def test_a_tenant_whose_copies_equal_the_bases_has_no_patches() -> None:
    out = kustomization(Tenant("team", "/team/"), [(Base(RC, "rc.yaml"), RC)], "overlays")
    assert "patches" not in out
    assert out["resources"] == ["namespace.yaml", "../.."]


@pytest.mark.parametrize(
    ("file", "folder"),
    [("base/rc.yaml", "base"), ("rc.yaml", "."), ("./base/../rc.yaml", "."), ("a/b/./c.yaml", "a/b")],
)
def test_folder_of(file: str, folder: str) -> None:
    assert folder_of(file) == folder


def test_target_of_an_object_without_an_api_version() -> None:
    assert target_of({"kind": "Thing", "metadata": {"name": "x"}}) == {
        "version": "",
        "kind": "Thing",
        "name": "x",
    }


# --- operations ------------------------------------------------------------------------------


def test_removed_added_and_changed_members_with_escaped_keys() -> None:
    base = thing({"gone": 1, "a/b": {"c~d": 1}, "same": [1]})
    copy = thing({"a/b": {"c~d": 2}, "same": [1], "new": {"n": 1}})
    assert ops_for(base, copy) == [
        {"op": "remove", "path": "/spec/gone"},
        {"op": "replace", "path": "/spec/a~1b/c~0d", "value": 2},
        {"op": "add", "path": "/spec/new", "value": {"n": 1}},
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (1, True, [{"op": "replace", "path": "/spec/v", "value": True}]),
        (True, 1, [{"op": "replace", "path": "/spec/v", "value": 1}]),
        (1, 1.0, [{"op": "replace", "path": "/spec/v", "value": 1.0}]),
        (0, False, [{"op": "replace", "path": "/spec/v", "value": False}]),
        ([1], [True], [{"op": "replace", "path": "/spec/v", "value": [True]}]),
        ({"a": 1}, {"a": 1.0}, [{"op": "replace", "path": "/spec/v/a", "value": 1.0}]),
        (
            {"a": 1},
            {"b": 1},
            [{"op": "remove", "path": "/spec/v/a"}, {"op": "add", "path": "/spec/v/b", "value": 1}],
        ),
    ],
)
def test_values_equal_in_python_but_not_in_json_are_replaced(old: Any, new: Any, expected: Any) -> None:
    ops = ops_for(thing({"v": old}), thing({"v": new}))
    assert ops == expected
    assert [type(op.get("value")) for op in ops] == [type(op.get("value")) for op in expected]


def test_a_scalar_becoming_a_mapping_is_replaced_whole() -> None:
    assert ops_for(thing({"v": "text"}), thing({"v": {"a": 1}})) == [
        {"op": "replace", "path": "/spec/v", "value": {"a": 1}}
    ]


def test_named_entries_removed_kept_edited_and_appended() -> None:
    base = thing({"g": [{"name": "a", "n": 1}, {"name": "b", "n": 1}, {"name": "c", "n": 1}]})
    copy = thing({"g": [{"name": "a", "n": 1}, {"name": "c", "n": 2}, {"name": "d", "n": 1}]})
    assert ops_for(base, copy) == [
        {"op": "test", "path": "/spec/g/1/name", "value": "b"},
        {"op": "remove", "path": "/spec/g/1"},
        {"op": "test", "path": "/spec/g/1/name", "value": "c"},
        {"op": "replace", "path": "/spec/g/1/n", "value": 2},
        {"op": "add", "path": "/spec/g/-", "value": {"name": "d", "n": 1}},
    ]


def test_named_entries_inserted_in_the_middle_replace_the_list() -> None:
    base = thing({"g": [{"name": "a"}, {"name": "c"}]})
    copy = thing({"g": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert ops_for(base, copy) == [{"op": "replace", "path": "/spec/g", "value": copy["spec"]["g"]}]


def test_group_names_identify_worker_groups() -> None:
    base = thing({"g": [{"groupName": "cpu", "name": "same", "n": 1}, {"groupName": "gpu", "name": "same"}]})
    copy = thing({"g": [{"groupName": "cpu", "name": "same", "n": 2}, {"groupName": "gpu", "name": "same"}]})
    assert ops_for(base, copy) == [
        {"op": "test", "path": "/spec/g/0/groupName", "value": "cpu"},
        {"op": "replace", "path": "/spec/g/0/n", "value": 2},
    ]


@pytest.mark.parametrize(
    "entries",
    [
        [{"name": "a", "n": 1}, {"name": "a", "n": 1}],  # the same name twice names nothing
        [{"name": "a", "n": 1}, {"name": "", "n": 1}],
        [{"name": "a", "n": 1}, {"name": 5, "n": 1}],
        [{"name": "a", "n": 1}, {"n": 1}],
    ],
)
def test_entries_without_unique_names_are_guarded_whole(entries: list[dict[str, Any]]) -> None:
    edited = [dict(entries[0]), {**entries[1], "n": 2}]
    assert ops_for(thing({"g": entries}), thing({"g": edited})) == [
        {"op": "test", "path": "/spec/g/1", "value": entries[1]},
        {"op": "replace", "path": "/spec/g/1/n", "value": 2},
    ]


def test_a_name_duplicated_only_in_the_copy_is_no_identity() -> None:
    base = thing({"g": [{"name": "a"}, {"name": "b"}]})
    copy = thing({"g": [{"name": "a"}, {"name": "a"}]})
    assert ops_for(base, copy) == [
        {"op": "test", "path": "/spec/g/1", "value": {"name": "b"}},
        {"op": "replace", "path": "/spec/g/1/name", "value": "a"},
    ]


def test_lists_of_scalars_are_appended_to_or_replaced() -> None:
    assert ops_for(thing({"l": [1, 2]}), thing({"l": [1, 2, 3]})) == [
        {"op": "add", "path": "/spec/l/-", "value": 3}
    ]
    assert ops_for(thing({"l": [1, 2]}), thing({"l": [1]})) == [
        {"op": "replace", "path": "/spec/l", "value": [1]}
    ]
    assert ops_for(thing({"l": [1, 2]}), thing({"l": [1, 3]})) == [
        {"op": "replace", "path": "/spec/l", "value": [1, 3]}
    ]
    assert ops_for(thing({"l": []}), thing({"l": [{"name": "a"}]})) == [
        {"op": "add", "path": "/spec/l/-", "value": {"name": "a"}}
    ]


def test_mappings_at_one_index_are_edited_in_place_under_a_guard() -> None:
    base = thing({"l": [{"k": 1}, "s", {"k": 1}]})
    copy = thing({"l": [{"k": 2}, "s", {"k": 1, "j": 0}]})
    assert ops_for(base, copy) == [
        {"op": "test", "path": "/spec/l/0", "value": {"k": 1}},
        {"op": "replace", "path": "/spec/l/0/k", "value": 2},
        {"op": "test", "path": "/spec/l/2", "value": {"k": 1}},
        {"op": "add", "path": "/spec/l/2/j", "value": 0},
    ]


def test_the_namespace_and_ownership_labels_are_the_kustomizations_not_the_patches() -> None:
    marks = {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "t"}
    base = thing({}, namespace="base-ns", labels={"fn.ray-tenants.dev/tenant": "old", "keep": "1"})
    copy = thing({}, namespace="t", labels={**marks, "keep": "2"})
    assert patch_ops(base, copy) == [{"op": "replace", "path": "/metadata/labels/keep", "value": "2"}]
    bare = thing({})
    assert patch_ops(bare, thing({}, namespace="t", labels=marks)) == []
    empty_labels = thing({}, labels={})
    assert patch_ops(empty_labels, thing({}, namespace="t", labels=marks)) == []
    assert patch_ops(bare, thing({}, labels={**marks, "team": "x"})) == [
        {"op": "add", "path": "/metadata/labels", "value": {"team": "x"}}
    ]


def test_a_copy_without_metadata_is_patched_against_the_base_metadata() -> None:
    copy = {"apiVersion": "example.com/v1", "kind": "Thing", "spec": {}}
    assert patch_ops(thing({}), copy) == [{"op": "remove", "path": "/metadata/name"}]


def test_a_patch_the_builder_cannot_reproduce_names_the_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        patches, "_diff", lambda a, b, path, ops: ops.append({"op": "remove", "path": "/nope"})
    )
    with pytest.raises(patches.PatchMismatch) as raised:
        patch_ops(thing({"a": 1}), thing({"a": 2}))
    assert str(raised.value).startswith("the overlay patch for Thing/x does not reproduce the expansion: ")


def test_patch_text_is_block_yaml_in_operation_order() -> None:
    ops = [{"op": "add", "path": "/data/s", "value": "line 1\nline 2\n"}, {"op": "remove", "path": "/x"}]
    assert patches.dump_ops(ops) == (
        "- op: add\n  path: /data/s\n  value: |\n    line 1\n    line 2\n- op: remove\n  path: /x\n"
    )
    trailing = [{"op": "add", "path": "/data/s", "value": "a\nb\n"}]
    assert patches.dump_ops(trailing) == '- op: add\n  path: /data/s\n  value: "a\\nb\\n"\n'
    long = [{"op": "add", "path": "/data/s", "value": "ü " * 100}]
    assert patches.dump_ops(long) == f"- op: add\n  path: /data/s\n  value: '{'ü ' * 100}'\n"


def test_style_like_marks_only_multi_line_strings_as_blocks() -> None:
    node = patches.style_like({"a": ["x\ny", "z", 1]})
    ((key, seq),) = node.value
    assert (key.value, [(n.value, n.style) for n in seq.value]) == (
        "a",
        [("x\ny", "|"), ("", None), ("", None)],
    )
    assert [n.tag for n in seq.value] == [
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:null",
    ]


def test_every_base_and_every_folder_is_judged_not_only_the_first() -> None:
    other = {**RC, "metadata": {"name": "other"}}
    other_ref = ResourceRef("ray.io/v1", "RayCluster", "other")
    assert [r.resource for r in check_bases([Base(RC, ""), Base(other, "-")], [], "overlays")] == [
        RC_REF,
        other_ref,
    ]
    inside = check_bases([Base(RC, "rc.yaml"), Base(other, "z/rc.yaml")], [], "overlays")
    assert [(r.file, r.message.split(":")[0]) for r in inside] == [
        ("rc.yaml", "the output folder 'overlays' is inside the base folder '.'"),
        ("z/rc.yaml", "z/ has no kustomization.yaml"),
    ]
    missing = check_bases([Base(RC, "a/rc.yaml"), Base(other, "b/rc.yaml")], [], "overlays")
    assert [(r.file, r.message.split(":")[0]) for r in missing] == [
        ("a/rc.yaml", "a/ has no kustomization.yaml"),
        ("b/rc.yaml", "b/ has no kustomization.yaml"),
    ]


def test_a_list_whose_mapping_became_a_scalar_is_replaced_whole() -> None:
    assert ops_for(thing({"l": [{"k": 1}]}), thing({"l": ["s"]})) == [
        {"op": "replace", "path": "/spec/l", "value": ["s"]}
    ]
    assert ops_for(thing({"l": ["s"]}), thing({"l": [{"k": 1}]})) == [
        {"op": "replace", "path": "/spec/l", "value": [{"k": 1}]}
    ]


def test_a_copy_without_the_ownership_labels_keeps_its_own() -> None:
    assert ops_for(thing({}), thing({}, labels={"team": "x"})) == [
        {"op": "add", "path": "/metadata/labels", "value": {"team": "x"}}
    ]


def test_a_patch_that_applies_but_gives_something_else_says_so_without_an_error_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        patches, "_diff", lambda a, b, path, ops: ops.append({"op": "add", "path": "/x", "value": 1})
    )
    with pytest.raises(patches.PatchMismatch) as raised:
        patch_ops(thing({"a": 1}), thing({"a": 2}))
    assert str(raised.value) == "the overlay patch for Thing/x does not reproduce the expansion"
