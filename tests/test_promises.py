"""The README's critical promises, each with a direct test.

- Tenant patches are applied before routing and Spot placement: a worker group a patch adds is
  pinned, a patch cannot take placement away, and one that would take routing away is an error.
- On any error `kpt fn render` writes nothing: not for a bad name only, also for a Spot
  contradiction and for a patch that does not apply, and not after an earlier good render.
- The ConfigMap form (`kpt fn eval -- k=v`) honours `output=overlays` and `taintKey`.

Whether a pod may run on a node is decided by the small matcher below (NodeSelectorTerms ORed,
expressions ANDed, a nodeSelector also required), never by the engine's own helpers.
"""

from __future__ import annotations

import copy
import io
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import krm
from tests.conftest import REPO, kptfile, require_tool, run

REQ = "requiredDuringSchedulingIgnoredDuringExecution"
SPOT = {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NoSchedule"}


# --- an independent node matcher -----------------------------------------------------------


def expression_holds(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], list(expr.get("values") or [])
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if key not in labels or not labels[key].lstrip("-").isdigit():
        return False
    return int(labels[key]) > int(values[0]) if op == "Gt" else int(labels[key]) < int(values[0])


def schedulable(
    pod: Mapping[str, Any], labels: Mapping[str, str], taints: Sequence[Mapping[str, str]]
) -> bool:
    """Whether the scheduler may place `pod` on a node with these labels and NoSchedule taints."""
    if any(labels.get(k) != v for k, v in (pod.get("nodeSelector") or {}).items()):
        return False
    terms = (((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(REQ) or {}).get("nodeSelectorTerms")
    if terms and not any(
        t.get("matchExpressions") and all(expression_holds(e, labels) for e in t["matchExpressions"])
        for t in terms
    ):
        return False
    return all(any(tolerates(t, taint) for t in pod.get("tolerations") or []) for taint in taints)


def tolerates(tol: Mapping[str, Any], taint: Mapping[str, str]) -> bool:
    if tol.get("effect") and tol["effect"] != taint["effect"]:
        return False
    if tol.get("operator") == "Exists":
        return not tol.get("key") or tol["key"] == taint["key"]
    return bool(tol.get("key") == taint["key"] and tol.get("value", "") == taint["value"])


def spot_node(pool: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A tainted GKE Spot node of `pool` (Autopilot style: the Spot taint and the pool's)."""
    labels = {"cloud.google.com/gke-spot": "true", "cloud.google.com/gke-nodepool": pool}
    return labels, [SPOT_TAINT, {"key": "dedicated", "value": pool, "effect": "NoSchedule"}]


def on_demand_node(pool: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """An untainted on-demand node of `pool`: a worker that may land here is not pinned."""
    return {"cloud.google.com/gke-nodepool": pool}, []


# --- the function in-process ---------------------------------------------------------------


def bases(kpt: bool = False) -> list[dict[str, Any]]:
    out = []
    for name in ("raycluster.yaml", "virtualservice.yaml"):
        obj = yaml.safe_load((REPO / "base" / name).read_text())
        if kpt:
            obj["metadata"]["annotations"] = {"config.kubernetes.io/path": f"base/{name}"}
        out.append(obj)
    return out


def spec(tenants: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "tenants", "annotations": {"config.kubernetes.io/local-config": "true"}},
        "spec": {
            "tenants": tenants,
            "routing": {"hosts": ["ray.example.com"], "gateways": ["asm-ingress/gw"]},
            "spot": {"provider": "gke", "nodePools": {"cpu": "spot-cpu", "gpu": "spot-gpu"}},
            **extra,
        },
    }


def call(items: list[dict[str, Any]], config: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    rl = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": config,
    }
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(yaml.safe_dump(rl, sort_keys=False).encode()), out, err)
    return code, yaml.safe_load(out.getvalue()), err.getvalue()


def copy_of(out: dict[str, Any], kind: str, tenant: str) -> dict[str, Any]:
    found = [i for i in out["items"] if i["kind"] == kind and i["metadata"].get("namespace") == tenant]
    assert len(found) == 1, [(i["kind"], i["metadata"]) for i in out["items"]]
    obj: dict[str, Any] = found[0]
    return obj


HIGHMEM = {
    "groupName": "highmem",
    "replicas": 0,
    "minReplicas": 0,
    "maxReplicas": 2,
    "rayStartParams": {},
    "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}},
}


def patched(ops: list[dict[str, Any]], kind: str = "RayCluster", name: str = "raycluster") -> dict[str, Any]:
    return {"name": "team", "patches": [{"target": {"kind": kind, "name": name}, "patch": ops}]}


# --- patches before placement ----------------------------------------------------------------


def test_a_worker_group_added_by_a_patch_is_pinned_to_spot() -> None:
    config = spec([patched([{"op": "add", "path": "/spec/workerGroupSpecs/-", "value": HIGHMEM}])])
    config["spec"]["spot"]["nodePools"]["highmem"] = "spot-highmem"
    code, out, stderr = call(bases(), config)
    assert code == 0, stderr
    groups = {g["groupName"]: g for g in copy_of(out, "RayCluster", "team")["spec"]["workerGroupSpecs"]}
    assert list(groups) == ["cpu", "gpu", "highmem"]
    for name, group in groups.items():
        pod = group["template"]["spec"]
        pool = f"spot-{name}"
        assert schedulable(pod, *spot_node(pool)), name
        assert not schedulable(pod, *on_demand_node(pool)), f"{name} may run on on-demand nodes"
        assert not schedulable(pod, *spot_node("spot-other")), f"{name} may run outside its pool"


def test_a_patch_cannot_take_placement_away() -> None:
    ops: list[dict[str, Any]] = [
        # an own required term that would admit on-demand nodes, and no tolerations at all
        {
            "op": "add",
            "path": "/spec/workerGroupSpecs/0/template/spec/affinity",
            "value": {
                "nodeAffinity": {
                    REQ: {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
                                ]
                            }
                        ]
                    }
                }
            },
        },
        {"op": "add", "path": "/spec/workerGroupSpecs/0/template/spec/tolerations", "value": []},
    ]
    code, out, stderr = call(bases(), spec([patched(ops)]))
    assert code == 0, stderr
    pod = copy_of(out, "RayCluster", "team")["spec"]["workerGroupSpecs"][0]["template"]["spec"]
    spot, spot_taints = spot_node("spot-cpu")
    assert schedulable(pod, {**spot, "topology.kubernetes.io/zone": "a"}, spot_taints)
    assert not schedulable(
        pod, {**spot, "topology.kubernetes.io/zone": "b"}, spot_taints
    )  # the patch's own term
    demand, _ = on_demand_node("spot-cpu")
    assert not schedulable(pod, {**demand, "topology.kubernetes.io/zone": "a"}, [])


def test_a_patch_cannot_take_routing_away() -> None:
    """A patch that would route elsewhere is refused, naming the patch; the items come back unchanged."""
    catch_all = [{"route": [{"destination": {"host": "elsewhere.example.com", "port": {"number": 80}}}]}]
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/spec/http", "value": catch_all},
        {"op": "replace", "path": "/spec/hosts", "value": ["*"]},
    ]
    items = bases()
    code, out, stderr = call(items, spec([patched(ops, "VirtualService", "ray-dashboard")]))
    assert code == 1
    assert out["items"] == items
    where = "spec.tenants[0].patches[0].patch"
    errors = [(r["field"]["path"], r["message"]) for r in out["results"] if r["severity"] == "error"]
    assert [field for field, _ in errors] == [where, where]
    assert [m.split(": ", 2)[1] for _, m in errors] == ["spec.http", "spec.hosts"]
    assert all(m.startswith("patch for VirtualService/ray-dashboard of tenant 'team': ") for _, m in errors)
    assert "this change would be lost" in stderr


# --- the ConfigMap form ----------------------------------------------------------------------


def configmap(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"}, "data": data}


def test_configmap_output_overlays_gives_kustomizations_not_copies() -> None:
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "metadata": {"annotations": {"config.kubernetes.io/path": "base/kustomization.yaml"}},
        "resources": ["raycluster.yaml", "virtualservice.yaml"],
    }
    code, out, stderr = call(
        [*bases(kpt=True), kustomization],
        configmap(tenants="team,lab", output="overlays", hosts="ray.example.com", gateways="asm/gw"),
    )
    assert code == 0, stderr
    generated = {
        i["metadata"]["annotations"]["config.kubernetes.io/path"]: i
        for i in out["items"]
        if i["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "ray-tenants"
    }
    for tenant in ("team", "lab"):
        kust = generated[f"overlays/{tenant}/kustomization.yaml"]
        assert kust["kind"] == "Kustomization"
        assert kust["namespace"] == tenant
    # no tenant copies of the bases: the overlays patch them instead
    assert not [i for i in out["items"] if i["kind"] == "RayCluster" and i["metadata"].get("namespace")]


@pytest.mark.parametrize(("taint_key", "expected"), [("pool", "pool"), ("", None), (None, "dedicated")])
def test_configmap_taint_key_names_the_pool_toleration(taint_key: str | None, expected: str | None) -> None:
    data = {"tenants": "team", "nodePools": "cpu=spot-cpu", "hosts": "ray.example.com", "gateways": "asm/gw"}
    if taint_key is not None:
        data["taintKey"] = taint_key
    code, out, stderr = call(bases(), configmap(**data))
    assert code == 0, stderr
    pod = copy_of(out, "RayCluster", "team")["spec"]["workerGroupSpecs"][0]["template"]["spec"]
    pool_tolerations = [t for t in pod["tolerations"] if t.get("value") == "spot-cpu"]
    if expected is None:
        assert pool_tolerations == []
    else:
        assert pool_tolerations == [
            {"key": expected, "operator": "Equal", "value": "spot-cpu", "effect": "NoSchedule"}
        ]
        labels, _ = spot_node("spot-cpu")
        assert schedulable(
            pod, labels, [SPOT_TAINT, {"key": expected, "value": "spot-cpu", "effect": "NoSchedule"}]
        )


# --- kpt fn render writes nothing on any error ------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def spot_contradiction(pkg: Path) -> None:
    """The cpu workers say they must run on on-demand nodes, which Spot placement contradicts."""
    path = pkg / "base" / "raycluster.yaml"
    obj = yaml.safe_load(path.read_text())
    obj["spec"]["workerGroupSpecs"][0]["template"]["spec"]["nodeSelector"] = {
        "cloud.google.com/gke-spot": "false"
    }
    path.write_text(yaml.safe_dump(obj, sort_keys=False))


def failed_patch(pkg: Path) -> None:
    """A tenant patch whose `test` op does not hold on the base."""
    path = pkg / "tenants.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["tenants"][0]["patches"] = [
        {
            "target": {"kind": "RayCluster", "name": "raycluster"},
            "patch": [{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "not-cpu"}],
        }
    ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def missing_patch_target(pkg: Path) -> None:
    path = pkg / "tenants.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["tenants"][0]["patches"] = [
        {"target": {"kind": "RayCluster", "name": "absent"}, "patch": [{"op": "remove", "path": "/spec"}]}
    ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


BREAKAGES = {
    "spot-contradiction": (spot_contradiction, "contradicts"),
    "failed-patch": (failed_patch, "spec.tenants[0].patches[0]"),
    "missing-patch-target": (missing_patch_target, "spec.tenants[0].patches[0]"),
}


@pytest.fixture
def package(tmp_path: Path, fn_exec: Path) -> Path:
    require_tool("kpt", "kpt's own render is what must write nothing")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg / "base")
    shutil.copy(REPO / "overlays" / "tenants.yaml", pkg / "tenants.yaml")
    (pkg / "Kptfile").write_text(kptfile(fn_exec))
    return pkg


@pytest.mark.parametrize("after_a_good_render", [False, True], ids=["fresh", "after-render"])
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_kpt_render_writes_nothing_on_any_error(
    package: Path, breakage: str, after_a_good_render: bool
) -> None:
    if after_a_good_render:
        good = run(["kpt", "fn", "render", "--allow-exec", package])
        assert good.returncode == 0, good.stderr.decode()
        assert (package / "overlays" / "mlops" / "raycluster_raycluster.yaml").is_file()
    breaker, fragment = BREAKAGES[breakage]
    breaker(package)
    before = tree(package)
    result = run(["kpt", "fn", "render", "--allow-exec", package])
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert fragment in stderr, stderr
    after = tree(package)
    assert sorted(after) == sorted(before), "files appeared or were deleted"
    for path, content in before.items():
        assert after[path] == content, f"{path} changed"


def test_the_breakages_break_only_what_they_say(tmp_path: Path) -> None:
    """Each breakage alone is the error (in-process, so this holds without kpt too)."""
    for name, (breaker, fragment) in BREAKAGES.items():
        pkg = tmp_path / name
        shutil.copytree(REPO / "base", pkg / "base")
        shutil.copy(REPO / "overlays" / "tenants.yaml", pkg / "tenants.yaml")
        breaker(pkg)
        items = [
            yaml.safe_load((pkg / "base" / f).read_text()) for f in ("raycluster.yaml", "virtualservice.yaml")
        ]
        code, out, stderr = call(copy.deepcopy(items), yaml.safe_load((pkg / "tenants.yaml").read_text()))
        assert code == 1 and fragment in stderr, (name, stderr)
        assert out["items"] == items, name


# --- a warning is not a failure ----------------------------------------------------------------


def test_a_spec_with_only_warnings_still_expands() -> None:
    config = spec([{"name": "team"}])
    config["spec"]["spot"]["gracefulStop"] = {"terminationGracePeriodSeconds": 20}
    code, out, stderr = call(bases(), config)
    assert code == 0, stderr
    assert "warning" in stderr
    pod = copy_of(out, "RayCluster", "team")["spec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 20
