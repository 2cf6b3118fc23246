"""The expansion, in memory: copies, routing, ownership, kpt placement, and what it leaves alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from krm_fn import expand as expand_module
from krm_fn.config import parse_config
from krm_fn.expand import expand
from krm_fn.package import expand_placed
from krm_fn.spot import SpotSpec


def ray_cluster(name: str = "ray", **head: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}, **head},
            "workerGroupSpecs": [
                {
                    "groupName": "cpu",
                    "minReplicas": 0,
                    "maxReplicas": 2,
                    "template": {"spec": {"containers": []}},
                }
            ],
        },
    }


def virtual_service(host: str = "ray-head-svc", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "dash"},
        "spec": {
            "hosts": ["ray.example.com"],
            "gateways": ["asm-ingress/gw"],
            "http": [{"route": [{"destination": {"host": host}}]}],
            **spec,
        },
    }


def config(*names: str, **fields: Any) -> Any:
    return parse_config(
        {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": {"tenants": [{"name": n} for n in names], **fields},
        }
    )


def by_key(items: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]): i for i in items}


def test_kustomize_mode_replaces_bases_and_keeps_everything_else() -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}
    local = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local", "annotations": {"config.kubernetes.io/local-config": "true"}},
    }
    unnamed = {"resources": ["a.yaml"]}
    out = expand([ray_cluster(), virtual_service(), role, local, unnamed], config("a", "b"))
    assert not out.failed, out.results
    assert [(i.get("kind"), i.get("metadata", {}).get("namespace")) for i in out.items] == [
        ("ClusterRole", None),
        ("ConfigMap", None),
        (None, None),
        *(
            (kind, namespace)
            for t in ("a", "b")
            for kind, namespace in (
                ("Namespace", None),
                ("RayCluster", t),
                ("VirtualService", t),
                # secure by default: token Secret readers, and the Ray pods closed to other namespaces
                ("Role", t),
                ("RoleBinding", t),
                ("NetworkPolicy", t),
                ("NetworkPolicy", t),
            )
        ),
    ]
    assert out.items[0] is role and out.items[1] is local and out.items[2] is unnamed


def test_inputs_are_never_mutated() -> None:
    items = [ray_cluster(), virtual_service()]
    snapshot = copy.deepcopy(items)
    out = expand(items, config("a", routing={"hosts": ["x.example.com"]}))
    assert not out.failed
    assert items == snapshot


def test_kustomize_bookkeeping_annotations_survive_on_copies() -> None:
    base = ray_cluster()
    notes = {
        "internal.config.kubernetes.io/previousNames": "ray",
        "internal.config.kubernetes.io/prefixes": "",
    }
    base["metadata"]["annotations"] = dict(notes)
    out = expand([base, virtual_service()], config("a"))
    assert by_key(out.items)[("RayCluster", "a", "ray")]["metadata"]["annotations"] == notes


def test_kpt_mode_keeps_bases_and_places_copies() -> None:
    base = ray_cluster()
    base["metadata"]["annotations"] = {
        "config.kubernetes.io/path": "base/ray.yaml",
        "internal.config.kubernetes.io/path": "base/ray.yaml",
        "config.kubernetes.io/index": "0",
        "internal.config.kubernetes.io/id": "7",
        "config.k8s.io/id": "7",
        "team": "platform",
    }
    out = expand_placed([base, virtual_service()], config("a", outputDir="gen"), kpt=True)
    assert not out.failed
    assert out.items[0] is base
    copy_ = by_key(out.items)[("RayCluster", "a", "ray")]
    assert copy_["metadata"]["annotations"] == {
        "team": "platform",
        "internal.config.kubernetes.io/path": "gen/a/raycluster_ray.yaml",
        "config.kubernetes.io/path": "gen/a/raycluster_ray.yaml",
        "internal.config.kubernetes.io/index": "0",
        "config.kubernetes.io/index": "0",
    }
    # the VirtualService base carried no path: kpt mode is per call, so it is placed too
    vs = by_key(out.items)[("VirtualService", "a", "dash")]
    assert vs["metadata"]["annotations"]["config.kubernetes.io/path"] == "gen/a/virtualservice_dash.yaml"


def test_previous_output_is_replaced_not_duplicated_and_removed_tenants_pruned() -> None:
    first = expand([ray_cluster(), virtual_service()], config("a", "b"))
    generated = [i for i in first.items if i["metadata"].get("labels", {}).get("fn.ray-tenants.dev/tenant")]
    again = expand([ray_cluster(), virtual_service(), *generated], config("a"))
    assert sorted(by_key(again.items)) == [
        ("Namespace", "", "a"),
        ("NetworkPolicy", "a", "ray-tenant-ray-head"),
        ("NetworkPolicy", "a", "ray-tenant-ray-pods"),
        ("RayCluster", "a", "ray"),
        ("Role", "a", "ray-tenant-token-reader"),
        ("RoleBinding", "a", "ray-tenant-token-reader"),
        ("VirtualService", "a", "dash"),
    ]


def test_head_service_port_and_domain_follow_the_base() -> None:
    base = ray_cluster(headService={"metadata": {"name": "custom"}})
    vs = virtual_service("custom.default.svc.cluster.local")
    vs["spec"]["http"][0]["route"][0]["destination"]["port"] = {"number": 9000}
    out = expand([base, vs], config("a", routing={"clusterDomain": "corp.example"}))
    dest = by_key(out.items)[("VirtualService", "a", "dash")]["spec"]["http"][1]["route"][0]["destination"]
    assert dest == {"host": "custom.a.svc.corp.example", "port": {"number": 9000}}


@pytest.mark.parametrize(
    ("workload", "service"),
    [
        ({"kind": "RayService", "spec": {"rayClusterConfig": {"headGroupSpec": {}}}}, "svc-head-svc"),
        ({"kind": "RayJob", "spec": {"rayClusterSpec": {"headGroupSpec": {}}}}, "svc-head-svc"),
    ],
)
def test_rayservice_and_rayjob_head_services(workload: dict[str, Any], service: str) -> None:
    obj = {"apiVersion": "ray.io/v1", "metadata": {"name": "svc"}, **workload}
    out = expand([obj, virtual_service("whatever")], config("a"))
    assert not out.failed, out.results
    dest = by_key(out.items)[("VirtualService", "a", "dash")]["spec"]["http"][1]["route"][0]["destination"]
    assert dest["host"] == f"{service}.a.svc.cluster.local"


def test_routing_overrides_hosts_and_gateways() -> None:
    out = expand(
        [ray_cluster(), virtual_service()],
        config("a", routing={"hosts": ["h"], "gateways": ["g/w"]}),
    )
    spec = by_key(out.items)[("VirtualService", "a", "dash")]["spec"]
    assert (spec["hosts"], spec["gateways"]) == (["h"], ["g/w"])


@pytest.mark.parametrize(
    ("vs", "field", "words"),
    [
        (virtual_service(hosts=[]), "spec.hosts", "no hosts"),
        (virtual_service(gateways=None), "spec.gateways", "no gateways"),
        (
            virtual_service(exportTo=["."]),
            "spec.exportTo",
            "hides this VirtualService from gateway 'asm-ingress/gw'",
        ),
        (
            virtual_service(http=[{"route": [{"destination": {"host": "a"}}]}, {"route": []}]),
            "spec.http",
            "found 2 HTTP routes",
        ),
    ],
)
def test_virtual_service_problems(vs: dict[str, Any], field: str, words: str) -> None:
    out = expand([ray_cluster(), vs], config("a"))
    assert out.failed
    assert any(r.field == field and words in r.message for r in out.results), out.results


def test_tenant_patch_applies_before_placement_and_only_to_its_tenant() -> None:
    cfg = parse_config(
        {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": {
                "tenants": [
                    {"name": "a"},
                    {
                        "name": "b",
                        "patches": [
                            {
                                "target": {"kind": "RayCluster", "name": "ray"},
                                "patch": [
                                    {
                                        "op": "replace",
                                        "path": "/spec/workerGroupSpecs/0/maxReplicas",
                                        "value": 9,
                                    }
                                ],
                            }
                        ],
                    },
                ]
            },
        }
    )
    out = expand([ray_cluster(), virtual_service()], cfg)
    items = by_key(out.items)
    assert items[("RayCluster", "a", "ray")]["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 2
    assert items[("RayCluster", "b", "ray")]["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 9


def test_spot_engine_called_per_ray_copy_unless_opted_out(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def fake(obj: dict[str, Any], spec: SpotSpec) -> tuple[dict[str, Any], list[Any]]:
        calls.append((obj["kind"], obj["metadata"].get("namespace", "")))
        return obj, []

    monkeypatch.setattr(expand_module, "apply_spot", fake)
    cfg = parse_config(
        {
            "apiVersion": "fn.ray-tenants.dev/v1alpha1",
            "kind": "RayTenants",
            "metadata": {"name": "t"},
            "spec": {"tenants": [{"name": "a"}, {"name": "b", "spot": False}]},
        }
    )
    expand([ray_cluster(), virtual_service()], cfg)
    assert calls == [("RayCluster", "a")]
    calls.clear()
    # no tenants: in place, for every Ray workload and nothing else
    expand([ray_cluster(), virtual_service()], config())
    assert calls == [("RayCluster", "")]
    calls.clear()
    expand([ray_cluster()], config(spot={"provider": "none"}))
    assert calls == []


def test_items_that_are_not_objects_fail_with_input_kept() -> None:
    items: list[Any] = [
        ray_cluster(),
        "text",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": ["a"]}},
    ]
    out = expand(items, config("a"))
    assert out.failed
    assert [r.message for r in out.results] == [
        "items[1]: expected a Kubernetes object (a mapping), got a string",
        "items[2]: metadata.labels must be a mapping",
    ]
    assert out.items == items


def test_spot_only_mode_passes_unnamed_objects_through() -> None:
    unnamed = ray_cluster()
    del unnamed["metadata"]["name"]
    out = expand([unnamed], config())
    assert not out.failed and out.items == [unnamed]
