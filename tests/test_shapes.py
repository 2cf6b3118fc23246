"""Hostile shapes: Ray workloads whose parts have the wrong type, and a 50,000-value In list.

Every Ray kind embeds a RayClusterSpec at its own path; a worker group list or pod template of
the wrong type there must be an error naming that path in spot-only and tenant modes alike (it
used to pass with exit 0 and no placement). A long existing In list on the Spot key must cost
linear time: the check over 100 tenants and a one-tenant render finish in seconds.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, krm, ray
from krm_fn.check import checker, options
from krm_fn.inputs.loader import from_items, load_files, load_paths
from krm_fn.inputs.objects import Manifest
from tests.conftest import REPO

WORKER = {
    "groupName": "cpu",
    "minReplicas": 0,
    "maxReplicas": 4,
    "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.52.0"}]}},
}
HEAD = {"template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}}
CLUSTER = {"headGroupSpec": HEAD, "workerGroupSpecs": [WORKER]}
# kind -> the workload, with its embedded cluster spec where KubeRay puts it
WORKLOADS: dict[str, dict[str, Any]] = {
    "RayCluster": {"spec": CLUSTER},
    "RayJob": {"spec": {"entrypoint": "python job.py", "rayClusterSpec": CLUSTER}},
    "RayService": {"spec": {"serveConfigV2": "applications: []", "rayClusterConfig": CLUSTER}},
    "RayCronJob": {
        "spec": {
            "schedule": "0 * * * *",
            "jobTemplate": {"entrypoint": "python job.py", "rayClusterSpec": CLUSTER},
        }
    },
}
SPEC = {"apiVersion": "fn.ray-tenants.dev/v1alpha1", "kind": "RayTenants", "metadata": {"name": "tenants"}}
MODES = {"spot-only": [], "tenants": [{"name": "mlops"}]}
SPOT_KEY = "cloud.google.com/gke-spot"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def workload(kind: str, change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """A small `kind` workload named `work`; `change` edits its embedded cluster spec."""
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": kind,
        "metadata": {"name": "work"},
        **copy.deepcopy(WORKLOADS[kind]),
    }
    cluster = ray.cluster_spec(obj)
    assert isinstance(cluster, dict)
    if change is not None:
        change(cluster)
    return obj


def call(items: list[Any], tenants: list[Any]) -> tuple[int, dict[str, Any], str]:
    """The KRM function in process on `items` with a spec of `tenants` (none: spot-only mode)."""
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": {**SPEC, "spec": {"tenants": tenants}},
    }
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(yaml.safe_dump(doc).encode()), out, err)
    return code, yaml.safe_load(out.getvalue()), err.getvalue()


def prefix(kind: str) -> str:
    return ray.dotted(ray.CLUSTER_SPEC_PATHS[kind])


def set_groups(value: Any) -> Callable[[dict[str, Any]], None]:
    def change(cluster: dict[str, Any]) -> None:
        cluster["workerGroupSpecs"] = value

    return change


def set_template(value: Any) -> Callable[[dict[str, Any]], None]:
    def change(cluster: dict[str, Any]) -> None:
        cluster["workerGroupSpecs"][0]["template"] = value

    return change


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_a_well_formed_workload_of_each_kind_gets_placement(kind: str, mode: str) -> None:
    """The control for the cases below: the same workload, well formed, is pinned."""
    code, out, stderr = call([workload(kind)], MODES[mode])
    assert code == 0, stderr
    [placed] = [o for o in out["items"] if o["kind"] == kind]
    [(_, group)] = list(ray.worker_groups(placed))
    terms = group["template"]["spec"]["affinity"]["nodeAffinity"][REQUIRED]["nodeSelectorTerms"]
    assert {"key": SPOT_KEY, "operator": "In", "values": ["true"]} in terms[0]["matchExpressions"]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("kind", sorted(WORKLOADS))
@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (set_groups("cpu"), "workerGroupSpecs", "expected a list of worker groups, got a string"),
        (set_groups({"cpu": WORKER}), "workerGroupSpecs", "expected a list of worker groups, got a mapping"),
        (set_groups(["cpu"]), "workerGroupSpecs[0]", "expected a worker group (a mapping), got a string"),
        (
            set_template(["pod"]),
            "workerGroupSpecs[0].template",
            "expected a pod template (a mapping), got a list",
        ),
    ],
    ids=["groups-a-string", "groups-a-mapping", "group-a-string", "template-a-list"],
)
def test_a_malformed_workload_of_each_kind_is_an_error_naming_the_field(
    kind: str, mode: str, change: Callable[[dict[str, Any]], None], where: str, message: str
) -> None:
    items = [workload(kind, change)]
    code, out, stderr = call(items, MODES[mode])
    assert code == 1, stderr
    assert out["items"] == items, "on failure the input items go back unchanged"
    errors = [r for r in out["results"] if r["severity"] == "error"]
    assert errors, out["results"]
    assert {(r["field"]["path"], r["message"]) for r in errors} == {(f"{prefix(kind)}.{where}", message)}
    assert all(r["resourceRef"]["kind"] == kind and r["resourceRef"]["name"] == "work" for r in errors)
    assert "Traceback" not in stderr


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_the_check_without_a_spec_reports_a_worker_list_it_cannot_read(kind: str) -> None:
    """Policy without a tenant spec: a string workerGroupSpecs is not 'every worker pinned'."""
    doc = from_items([workload(kind, set_groups("cpu"))])
    report = checker.check(doc, options.Options(select=frozenset({"policy"})))
    assert report.failed
    assert [(r.field, r.message) for r in report.results if r.is_error] == [
        (f"{prefix(kind)}.workerGroupSpecs", "expected a list of worker groups, got a string")
    ]


def test_a_head_only_cluster_and_a_rayjob_on_an_existing_cluster_are_fine() -> None:
    """Absent is not malformed: no worker groups, or no embedded cluster spec at all."""
    head_only = workload("RayCluster", lambda c: c.pop("workerGroupSpecs"))
    selector = workload("RayJob")
    selector["spec"] = {"entrypoint": "python job.py", "clusterSelector": {"ray.io/cluster": "shared"}}
    for tenants in MODES.values():
        code, out, stderr = call([head_only, selector], tenants)
        assert code == 0, stderr
        assert not [r for r in out.get("results") or [] if r["severity"] == "error"]


# --------------------------------------------------------------------------------------------
# a 50,000-value In list on the Spot key, already in a base's required term

VALUES = 50_000
TENANTS = 100
# a hang, not a slow machine: the measured times are a few seconds (see the module docstring)
HANG = 60.0


def long_in_list(tmp_path: Path, tenants: int, with_spot_value: bool = True) -> tuple[Path, Path, list[str]]:
    """The shipped bases, the cpu workers' term holding a long In list on the Spot key; and a spec."""
    values = [f"v{i}" for i in range(VALUES - 1)] + (["true"] if with_spot_value else ["v-last"])
    bases = tmp_path / "base"
    bases.mkdir()
    rc = yaml.safe_load((REPO / "base" / "raycluster.yaml").read_text())
    rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            REQUIRED: {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": SPOT_KEY, "operator": "In", "values": values}]}
                ]
            }
        }
    }
    (bases / "raycluster.yaml").write_text(yaml.safe_dump(rc, sort_keys=False))
    (bases / "virtualservice.yaml").write_text((REPO / "base" / "virtualservice.yaml").read_text())
    spec = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    spec["spec"]["tenants"] = [{"name": f"team-{i:03d}"} for i in range(tenants)]
    config = tmp_path / "tenants.yaml"
    config.write_text(yaml.safe_dump(spec, sort_keys=False))
    return bases, config, values


def test_check_of_a_50000_value_in_list_across_100_tenants(tmp_path: Path) -> None:
    """`check` expands the spec in memory and verifies every copy's placement, in seconds."""
    bases, config, values = long_in_list(tmp_path, TENANTS)
    docs, problems = load_paths([str(bases)])
    [spec_doc], _ = load_files([str(config)])
    assert not problems
    started = time.perf_counter()
    report = checker.check(docs, options.Options(select=frozenset({"schema", "policy"}), config=spec_doc))
    elapsed = time.perf_counter() - started
    assert not report.failed, [r.one_line() for r in report.results if r.is_error]
    # the check did verify the copies: they are there, each with the long list and the Spot pin
    _, copies = _expanded(docs, spec_doc)
    assert len(copies) == TENANTS
    for rc in copies:
        term = rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["affinity"]["nodeAffinity"][REQUIRED][
            "nodeSelectorTerms"
        ][0]
        assert term["matchExpressions"][0]["values"] == values
        assert {"key": SPOT_KEY, "operator": "In", "values": ["true"]} in term["matchExpressions"]
    assert elapsed < HANG, f"check took {elapsed:.1f} s"


def _expanded(docs: list[Manifest], spec_doc: Manifest) -> tuple[Any, list[dict[str, Any]]]:
    from krm_fn.config import parse_config
    from krm_fn.expand import expand

    outcome = expand([d.data for d in docs], parse_config(spec_doc.data), spec_doc.data, kpt=False)
    assert not outcome.failed
    return outcome, [o for o in outcome.items if o["kind"] == "RayCluster" and o["metadata"].get("namespace")]


def test_check_reports_a_50000_value_in_list_without_the_spot_value(tmp_path: Path) -> None:
    """The same list without `true`: the contradiction is found, as fast."""
    bases, config, _ = long_in_list(tmp_path, TENANTS, with_spot_value=False)
    started = time.perf_counter()
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", "--select", "policy", "--config", str(config), str(bases)], out, err)
    elapsed = time.perf_counter() - started
    assert code == 1
    assert "worker group 'cpu'" in out.getvalue() and "contradicts the Spot requirement" in out.getvalue()
    assert elapsed < HANG, f"check took {elapsed:.1f} s"


def test_render_of_a_50000_value_in_list_for_one_tenant(tmp_path: Path) -> None:
    bases, config, values = long_in_list(tmp_path, 1)
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = cli.main(["render", "--config", str(config), str(bases)], out, err)
    elapsed = time.perf_counter() - started
    assert code == 0, err.getvalue()
    [rc] = [d for d in yaml.load_all(out.getvalue(), Loader=yaml.CSafeLoader) if d["kind"] == "RayCluster"]
    assert rc["metadata"]["namespace"] == "team-000"
    exprs = rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["affinity"]["nodeAffinity"][REQUIRED][
        "nodeSelectorTerms"
    ][0]["matchExpressions"]
    assert exprs == [
        {"key": SPOT_KEY, "operator": "In", "values": values},
        {"key": SPOT_KEY, "operator": "In", "values": ["true"]},
        {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["spot-cpu"]},
    ]
    assert elapsed < HANG, f"render took {elapsed:.1f} s"


def test_gt_and_lt_operands_are_64_bit_integers_read_without_converting_thousands_of_digits() -> None:
    from krm_fn.selectors import int64

    assert int64("9" * 5000) is None
    assert int64("0" * 5000 + "7") == 7
    assert int64("-0") == 0
    assert int64(str(2**63 - 1)) == 2**63 - 1
    assert int64(str(2**63)) is None
    assert int64(str(-(2**63))) == -(2**63)
    assert int64("7\n") is None


def test_the_witness_steps_over_50000_excluded_integers_in_linear_time() -> None:
    """`Gt 0` with `NotIn [1..50000]`: the first integer left is 50001, found without a scan per step."""
    from krm_fn.selectors import NO_WITNESS, witness

    excluded = [str(i) for i in range(1, VALUES + 1)]
    exprs = [
        {"key": "k", "operator": "Gt", "values": ["0"]},
        {"key": "k", "operator": "NotIn", "values": excluded},
    ]
    started = time.perf_counter()
    assert witness(exprs) == str(VALUES + 1)
    bounded = [*exprs, {"key": "k", "operator": "Lt", "values": [str(VALUES + 1)]}]
    assert witness(bounded) is NO_WITNESS
    assert time.perf_counter() - started < HANG


def test_the_schema_check_of_a_kind_no_schema_file_can_have_is_a_finding_not_a_crash() -> None:
    """Regression: a 5,000-character kind (a tenant patch's, here a base's) reached the file
    system as a schema file name and raised OSError (file name too long)."""
    obj = {"apiVersion": "v1", "kind": "K" * 5000, "metadata": {"name": "x", "namespace": "team"}}
    report = checker.check(from_items([obj]), options.Options(select=frozenset({"schema"})))
    assert [r.severity for r in report.results] == ["info"], report.results
    assert "no CRD for" in report.results[0].message
