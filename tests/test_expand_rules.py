"""The expansion's rules one at a time, each pinned by what a user sees: the items and findings.

Lists (kubectl's `v1/List`), the front end's roles, kinds of unknown scope, and what a tenant's
patch may not break. Every expected value is written out by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import parse_config
from krm_fn.expand import Roles, expand
from krm_fn.results import ResourceRef, Result
from tests.conftest import DEFAULT_ISOLATION
from tests.test_expand import config, ray_cluster, virtual_service

LABELS = {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "a"}
CONFIG_REF = ResourceRef("fn.ray-tenants.dev/v1alpha1", "RayTenants", "t")
POOL = {"cpu": "pool-a"}


def isolation(tenant: str) -> list[tuple[str, str | None]]:
    """What a tenant with a Ray workload gets beside its copies, by default."""
    return [(kind, tenant) for kind, _ in DEFAULT_ISOLATION]


def a_list(*objects: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(objects)}


def without_isolation(items: list[Any]) -> list[Any]:
    """The items less each tenant's isolation objects (`ray-tenant-*`, pinned by tests/isolation)."""
    return [i for i in items if not str((i.get("metadata") or {}).get("name", "")).startswith("ray-tenant-")]


def kinds_and_namespaces(items: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(i.get("kind"), (i.get("metadata") or {}).get("namespace")) for i in items]


def pinned_to(pool: str) -> dict[str, Any]:
    """The pod spec of a worker group with no placement of its own, after GKE Spot placement."""
    return {
        "containers": [],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]},
                                {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": [pool]},
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [
            {
                "key": "cloud.google.com/gke-spot",
                "operator": "Equal",
                "value": "true",
                "effect": "NoSchedule",
            },
            {"key": "dedicated", "operator": "Equal", "value": pool, "effect": "NoSchedule"},
        ],
    }


def worker_pod(obj: dict[str, Any]) -> Any:
    return obj["spec"]["workerGroupSpecs"][0]["template"]["spec"]


def on_demand(name: str = "ray") -> dict[str, Any]:
    """A RayCluster whose worker group insists on on-demand nodes: Spot placement must refuse it."""
    obj = ray_cluster(name)
    worker_pod(obj)["nodeSelector"] = {"cloud.google.com/gke-spot": "false"}
    return obj


CONTRADICTION = (
    "worker group 'cpu': nodeSelector cloud.google.com/gke-spot=false contradicts the Spot "
    "requirement `cloud.google.com/gke-spot In [true]`: no node could ever match"
)
SELECTOR_FIELD = "spec.workerGroupSpecs[0].template.spec.nodeSelector"


# --- v1/List ------------------------------------------------------------------------------------


def test_a_list_in_a_stream_is_its_objects_each_copied_per_tenant() -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}
    out = expand([a_list(ray_cluster(), virtual_service()), role], config("a", "b"))
    assert out.results == []
    assert kinds_and_namespaces(out.items) == [
        ("ClusterRole", None),
        ("Namespace", None),
        ("RayCluster", "a"),
        ("VirtualService", "a"),
        *isolation("a"),
        ("Namespace", None),
        ("RayCluster", "b"),
        ("VirtualService", "b"),
        *isolation("b"),
    ]
    vs = out.items[3]
    assert vs["spec"]["http"][1]["route"] == [
        {"destination": {"host": "ray-head-svc.a.svc.cluster.local", "port": {"number": 8265}}}
    ]


def test_findings_about_a_list_member_name_the_lists_file() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    out = expand(
        [ray_cluster(), a_list(virtual_service(), widget)], config("a"), sources=["a.yaml", "l.yaml"]
    )
    assert [(r.message.split(":")[0], r.file, r.field) for r in out.results] == [
        ("Widget/w", "l.yaml", "kind")
    ]


def test_a_list_member_that_is_not_an_object_or_is_a_list_is_refused_with_the_input_kept() -> None:
    inner = a_list()
    items: list[Any] = [ray_cluster(), a_list(virtual_service(), "text", inner)]
    out = expand(items, config("a"), sources=["a.yaml", "l.yaml"])
    assert out.results == [
        Result("items[1].items[1]: expected a Kubernetes object (a mapping), got a string", file="l.yaml"),
        Result(
            "items[1].items[2]: a List inside a List; make its objects items of the outer one",
            resource=ResourceRef("v1", "List", ""),
            file="l.yaml",
        ),
    ]
    assert out.items == items


def test_a_list_member_with_broken_metadata_is_refused() -> None:
    broken = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": "x"}}
    out = expand([a_list(ray_cluster(), broken)], config("a"), sources=["l.yaml"])
    assert out.results == [
        Result(
            "items[0].items[1]: metadata.annotations must be a mapping",
            resource=ResourceRef("v1", "ConfigMap", "c"),
            field="metadata.annotations",
            file="l.yaml",
        )
    ]


def test_without_tenants_a_kept_list_has_its_workloads_pinned_where_they_are() -> None:
    refused = on_demand("refused")
    refused["metadata"]["annotations"] = {"config.kubernetes.io/index": "1"}
    kept = a_list(ray_cluster(), refused)
    out = expand(
        [kept], config(spot={"nodePools": POOL}), sources=["l.yaml"], roles=Roles(frozenset(), {}, True)
    )
    assert out.results == [
        Result(
            CONTRADICTION,
            resource=ResourceRef("ray.io/v1", "RayCluster", "refused"),
            field=SELECTOR_FIELD,
            file="l.yaml",
            index=1,
        )
    ]
    assert [i["kind"] for i in out.items] == ["List"]
    pinned, untouched = out.items[0]["items"]
    assert worker_pod(pinned) == pinned_to("pool-a")
    assert worker_pod(untouched) == {"containers": [], "nodeSelector": {"cloud.google.com/gke-spot": "false"}}
    assert worker_pod(kept["items"][0]) == {"containers": []}, "the input was changed"


def test_without_tenants_a_finding_names_the_file_and_index_of_the_workload() -> None:
    refused = on_demand()
    refused["metadata"]["annotations"] = {"config.kubernetes.io/index": "3"}
    out = expand([virtual_service(), refused], config(spot={"nodePools": POOL}), sources=["v.yaml", "r.yaml"])
    assert [(r.file, r.index, r.field) for r in out.results] == [("r.yaml", 3, SELECTOR_FIELD)]


# --- roles --------------------------------------------------------------------------------------


def test_roles_drop_owned_items_report_passed_ones_and_keep_the_bases() -> None:
    old_copy = ray_cluster("old")
    old_copy["metadata"].update(namespace="a", labels=LABELS)
    here = virtual_service()
    elsewhere = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "far"}}
    quiet = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "quiet"}}
    placement = Result("ConfigMap/far is outside the package's bases", severity="warning")
    earlier = Result("a finding of the front end", severity="warning")
    base = ray_cluster()
    roles = Roles(frozenset({id(old_copy)}), {id(elsewhere): placement, id(quiet): None}, True, (earlier,))
    out = expand([old_copy, base, elsewhere, quiet, here], config("a"), roles=roles)
    assert out.results == [earlier, placement]
    # the bases stay in place, nothing the front end passed is copied, the owned item is gone
    assert out.items[:4] == [base, elsewhere, quiet, here]
    assert kinds_and_namespaces(out.items[4:]) == [
        ("Namespace", None),
        ("RayCluster", "a"),
        ("VirtualService", "a"),
        *isolation("a"),
    ]


def test_roles_without_bases_staying_replace_the_bases_with_copies() -> None:
    out = expand([ray_cluster()], config("a"), roles=Roles(frozenset(), {}, False))
    assert kinds_and_namespaces(out.items) == [("Namespace", None), ("RayCluster", "a"), *isolation("a")]


def test_a_configmap_function_config_among_the_items_is_neither_copied_nor_dropped() -> None:
    fn_config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "fn"},
        "data": {"tenants": "a"},
    }
    out = expand([ray_cluster(), fn_config], parse_config(fn_config), fn_config)
    assert out.results == []
    assert kinds_and_namespaces(out.items) == [
        ("ConfigMap", None),
        ("Namespace", None),
        ("RayCluster", "a"),
        *isolation("a"),
    ]


# --- kinds of unknown scope ---------------------------------------------------------------------


def test_an_unknown_core_kind_is_a_typo() -> None:
    typo = {"apiVersion": "v1", "kind": "ConfigMapp", "metadata": {"name": "c"}}
    out = expand([typo], config("a"), sources=["c.yaml"])
    assert out.results == [
        Result(
            "ConfigMapp/c: the core group has no kind 'ConfigMapp'",
            resource=ResourceRef("v1", "ConfigMapp", "c"),
            field="kind",
            file="c.yaml",
        )
    ]


def test_an_undeclared_custom_kind_names_the_two_ways_to_declare_it() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    out = expand([widget], config("a"), sources=["w.yaml"])
    assert out.results == [
        Result(
            "Widget/w: the function does not know whether example.com/v1 Widget is namespaced (copied "
            "into each tenant) or cluster-scoped (passed through); add its CustomResourceDefinition to "
            "the inputs, or declare it in the tenant spec: spec.kindScopes: {example.com/Widget: Namespaced} "
            "(or Cluster)",
            resource=ResourceRef("example.com/v1", "Widget", "w"),
            field="kind",
            file="w.yaml",
        )
    ]


# --- what a tenant's patch may not break --------------------------------------------------------


def patched(base: dict[str, Any], *ops: dict[str, Any], extra: Any = None) -> Any:
    """The expansion of `base` (and `extra`) for tenant a, whose one patch applies `ops` to `base`."""
    cfg = parse_config(
        {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": {
                "tenants": [
                    {
                        "name": "a",
                        "patches": [
                            {
                                "target": {"kind": base["kind"], "name": base["metadata"]["name"]},
                                "patch": list(ops),
                            }
                        ],
                    }
                ]
            },
        }
    )
    return expand([base, *([extra] if extra else [])], cfg)


def patch_error(message: str) -> Result:
    return Result(message, resource=CONFIG_REF, field="spec.tenants[0].patches[0].patch")


@pytest.mark.parametrize(
    ("op", "problem"),
    [
        (
            {"op": "replace", "path": "", "value": ["x"]},
            "the result is a list, not a Kubernetes object (a mapping)",
        ),
        ({"op": "replace", "path": "/apiVersion", "value": 5}, "apiVersion is a number; expected a string"),
        ({"op": "replace", "path": "/kind", "value": ""}, "kind is a string; expected a string"),
        ({"op": "remove", "path": "/kind"}, "kind is nothing; expected a string"),
        ({"op": "remove", "path": "/metadata"}, "the patch removed metadata"),
        ({"op": "replace", "path": "/metadata", "value": "m"}, "metadata is a string; expected a mapping"),
        (
            {"op": "replace", "path": "/metadata/name", "value": 7},
            "metadata.name is a number; expected a string",
        ),
        (
            {"op": "replace", "path": "/metadata/name", "value": ""},
            "metadata.name is a string; expected a string",
        ),
        (
            {"op": "add", "path": "/metadata/labels", "value": ["x"]},
            "metadata.labels is a list; expected a mapping",
        ),
        (
            {"op": "add", "path": "/metadata/annotations", "value": 1},
            "metadata.annotations is a number; expected a mapping",
        ),
        (
            {"op": "replace", "path": "/spec/workerGroupSpecs", "value": "x"},
            "spec.workerGroupSpecs: expected a list of worker groups, got a string",
        ),
    ],
)
def test_a_patch_that_breaks_what_the_copy_is_built_from_is_refused(op: dict[str, Any], problem: str) -> None:
    out = patched(ray_cluster(), op)
    assert out.results == [patch_error(f"patch for RayCluster/ray of tenant 'a': {problem}")]


def test_a_patch_may_keep_what_the_base_already_had_wrong_but_not_add_to_it() -> None:
    base = ray_cluster()
    base["spec"]["workerGroupSpecs"].append("not a group")
    harmless = patched(base, {"op": "replace", "path": "/spec/workerGroupSpecs/0/maxReplicas", "value": 3})
    # the base's own problem is the Spot engine's to report, not blamed on the patch
    assert [r.field for r in harmless.results] == ["spec.workerGroupSpecs[1]"]
    worse = patched(base, {"op": "replace", "path": "/spec/workerGroupSpecs/0/template", "value": 1})
    assert worse.results == [
        patch_error(
            "patch for RayCluster/ray of tenant 'a': spec.workerGroupSpecs[0].template: "
            "expected a pod template (a mapping), got a number"
        )
    ]


def test_a_patch_that_makes_a_routed_spec_unreadable_is_refused() -> None:
    out = patched(virtual_service(), {"op": "replace", "path": "/spec", "value": "s"}, extra=ray_cluster())
    assert out.results == [
        patch_error("patch for VirtualService/dash of tenant 'a': spec is a string; expected a mapping")
    ]
    # no spec at all is readable: the route has nothing to go on, and says so; the patch's own
    # findings say it removed the http rules the function writes and the route's gateway
    bare = patched(virtual_service(), {"op": "remove", "path": "/spec"}, extra=ray_cluster())
    patch = (CONFIG_REF, "spec.tenants[0].patches[0].patch")
    assert [(r.resource, r.field) for r in bare.results] == [
        patch,
        patch,
        (ResourceRef("networking.istio.io/v1", "VirtualService", "dash", "a"), "spec.hosts"),
        (ResourceRef("networking.istio.io/v1", "VirtualService", "dash", "a"), "spec.gateways"),
    ]
    assert [r.message.split(": ")[1] for r in bare.results[:2]] == ["spec.http", "spec.gateways"]


def test_a_patch_that_does_not_apply_is_an_error_on_the_tenants_patch() -> None:
    out = patched(ray_cluster(), {"op": "remove", "path": "/spec/nope"})
    # the op that failed, and what the base holds where it looked
    assert out.results == [
        patch_error(
            "patch for RayCluster/ray of tenant 'a' does not apply: remove failed at /spec/nope: "
            "/spec has no field 'nope' (it has 'headGroupSpec', 'workerGroupSpecs')"
        )._replace(field="spec.tenants[0].patches[0].patch[0]")
    ]


def test_a_patch_cannot_rename_a_copy_and_a_name_too_long_for_kuberay_is_the_bases() -> None:
    limit = "is 60 characters; KubeRay allows at most 53"
    renamed = patched(ray_cluster(), {"op": "replace", "path": "/metadata/name", "value": "x" * 60})
    assert renamed.results == [
        patch_error(
            f"patch for RayCluster/ray of tenant 'a': metadata.name: changed from 'ray' to {'x' * 60!r}; "
            "a tenant's copy keeps its base's name, in the tenant's namespace (a patch cannot rename or move it)"
        )
    ]
    long_base = expand([ray_cluster("y" * 60)], config("a"))
    assert long_base.results == [
        Result(
            f"RayCluster name {'y' * 60!r} {limit}",
            resource=ResourceRef("ray.io/v1", "RayCluster", "y" * 60),
            field="metadata.name",
        )
    ]


SPEC_WITH_WARNINGS = {
    "apiVersion": "fn.ray-tenants.dev/v1alpha1",
    "kind": "RayTenants",
    "metadata": {"name": "t", "annotations": {"config.kubernetes.io/path": "tenants.yaml"}},
    "spec": {
        "tenants": [
            {
                "name": "a",
                "namespaceLabels": {"team": "ml"},
                "patches": [
                    {"target": {"kind": "Secret", "name": "s"}, "patch": [{"op": "remove", "path": "/x"}]}
                ],
            }
        ],
        "spot": {"groups": ["cpu"], "nodePools": {"cpu": "p", "gpu": "q"}},
    },
}


def test_the_specs_warnings_come_first_then_every_finding_of_the_expansion() -> None:
    out = expand([ray_cluster(), virtual_service()], parse_config(SPEC_WITH_WARNINGS), SPEC_WITH_WARNINGS)
    pool = "spec.spot.nodePools.gpu"
    # every finding about the spec names its file, known from its kpt annotation
    assert out.results == [
        Result(
            "worker group 'gpu' is not in spec.spot.groups: this pool is never used",
            "warning",
            CONFIG_REF,
            pool,
            "tenants.yaml",
        ),
        Result(
            "target Secret/s matches no base object (bases: RayCluster/ray, VirtualService/dash)",
            resource=CONFIG_REF,
            field="spec.tenants[0].patches[0].target",
            file="tenants.yaml",
        ),
        Result(
            "no worker group is named 'gpu'; this pool is never used (worker groups: 'cpu')",
            "warning",
            CONFIG_REF,
            pool,
            "tenants.yaml",
        ),
    ]
    assert out.items[0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "a", "labels": {"team": "ml", **LABELS}},
    }


def test_without_bases_a_patch_target_says_there_are_none() -> None:
    out = expand([], parse_config(SPEC_WITH_WARNINGS), SPEC_WITH_WARNINGS)
    assert [r.message for r in out.results if r.is_error] == [
        "target Secret/s matches no base object (bases: none)"
    ]


def test_a_named_object_without_api_version_or_kind_is_a_broken_manifest() -> None:
    items: list[Any] = [
        {"kind": "ConfigMap", "metadata": {"name": "c"}},
        {"apiVersion": "v1", "kind": 5, "metadata": {"name": "c"}},
        {"metadata": {"name": "c"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "m"},
        {"apiVersion": "v1", "kind": "ConfigMap"},  # nothing to name: not the function's business
        {"apiVersion": "", "metadata": "m"},
    ]
    out = expand(items, config("a"), sources=["a.yaml", "", "c.yaml", "d.yaml"])
    assert out.results == [
        Result(
            "items[0]: missing apiVersion",
            resource=ResourceRef("", "ConfigMap", "c"),
            field="apiVersion",
            file="a.yaml",
        ),
        Result("items[1]: missing kind", resource=ResourceRef("v1", "", "c"), field="kind"),
        Result(
            "items[2]: missing apiVersion and kind",
            resource=ResourceRef("", "", "c"),
            field="apiVersion",
            file="c.yaml",
        ),
        Result(
            "items[3]: metadata must be a mapping",
            resource=ResourceRef("v1", "ConfigMap", ""),
            field="metadata",
            file="d.yaml",
        ),
    ]
    assert out.items == items


def test_an_items_file_is_the_callers_source_else_its_kpt_annotation() -> None:
    def widget(name: str, path: str = "") -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if path:
            meta["annotations"] = {"config.kubernetes.io/path": path}
        return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta}

    items = [widget("a", "kpt-a.yaml"), widget("b", "kpt-b.yaml"), widget("c"), widget("d", "kpt-d.yaml")]
    out = expand(items, config("t"), sources=["given-a.yaml", "", "given-c.yaml"])
    assert [r.file for r in out.results] == ["given-a.yaml", "kpt-b.yaml", "given-c.yaml", "kpt-d.yaml"]


# --- output: overlays ----------------------------------------------------------------------------


BASE_KUSTOMIZATION = {
    "apiVersion": "kustomize.config.k8s.io/v1beta1",
    "kind": "Kustomization",
    "resources": ["rc.yaml"],
}


def test_overlays_give_each_tenant_a_namespace_and_a_kustomization_patching_the_bases() -> None:
    out = expand(
        [BASE_KUSTOMIZATION, ray_cluster()],
        config("a", output="overlays", spot={"nodePools": POOL}),
        sources=["base/kustomization.yaml", "base/rc.yaml"],
    )
    assert out.results == []
    assert [(i["kind"], (i.get("metadata") or {}).get("name")) for i in without_isolation(out.items)] == [
        ("Kustomization", None),
        ("Namespace", "a"),
        ("Kustomization", "a"),
    ]
    kustomization = without_isolation(out.items)[2]
    # its own files (the Namespace, the isolation objects) and the base folder
    resources = kustomization["resources"]
    assert (resources[0], resources[-1]) == ("namespace.yaml", "../../base")
    assert [p["target"] for p in kustomization["patches"]] == [
        {"group": "ray.io", "version": "v1", "kind": "RayCluster", "name": "ray"}
    ]
    # the front end places every generated item in the tenant's folder
    assert {out.generated[id(i)] for i in out.items[1:]} == {"a"}
    assert id(out.items[0]) not in out.generated


def test_overlays_are_not_computed_from_a_copy_that_failed_and_the_finding_names_the_base_file() -> None:
    out = expand(
        [BASE_KUSTOMIZATION, on_demand()],
        config("a", output="overlays", spot={"nodePools": POOL}),
        sources=["base/kustomization.yaml", "base/rc.yaml"],
    )
    assert out.results == [
        Result(
            CONTRADICTION,
            resource=ResourceRef("ray.io/v1", "RayCluster", "ray", "a"),
            field=SELECTOR_FIELD,
            file="base/rc.yaml",
        )
    ]
    assert [i["kind"] for i in without_isolation(out.items)] == ["Kustomization", "Namespace"]


def test_overlays_give_a_base_folder_without_a_kustomization_one() -> None:
    out = expand([ray_cluster()], config("a", output="overlays"), sources=["base/rc.yaml"])
    assert out.results == []
    names = [(i["kind"], (i.get("metadata") or {}).get("name")) for i in without_isolation(out.items)]
    assert names == [("Kustomization", "base"), ("Namespace", "a"), ("Kustomization", "a")]


def test_an_item_that_is_not_an_object_has_no_file_unless_the_caller_names_one() -> None:
    out = expand([ray_cluster(), "text"], config("a"))
    assert out.results == [Result("items[1]: expected a Kubernetes object (a mapping), got a string")]
    named = expand([ray_cluster(), "text"], config("a"), sources=["", "t.yaml"])
    assert [r.file for r in named.results] == ["t.yaml"]


def test_a_kept_list_holds_bases_the_tenants_get_copies_of() -> None:
    kept = a_list(ray_cluster(), virtual_service())
    out = expand([kept], config("a", spot={"nodePools": {"cpu": "p"}}), roles=Roles(frozenset(), {}, True))
    assert out.results == []
    assert out.items[0] is kept
    assert kinds_and_namespaces(out.items) == [
        ("List", None),
        ("Namespace", None),
        ("RayCluster", "a"),
        ("VirtualService", "a"),
        *isolation("a"),
    ]
    assert worker_pod(out.items[2]) == pinned_to("p")


UNUSED_POOL = Result(
    "no worker group is named 'gpu'; this pool is never used (worker groups: 'cpu')",
    "warning",
    CONFIG_REF,
    "spec.spot.nodePools.gpu",
)


@pytest.mark.parametrize("tenants", [(), ("a",)])
def test_a_pool_for_a_group_no_workload_has_is_a_warning(tenants: tuple[str, ...]) -> None:
    out = expand([ray_cluster()], config(*tenants, spot={"nodePools": {"gpu": "q"}}))
    assert out.results == [UNUSED_POOL]
    kept = expand(
        [a_list(ray_cluster())],
        config(*tenants, spot={"nodePools": {"gpu": "q"}}),
        roles=Roles(frozenset(), {}, True),
    )
    assert kept.results == [UNUSED_POOL]


@pytest.mark.parametrize("tenants", [(), ("a",)])
def test_without_ray_workloads_the_pools_are_not_judged(tenants: tuple[str, ...]) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert expand([cm], config(*tenants, spot={"nodePools": {"gpu": "q"}})).results == []


MOVED = (
    "; a tenant's copy keeps its base's name, in the tenant's namespace (a patch cannot rename or move it)"
)


def test_a_patch_cannot_move_a_copy_to_another_namespace() -> None:
    added = patched(ray_cluster(), {"op": "add", "path": "/metadata/namespace", "value": "other"})
    assert added.results == [
        patch_error(f"patch for RayCluster/ray of tenant 'a': metadata.namespace: changed to 'other'{MOVED}")
    ]
    base = ray_cluster()
    base["metadata"]["namespace"] = "base-ns"
    moved = patched(base, {"op": "replace", "path": "/metadata/namespace", "value": "x"})
    assert moved.results == [
        patch_error(
            f"patch for RayCluster/ray of tenant 'a': metadata.namespace: changed from 'base-ns' to 'x'{MOVED}"
        )
    ]


@pytest.mark.parametrize("output", ["resources", "overlays"])
def test_prefixes_that_differ_in_case_overlap_where_the_base_route_ignores_case(output: str) -> None:
    vs = virtual_service()
    vs["spec"]["http"][0]["match"] = [{"ignoreUriCase": True, "uri": {"prefix": "/old/"}}]
    listing = {**BASE_KUSTOMIZATION, "resources": ["rc.yaml", "vs.yaml"]}
    cfg = parse_config(
        {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": {
                "output": output,
                "tenants": [{"name": "a", "pathPrefix": "/Team/"}, {"name": "b", "pathPrefix": "/team/"}],
            },
        }
    )
    out = expand(
        [listing, ray_cluster(), vs], cfg, sources=["base/kustomization.yaml", "base/rc.yaml", "base/vs.yaml"]
    )
    assert out.results == [
        Result(
            "the route of tenant 'b': prefix '/team/' is the same as (ignoring case) '/Team/' of "
            "VirtualService/a/dash on host 'ray.example.com' and gateway 'asm-ingress/gw': Istio merges them "
            "in an undefined order",
            resource=CONFIG_REF,
            field="spec.tenants[1].pathPrefix",
        )
    ]
