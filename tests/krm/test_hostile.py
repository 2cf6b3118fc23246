"""Hostile input: every case the function must survive, with the outcome it must give.

Each file of tests/testdata/hostile/ is one case: it runs in process through krm.run (fast), and a
sample runs through the real entry point `python -m krm_fn` (exit code, no traceback, a
ResourceList on stdout). Generated cases (thousands of tenants, a 50 MB input) follow. Every bug
found by the property and fuzz tests gets a case here.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import krm
from tests.conftest import REPO, TESTDATA, run

HOSTILE = TESTDATA / "hostile"
RL_HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
# the address space a refused alias bomb may use (a Python process with pyyaml needs ~100 MiB)
MEMORY_LIMIT = 1 << 30

# file -> (exit code, a fragment the error messages must hold); None: either outcome, contract only
CASES: dict[str, tuple[int | None, str]] = {
    "not-yaml.yaml": (1, "invalid YAML"),
    "scalar.yaml": (1, "expected a ResourceList on stdin, got a string"),
    "not-a-mapping.yaml": (1, "expected a ResourceList on stdin, got a list"),
    "empty.yaml": (1, "found 0 YAML documents"),
    "two-documents.yaml": (1, "found 2 YAML documents"),
    "wrong-kind.yaml": (1, "expected kind ResourceList"),
    "no-items.yaml": (1, "ResourceList.items must be a list, got nothing"),
    "items-a-mapping.yaml": (1, "ResourceList.items must be a list, got a mapping"),
    "items-not-objects.yaml": (1, "items[0]: expected a Kubernetes object (a mapping)"),
    "missing-kind.yaml": (1, "items[0]: missing kind"),
    "missing-apiversion.yaml": (1, "items[0]: missing apiVersion"),
    "metadata-a-string.yaml": (1, "metadata must be a mapping"),
    "labels-a-list.yaml": (1, "metadata.labels must be a mapping"),
    "kustomization-passes.yaml": (0, ""),
    "tenants-a-string.yaml": (1, "spec.tenants: expected a list of tenants, got a string"),
    "hosts-a-string.yaml": (1, "spec.routing.hosts: expected a list of strings, got a string"),
    "patches-a-string.yaml": (1, "spec.tenants[0].patches: expected a list"),
    "labels-a-string.yaml": (1, "spec.tenants[0].namespaceLabels: expected a mapping"),
    "worker-groups-a-string.yaml": (
        1,
        "spec.workerGroupSpecs: expected a list of worker groups, got a string",
    ),
    "configmap-tenants-a-list.yaml": (1, "data.tenants: expected a string, got a list"),
    "duplicate-keys.yaml": (1, "duplicate key 'kind'"),
    "duplicate-tenant-keys.yaml": (1, "duplicate key 'name'"),
    "tabs.yaml": (1, "invalid YAML"),
    "alias-bomb.yaml": (1, "alias bomb"),
    "alias-bomb-per-tenant.yaml": (1, "alias bomb"),
    "recursive-alias.yaml": (1, "recursive alias"),
    "deep-nesting.yaml": (1, "nested more than 200 levels deep"),
    "lookalike-name.yaml": (1, "spec.tenants[0].name: 'ml\u043eps' is not a namespace name"),
    "lookalike-prefix.yaml": (1, "spec.tenants[0].pathPrefix: '/ml\u043eps/'"),
    "zero-width-name.yaml": (1, "U+200B ZERO WIDTH SPACE"),
    "fullwidth-prefix.yaml": (1, "U+FF4D FULLWIDTH LATIN SMALL LETTER M"),
    "python-tag.yaml": (1, "could not determine a constructor"),
    "nul-byte.yaml": (1, "control characters are not allowed"),
    "reserved-namespace.yaml": (1, "'kube-system' is a system namespace"),
    "unknown-function-config.yaml": (1, "unknown functionConfig Deployment.apps/v1"),
    "odd-scalars-pass.yaml": (0, ""),
    "crlf-pass.yaml": (0, ""),
    "bom-pass.yaml": (0, ""),
    "latin1.yaml": (1, "not UTF-8"),
    "utf16.yaml": (1, "not UTF-8"),
    "binary-garbage.yaml": (1, "not UTF-8"),
    # CRDs' CEL rules (RayTenantsCheck with a CRD among the items)
    "cel-rule-cost-bomb.yaml": (0, "not evaluated: about 2.6e+10 steps on this value"),
    "cel-rules-odd.yaml": (1, "dashboard does not start with /"),
    # which front end runs, and what is the tenant's to copy
    "cluster-queue-base.yaml": (1, "ClusterQueue/cluster-queue: the function does not know whether"),
    "resource-flavor-base.yaml": (1, "spec.kindScopes: {kueue.x-k8s.io/ResourceFlavor: Namespaced}"),
    "crd-cluster-scope-pass.yaml": (0, ""),
    "kind-scopes-bad.yaml": (1, "spec.kindScopes.LocalQueue: expected a key of the form group/Kind"),
    "list-in-list.yaml": (1, "items[0].items[0]: a List inside a List"),
    "list-item-not-object.yaml": (1, "items[0].items[0]: expected a Kubernetes object"),
    "one-path-annotation-pass.yaml": (0, ""),
    "output-dir-is-base-folder.yaml": (1, "outputDir 'base' holds the base ConfigMap/settings"),
    "output-dir-dot.yaml": (1, "outputDir '.' holds the base ConfigMap/settings"),
    # shapes: Ray workloads, routes and tenant patches whose parts have the wrong type
    "group-name-a-list.yaml": (1, "spec.workerGroupSpecs[0].groupName: expected a string, got a list"),
    "worker-group-a-string.yaml": (
        1,
        "spec.workerGroupSpecs[0]: expected a worker group (a mapping), got a string",
    ),
    "worker-template-a-string.yaml": (
        1,
        "spec.workerGroupSpecs[0].template: expected a pod template (a mapping)",
    ),
    "rayjob-cluster-spec-a-string.yaml": (
        1,
        "RayJob/job spec.rayClusterSpec: expected a mapping, got a string",
    ),
    "route-match-a-number.yaml": (1, "spec.http[0].match: expected a list of match conditions"),
    "route-destination-a-string.yaml": (
        1,
        "spec.http[0].route[0].destination: expected a mapping with host and port",
    ),
    "export-to-nested-list.yaml": (1, "spec.exportTo: expected a list of namespaces"),
    "gateways-a-string.yaml": (1, "spec.gateways: expected a list of strings, got a string"),
    "gt-thousands-of-digits.yaml": (
        1,
        "matchExpressions[0].values: worker group 'cpu': operator Gt needs exactly one integer",
    ),
    "spot-gt-thousands-of-digits.yaml": (
        1,
        "spec.spot.matchExpressions[0].values: operator Gt needs exactly one integer",
    ),
    "patch-metadata-a-list.yaml": (
        1,
        "spec.tenants[0].patches[0].patch: patch for RayCluster/raycluster of tenant 'mlops': metadata is a list",
    ),
    "patch-root-a-list.yaml": (
        1,
        "spec.tenants[0].patches[0].patch: patch for RayCluster/raycluster of tenant 'mlops': the result is a list",
    ),
    "patch-labels-a-list.yaml": (
        1,
        "spec.tenants[0].patches[0].patch: patch for RayCluster/raycluster of tenant 'mlops': metadata.labels is a list",
    ),
    "patch-kind-a-list.yaml": (
        1,
        "spec.tenants[0].patches[0].patch: patch for RayCluster/raycluster of tenant 'mlops': kind is a list",
    ),
    "patch-virtualservice-spec-a-string.yaml": (
        1,
        "patches[0].patch: patch for VirtualService/ray-dashboard of tenant 'mlops': spec is a string",
    ),
    "patch-worker-groups-a-string.yaml": (
        1,
        "patches[0].patch: patch for RayCluster/raycluster of tenant 'mlops': spec.workerGroupSpecs: expected a list of worker groups",
    ),
    # an integer no Kubernetes field can hold (Python refuses to read past 4,300 digits)
    "huge-integer.yaml": (1, "an integer of 5,000 characters; Kubernetes reads at most 64-bit integers"),
    # values: scalars every YAML reader spells or types its own way, kept as written
    "spellings-kept-pass.yaml": (0, ""),
    # input model: a kind that is no string names no KubeRay workload (was a TypeError)
    "ray-kind-a-list.yaml": (0, ""),
}
# through the real entry point too: one of each way in which input goes wrong
SUBPROCESS_CASES = [
    "not-yaml.yaml",
    "not-a-mapping.yaml",
    "items-not-objects.yaml",
    "kustomization-passes.yaml",
    "duplicate-keys.yaml",
    "recursive-alias.yaml",
    "deep-nesting.yaml",
    "lookalike-name.yaml",
    "latin1.yaml",
    "binary-garbage.yaml",
]


def call(raw: bytes) -> tuple[int, dict[str, Any], str]:
    """Run the KRM function in process; return the exit code, the parsed output and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(raw), out, err)
    return code, yaml.load(out.getvalue(), Loader=yaml.CSafeLoader), err.getvalue()


def input_items(raw: bytes) -> list[Any] | None:
    """The input's items as an independent parser reads them (None where it cannot)."""
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=yaml.CSafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    items = doc.get("items") if isinstance(doc, dict) else None
    return items if isinstance(items, list) else None


def assert_contract(raw: bytes, code: int, out: dict[str, Any], stderr: str) -> None:
    """What holds for every input: a ResourceList out, failure flagged, inputs kept on failure."""
    assert code in (0, 1)
    assert "Traceback" not in stderr
    assert out["kind"] == "ResourceList"
    assert isinstance(out["items"], list)
    errors = [r for r in out.get("results") or [] if r.get("severity", "error") == "error"]
    assert bool(errors) == (code == 1), out.get("results")
    for result in out.get("results") or []:
        assert isinstance(result["message"], str) and result["message"]
    unreadable = any((r.get("file") or {}).get("path") == "<stdin>" for r in out.get("results") or [])
    if unreadable:  # refused as a whole (bad YAML, a bomb): there are no items to give back
        assert code == 1 and out["items"] == []
        return
    inputs = input_items(raw)
    if code == 1 and inputs is not None and len(raw) < 1 << 20:
        assert out["items"] == inputs, "on failure the input items go back unchanged"
    if inputs:
        assert out["items"], "never an empty item list"


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_case(name: str) -> None:
    raw = (HOSTILE / name).read_bytes()
    started = time.perf_counter()
    code, out, stderr = call(raw)
    elapsed = time.perf_counter() - started
    assert_contract(raw, code, out, stderr)
    expected, fragment = CASES[name]
    if expected is not None:
        assert code == expected, stderr
    messages = "\n".join(
        r["message"] + " " + str(r.get("field", r.get("tags", ""))) for r in out.get("results") or []
    )
    assert fragment in messages + "\n" + stderr
    # a hang guard only (a loaded machine is slow); the cost per case is bench/bench.py's concern
    assert elapsed < 60, f"{name} took {elapsed:.1f} s"


def test_every_file_is_a_case() -> None:
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(CASES)


def _fn(raw: bytes, limit_memory: bool = False) -> subprocess.CompletedProcess[bytes]:
    """`python -m krm_fn` from this checkout, with `raw` on stdin."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "krm_fn"],
        input=raw,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=limit if limit_memory else None,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_hostile_case_through_the_entry_point(name: str) -> None:
    raw = (HOSTILE / name).read_bytes()
    proc = _fn(raw)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == CASES[name][0], stderr
    assert "Traceback" not in stderr
    out = yaml.safe_load(proc.stdout)
    assert_contract(raw, proc.returncode, out, stderr)


@pytest.mark.parametrize("name", ["alias-bomb.yaml", "alias-bomb-per-tenant.yaml", "deep-nesting.yaml"])
def test_bombs_are_refused_quickly_in_bounded_memory(name: str) -> None:
    started = time.perf_counter()
    proc = _fn((HOSTILE / name).read_bytes(), limit_memory=True)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 1, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr and b"MemoryError" not in proc.stderr
    # the memory limit is the real bound; this only catches a hang
    assert elapsed < 60, f"took {elapsed:.2f} s"


def test_alias_bomb_per_tenant_was_accepted_before() -> None:
    """Regression: 600 bytes of aliases under the old 1,000,000-node limit, copied for each tenant,
    took 11 s and 360 MB for 2 tenants; now aliases may at most double a document (or add 10,000)."""
    code, out, _ = call((HOSTILE / "alias-bomb-per-tenant.yaml").read_bytes())
    assert code == 1
    assert "74,927 nodes from 209" in out["results"][0]["message"]


def test_modest_anchors_still_work() -> None:
    """Anchors as people use them (one block shared by a few groups) are expanded, not refused."""
    raw = (
        RL_HEAD
        + "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: shared\n  data:\n"
        + "    a: &block {x: '1', y: '2'}\n    b: *block\n    c: *block\n"
        + "functionConfig:\n  apiVersion: fn.ray-tenants.dev/v1alpha1\n  kind: RayTenants\n"
        + "  metadata: {name: t}\n  spec:\n    tenants: [{name: a}, {name: b}]\n"
    ).encode()
    code, out, stderr = call(raw)
    assert code == 0, stderr
    copies = [i for i in out["items"] if i["kind"] == "ConfigMap"]
    assert [c["data"]["c"] for c in copies] == [{"x": "1", "y": "2"}] * 2


def test_render_refuses_hostile_files(tmp_path: Path) -> None:
    """The standalone front end: a bad manifest file is a finding with exit 1, not a crash."""
    for name in ("latin1.yaml", "recursive-alias.yaml", "deep-nesting.yaml", "alias-bomb.yaml"):
        (tmp_path / name).write_bytes((HOSTILE / name).read_bytes())
    proc = run(
        [sys.executable, "-m", "krm_fn", "render", "--config", REPO / "overlays" / "tenants.yaml", tmp_path],
        PYTHONPATH=str(REPO),
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert proc.stdout == b""
    for fragment in ("not UTF-8", "recursive alias", "nested more than", "alias bomb"):
        assert fragment in stderr


def _tenants_input(count: int, kpt: bool) -> bytes:
    """The shipped base and a spec with `count` tenants, as kpt (annotated) or kustomize sends it."""
    items = [
        yaml.safe_load((REPO / "base" / f).read_text()) for f in ("raycluster.yaml", "virtualservice.yaml")
    ]
    if kpt:
        for index, item in enumerate(items):
            item["metadata"].setdefault("annotations", {})["config.kubernetes.io/path"] = f"base/{index}.yaml"
    spec = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    spec["spec"]["tenants"] = [{"name": f"team-{i:05d}"} for i in range(count)]
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": spec,
    }
    return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False).encode()


def test_thousands_of_tenants() -> None:
    """2,000 tenants: a namespace, a RayCluster and a VirtualService each, in seconds, bases kept."""
    raw = _tenants_input(2000, kpt=True)
    started = time.perf_counter()
    code, out, stderr = call(raw)
    elapsed = time.perf_counter() - started
    assert code == 0, stderr
    kinds = [i["kind"] for i in out["items"]]
    assert kinds.count("Namespace") == 2000
    assert kinds.count("RayCluster") == kinds.count("VirtualService") == 2001
    assert out["items"][:2] == input_items(raw)[:2]  # type: ignore[index]
    assert elapsed < 120, f"2,000 tenants took {elapsed:.0f} s"


def test_thousands_of_overlapping_prefixes_are_checked_in_linear_time() -> None:
    """Regression: the prefix-overlap check compared every pair (20,000 tenants: minutes)."""
    from krm_fn.config import parse_config
    from krm_fn.results import FnError

    tenants: list[dict[str, Any]] = [{"name": f"t{i}", "pathPrefix": f"/t/{i}/"} for i in range(20000)]
    tenants.append({"name": "catch", "pathPrefix": "/t/"})
    spec = {"apiVersion": "fn.ray-tenants.dev/v1alpha1", "kind": "RayTenants", "metadata": {"name": "x"}}
    started = time.perf_counter()
    with pytest.raises(FnError) as caught:
        parse_config({**spec, "spec": {"tenants": tenants}})
    # a hang guard: the pairwise check took minutes here, the linear one well under a second
    assert time.perf_counter() - started < 60
    assert len(caught.value.results) == 20000
    assert "'/t/' contains '/t/0/' of tenant 't0'" in caught.value.results[0].message


def test_50_megabytes_of_input() -> None:
    """A 50 MB ResourceList (ConfigMaps with big data, passed through) completes, items intact."""
    value = "x" * 1000
    parts = [RL_HEAD, "items:\n"]
    size, count = 0, 0
    while size < 50 << 20:
        item = (
            f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: big-{count}\n"
            "    annotations:\n      config.kubernetes.io/local-config: 'true'\n  data:\n"
            + "".join(f"    k{j}: {value}\n" for j in range(50))
        )
        parts.append(item)
        size, count = size + len(item), count + 1
    parts.append(
        "functionConfig:\n  apiVersion: fn.ray-tenants.dev/v1alpha1\n  kind: RayTenants\n"
        "  metadata: {name: t}\n  spec:\n    tenants: [{name: a}, {name: b}]\n"
    )
    raw = "".join(parts).encode()
    started = time.perf_counter()
    code, out, stderr = call(raw)
    elapsed = time.perf_counter() - started
    assert code == 0, stderr
    assert [i["kind"] for i in out["items"]].count("ConfigMap") == count
    assert out["items"][count - 1]["data"]["k49"] == value
    assert elapsed < 120, f"50 MB took {elapsed:.0f} s"


# The modules a plain KRM call may import: the core floors and the KRM front end, no sibling
# front end (render, check, plugin), no writer, no loader of files, no overlay patch builder.
KRM_PATH_MODULES = frozenset(
    {
        "krm_fn",
        "krm_fn.cli",
        "krm_fn.krm",
        "krm_fn.package",
        "krm_fn.output",
        "krm_fn.expand",
        "krm_fn.config",
        "krm_fn.items",
        "krm_fn.ray",
        "krm_fn.results",
        "krm_fn.selectors",
        "krm_fn.inputs",
        "krm_fn.inputs.function_config",
        "krm_fn.inputs.objects",
        "krm_fn.overlays",
        "krm_fn.routing",
        "krm_fn.routing.httproute",
        "krm_fn.routing.overlap",
        "krm_fn.routing.policy",
        "krm_fn.routing.routers",
        "krm_fn.routing.served",
        "krm_fn.routing.virtualservice",
        "krm_fn.spot",
        "krm_fn.spot.inject",
        "krm_fn.spot.policy",
        "krm_fn.spot.providers",
        "krm_fn.spot.settings",
        "krm_fn.isolation",
        "krm_fn.isolation.auth",
        "krm_fn.isolation.gateway",
        "krm_fn.isolation.generate",
        "krm_fn.isolation.network",
        "krm_fn.isolation.quota",
        "krm_fn.isolation.settings",
    }
)


def test_plain_call_imports_nothing_heavy() -> None:
    """Regression: every call imported jsonpatch (through the overlay patch builder too), argparse, and the
    check with its schemas (150 ms); a plain expansion needs none of them, nor any other front end, nor
    dataclasses (it imports inspect: 4 ms, and each dataclass costs ~0.4 ms to define)."""
    code = (
        "import io, sys; from krm_fn import cli; "
        "sys.stdin = io.TextIOWrapper(io.BytesIO(open(sys.argv[1], 'rb').read())); "
        "rc = cli.main([], io.StringIO(), io.StringIO()); "
        "print(rc, sorted(m for m in ('jsonpatch', 'argparse', 'kubernetes_validate', 'dataclasses') if m in sys.modules)); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'krm_fn')))"
    )
    proc = run(
        [sys.executable, "-c", code, HOSTILE / "kustomization-passes.yaml"],
        PYTHONPATH=str(REPO),
    )
    lines = proc.stdout.decode().splitlines()
    assert lines[0].split() == ["0", "[]"], proc.stderr.decode()
    # yamlio may be one module or a package of them
    loaded = {m for m in lines[1].split() if not m.startswith("krm_fn.yamlio")}
    assert loaded <= KRM_PATH_MODULES, sorted(loaded - KRM_PATH_MODULES)
    assert {"krm_fn.expand", "krm_fn.package"} <= loaded  # the call did expand


def test_unhashable_kind_is_a_finding() -> None:
    """Regression (found by test_krm_properties): `kind: []` crashed the writer with TypeError."""
    raw = (RL_HEAD + "items:\n- {apiVersion: v1, kind: [], metadata: {name: [x]}}\n").encode()
    code, out, stderr = call(raw + b"functionConfig: {apiVersion: v1, kind: ConfigMap, data: {tenants: a}}\n")
    assert code == 1
    assert "items[0]: missing kind" in stderr
    assert out["items"] == [{"apiVersion": "v1", "kind": [], "metadata": {"name": ["x"]}}]


def test_console_script_runs_without_the_cyclic_collector() -> None:
    """Regression: the collector rescanned the growing heap, 40% of a 4,000-tenant KRM call."""
    code = (
        "import gc, sys; from krm_fn import cli; sys.argv = ['ray-tenants', '--version']\n"
        "try:\n    cli.entry()\nexcept SystemExit:\n    print(gc.isenabled())"
    )
    proc = run([sys.executable, "-c", code], PYTHONPATH=str(REPO))
    assert proc.stdout.decode().split()[-1] == "False", proc.stderr.decode()


def test_duplicate_keys_are_refused_on_the_fast_path_and_beside_merge_keys() -> None:
    """Duplicates are found by counting entries; merge keys still get the key-by-key look."""
    from krm_fn import yamlio
    from krm_fn.results import FnError

    for text, line in (
        ("a: 1\nb:\n  c: 1\n  c: 2\n", 4),
        ("base: &b {x: 1}\nm:\n  <<: *b\n  y: 1\n  y: 2\n", 5),
    ):
        with pytest.raises(FnError) as info:
            yamlio.load_documents(text)
        assert "found duplicate key" in info.value.results[0].message
        assert info.value.results[0].line == line
    # an explicit key overriding a merged one is not a duplicate
    assert yamlio.load_documents("base: &b {x: 1}\nm:\n  <<: *b\n  x: 2\n")[0].data["m"] == {"x": 2}
