"""A tenant's own Ray workloads pass through pinned with its placement, and the check judges them.

Whose a workload is: the tenant its `metadata.namespace` names, or, in a kpt package, the tenant
whose folder of the output folder holds its file. Such an object is never a base (copied into
every other tenant), and every worker group it has gets the tenant's Spot placement, unless that
tenant says `spot: false`.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from krm_fn import cli
from krm_fn.config import parse_config
from krm_fn.package import expand_placed
from tests.conftest import REPO

SPOT = {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}
SPOT_TAINT = {
    "key": "cloud.google.com/gke-spot",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
SPEC = {
    "apiVersion": "fn.ray-tenants.dev/v1alpha1",
    "kind": "RayTenants",
    "metadata": {"name": "tenants"},
    "spec": {"tenants": [{"name": "team-a"}, {"name": "team-b"}, {"name": "lab", "spot": False}]},
}


def ray_job(namespace: str | None = None, name: str = "train") -> dict[str, Any]:
    """A user's RayJob with a job cluster whose one worker group has no placement."""
    pod = {"containers": [{"name": "ray", "image": "rayproject/ray:2.41.0"}]}
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": meta,
        "spec": {
            "entrypoint": "python train.py",
            "rayClusterSpec": {
                "authOptions": {"mode": "token"},  # as the tenant spec asks by default (spec.access)
                "headGroupSpec": {"rayStartParams": {}, "template": {"spec": copy.deepcopy(pod)}},
                "workerGroupSpecs": [
                    {"groupName": "cpu", "rayStartParams": {}, "template": {"spec": copy.deepcopy(pod)}}
                ],
            },
        },
    }


def pinned(obj: dict[str, Any]) -> bool:
    """Every worker group requires GKE Spot in every required term and tolerates its taint."""
    for group in obj["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        pod = group["template"]["spec"]
        terms = (
            pod.get("affinity", {})
            .get("nodeAffinity", {})
            .get("requiredDuringSchedulingIgnoredDuringExecution", {})
            .get("nodeSelectorTerms", [])
        )
        if not terms or not all(SPOT in t.get("matchExpressions", []) for t in terms):
            return False
        if SPOT_TAINT not in pod.get("tolerations", []):
            return False
    return True


def bases() -> list[dict[str, Any]]:
    return [
        yaml.safe_load((REPO / "base" / f).read_text()) for f in ("raycluster.yaml", "virtualservice.yaml")
    ]


def jobs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in items if o.get("kind") == "RayJob"]


# ---------------------------------------------------------------------------------------------
# the expansion, as a stream (render, kustomize) and as a kpt package


def test_a_workload_in_a_tenants_namespace_is_pinned_and_not_copied() -> None:
    job = ray_job("team-b")
    outcome = expand_placed([*bases(), job], parse_config(SPEC), SPEC, kpt=False)
    assert not outcome.failed, outcome.results
    [out] = jobs(outcome.items)  # one RayJob: team-b's own, not a copy per tenant
    assert out["metadata"] == {"name": "train", "namespace": "team-b"}
    assert pinned(out)
    assert job == ray_job("team-b")  # the input is not edited in place


def test_a_tenant_with_spot_false_keeps_its_own_workload_as_it_is() -> None:
    outcome = expand_placed([*bases(), ray_job("lab")], parse_config(SPEC), SPEC, kpt=False)
    assert not outcome.failed, outcome.results
    assert jobs(outcome.items) == [ray_job("lab")]


def test_a_workload_in_another_namespace_is_still_a_base() -> None:
    outcome = expand_placed([*bases(), ray_job("ray-system")], parse_config(SPEC), SPEC, kpt=False)
    assert sorted(o["metadata"]["namespace"] for o in jobs(outcome.items)) == ["lab", "team-a", "team-b"]


def test_a_tenants_own_object_of_a_bases_name_is_an_error() -> None:
    mine = bases()[0]
    mine["metadata"]["namespace"] = "team-a"
    outcome = expand_placed(
        [*bases(), mine], parse_config(SPEC), SPEC, ["base.yaml", "vs.yaml", "mine.yaml"], kpt=False
    )
    assert outcome.failed
    [error] = [r for r in outcome.results if r.is_error]
    assert (error.file, error.field, error.resource.label()) == (  # type: ignore[union-attr]
        "mine.yaml",
        "metadata.name",
        "RayCluster/team-a/raycluster",
    )
    assert "the copy of the base RayCluster/raycluster (base.yaml) would be a second one" in error.message


def at(obj: dict[str, Any], path: str) -> dict[str, Any]:
    obj.setdefault("metadata", {}).setdefault("annotations", {})["config.kubernetes.io/path"] = path
    return obj


def test_kpt_a_workload_in_a_tenant_folder_gets_that_tenants_placement() -> None:
    spec = at(copy.deepcopy(SPEC), "tenants.yaml")
    items = [
        at(bases()[0], "base/raycluster.yaml"),
        at(ray_job(), "overlays/team-b/rayjob.yaml"),
        at(ray_job(name="notebook"), "overlays/lab/rayjob.yaml"),
    ]
    outcome = expand_placed(items, parse_config(spec), spec, kpt=True)
    assert not outcome.failed, outcome.results
    by_name = {o["metadata"]["name"]: o for o in jobs(outcome.items)}
    assert sorted(by_name) == ["notebook", "train"]  # passed through, never copied
    assert pinned(by_name["train"])
    assert by_name["train"]["metadata"]["annotations"] == {
        "config.kubernetes.io/path": "overlays/team-b/rayjob.yaml"
    }
    assert by_name["notebook"] == items[2]  # tenant lab opted out


def krm_call(items: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, Any]:
    """The KRM function in-process, as kustomize calls it (no kpt paths): its code and output."""
    rl = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": SPEC,
    }
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(rl).encode())))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out, err)
    return code, yaml.safe_load(out.getvalue())


def test_krm_function_as_kustomize_calls_it_pins_a_tenants_workload(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = krm_call([*bases(), ray_job("team-a")], monkeypatch)
    assert code == 0
    [job] = jobs(out["items"])
    assert job["metadata"]["namespace"] == "team-a" and pinned(job)


# ---------------------------------------------------------------------------------------------
# the check


def check_cli(*args: str | Path, cwd: Path) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        code = cli.main(["check", *map(str, args)], out, err)
    return code, out.getvalue().splitlines()


def write(path: Path, *objs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objs, sort_keys=False))
    return path


def worker_spec_line(path: Path) -> int:
    """The line of the first worker group's pod spec (the first `spec:` after `workerGroupSpecs:`)."""
    lines = path.read_text().splitlines()
    start = next(i for i, t in enumerate(lines) if t.strip() == "workerGroupSpecs:")
    return next(i for i, t in enumerate(lines) if i > start and t.strip() == "spec:") + 1


def test_check_flags_an_unpinned_workload_in_a_tenants_namespace(tmp_path: Path) -> None:
    write(tmp_path / "tenants.yaml", SPEC)
    write(tmp_path / "base" / "bases.yaml", *bases())
    write(tmp_path / "jobs.yaml", ray_job("team-b"), ray_job("lab", "notebook"))
    code, lines = check_cli("--select", "schema,policy", ".", cwd=tmp_path)
    assert code == 1
    where = f"jobs.yaml:{worker_spec_line(tmp_path / 'jobs.yaml')}: RayJob/team-b/train "
    field = "spec.rayClusterSpec.workerGroupSpecs[0].template.spec"
    assert lines == [
        f"{where}{field}.affinity: worker group 'cpu' is not pinned to Spot: no required node affinity "
        "holds `cloud.google.com/gke-spot In [true]`",
        f"{where}{field}.tolerations: worker group 'cpu' lacks the toleration "
        "cloud.google.com/gke-spot=true:NoSchedule: its pods cannot schedule on the tainted Spot nodes",
    ]
    # what render writes passes
    job = expand_placed([ray_job("team-b")], parse_config(SPEC), SPEC, kpt=False).items[0]
    write(tmp_path / "jobs.yaml", job, ray_job("lab", "notebook"))
    assert check_cli("--select", "schema,policy", ".", cwd=tmp_path) == (0, [])


def test_check_of_a_kpt_package_flags_an_unpinned_workload_in_a_tenant_folder(tmp_path: Path) -> None:
    (tmp_path / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
    write(tmp_path / "tenants.yaml", SPEC)
    write(tmp_path / "base" / "bases.yaml", *bases())
    write(tmp_path / "overlays" / "team-b" / "rayjob.yaml", ray_job())
    code, lines = check_cli("--select", "schema,policy", ".", cwd=tmp_path)
    assert code == 1
    line = worker_spec_line(tmp_path / "overlays" / "team-b" / "rayjob.yaml")
    assert [t.split(": ", 1)[0] for t in lines] == [f"overlays/team-b/rayjob.yaml:{line}"] * 2
    assert all("RayJob/train spec.rayClusterSpec.workerGroupSpecs[0].template.spec." in t for t in lines)


def hydrated(tmp_path: Path) -> list[dict[str, Any]]:
    """What `ray-tenants render` prints for the example bases."""
    out, err = io.StringIO(), io.StringIO()
    write(tmp_path / "spec.yaml", SPEC)
    assert cli.main(["render", "--config", str(tmp_path / "spec.yaml"), str(REPO / "base")], out, err) == 0
    return list(yaml.safe_load_all(out.getvalue()))


def check_stream(
    objs: list[dict[str, Any]], spec: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[str]]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(yaml.safe_dump_all(objs).encode())))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", "--select", "schema,policy", "--config", str(spec), "-"], out, err)
    return code, out.getvalue().splitlines()


def test_policy_holds_on_a_hydrated_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    objs = hydrated(tmp_path)
    assert check_stream(objs, tmp_path / "spec.yaml", monkeypatch) == (0, [])
    [cluster] = [o for o in objs if o["kind"] == "RayCluster" and o["metadata"]["namespace"] == "team-b"]
    del cluster["spec"]["workerGroupSpecs"][1]["template"]["spec"]["affinity"]
    code, lines = check_stream(objs, tmp_path / "spec.yaml", monkeypatch)
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("-:")
    assert (
        "RayCluster/team-b/raycluster spec.workerGroupSpecs[1].template.spec.affinity: worker group 'gpu' "
        "is not pinned to Spot"
    ) in lines[0]
    # a tenant with spot: false has nothing to keep
    [lab] = [o for o in objs if o["kind"] == "RayCluster" and o["metadata"]["namespace"] == "lab"]
    assert "affinity" not in lab["spec"]["workerGroupSpecs"][1]["template"]["spec"]


# ---------------------------------------------------------------------------------------------
# the rule, over any mix of objects: README "What counts as a base" and "Your own Ray workloads"

NAMESPACES = st.sampled_from(["team-a", "team-b", "lab", "ray-system", None])


@st.composite
def own_objects(draw: st.DrawFn) -> dict[str, Any]:
    namespace = draw(NAMESPACES)
    if draw(st.booleans()):
        return ray_job(namespace, draw(st.sampled_from(["train", "tune"])))
    meta: dict[str, Any] = {"name": draw(st.sampled_from(["code", "env"]))}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


@settings(max_examples=60, deadline=None)
@given(objs=st.lists(own_objects(), max_size=5))
def test_objects_in_a_tenants_namespace_pass_through_and_ray_workers_get_its_placement(
    objs: list[dict[str, Any]],
) -> None:
    inputs = copy.deepcopy(objs)
    outcome = expand_placed(objs, parse_config(SPEC), SPEC, kpt=False)
    if outcome.failed:  # two objects of one name in one namespace may clash; nothing to say then
        return
    spot = {"team-a": True, "team-b": True, "lab": False}
    out = outcome.items
    for obj in inputs:
        namespace = obj["metadata"].get("namespace")
        if namespace not in spot:
            continue
        # exactly one object of its kind and name in its namespace: its own, not a copy of anything
        same = [
            o
            for o in out
            if (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))
            == (obj["kind"], obj["metadata"]["name"], namespace)
        ]
        assert len(same) == inputs.count(obj), (obj, out)
        if obj["kind"] == "RayJob" and spot[namespace]:
            assert all(pinned(o) for o in same)
        else:
            assert all(o == obj for o in same)
