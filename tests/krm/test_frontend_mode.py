"""Which front end runs decides the mode, never an item's annotation; what the function owns in a
kpt package; which kinds are the tenant's to copy; `v1/List`; an outputDir that holds the bases.

Each class runs through the real tool where one is involved (`kpt fn render`, `kubectl kustomize`
with the legacy exec plugin) and in process through krm.run / standalone.run.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import krm, render, standalone
from krm_fn.cli import main
from tests.conftest import (
    DEFAULT_ISOLATION,
    DEFAULT_ISOLATION_FILES,
    REPO,
    example_bases,
    kptfile,
    require_tool,
    run,
)

BASES = example_bases()
EXAMPLE_CONFIG = REPO / "overlays" / "tenants.yaml"
PLUGIN = Path("fn.ray-tenants.dev/v1alpha1/raytenants/RayTenants")
TENANTS = ("mlops", "research")
SPEC = """\
apiVersion: fn.ray-tenants.dev/v1alpha1
kind: RayTenants
metadata:
  name: tenants
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  tenants:
    - name: team-a
"""
CLUSTER_QUEUE = """\
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata:
  name: cluster-queue
spec:
  namespaceSelector: {}
"""
RESOURCE_FLAVOR = """\
apiVersion: kueue.x-k8s.io/v1beta1
kind: ResourceFlavor
metadata:
  name: spot
"""
LOCAL_QUEUE = """\
apiVersion: kueue.x-k8s.io/v1beta1
kind: LocalQueue
metadata:
  name: queue
spec:
  clusterQueue: cluster-queue
"""


def crd(kind: str, scope: str) -> str:
    plural = kind.lower() + "s"
    return yaml.safe_dump(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kueue.x-k8s.io"},
            "spec": {
                "group": "kueue.x-k8s.io",
                "names": {"kind": kind, "plural": plural},
                "scope": scope,
                "versions": [{"name": "v1beta1", "served": True, "storage": True}],
            },
        }
    )


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def identities(objs: Any) -> set[tuple[str, str | None, str]]:
    return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o}


def krm_call(items: list[Any], spec: str = SPEC) -> tuple[int, dict[str, Any], str]:
    raw = yaml.safe_dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": yaml.safe_load(spec),
        }
    ).encode()
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(raw), out, err)
    return code, yaml.safe_load(out.getvalue()), err.getvalue()


def annotated(obj: dict[str, Any], path: str) -> dict[str, Any]:
    obj["metadata"].setdefault("annotations", {})["config.kubernetes.io/path"] = path
    return obj


def example_items() -> list[dict[str, Any]]:
    return [yaml.safe_load(b.read_text()) for b in BASES]


@pytest.fixture
def package(tmp_path: Path, fn_exec: Path) -> Path:
    """A kpt package: the shipped bases in base/, the example spec, a pipeline running the function."""
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    (pkg / "base").mkdir(parents=True)
    for base in BASES:
        shutil.copy(base, pkg / "base")
    shutil.copy(EXAMPLE_CONFIG, pkg / "tenants.yaml")
    (pkg / "Kptfile").write_text(kptfile(fn_exec))
    return pkg


def kpt_render(pkg: Path) -> Any:
    return run(["kpt", "fn", "render", "--allow-exec", pkg])


@pytest.fixture
def plugin_home(tmp_path: Path) -> Path:
    home = tmp_path / "plugins"
    assert main(["install-plugin", "--dir", str(home)], io.StringIO(), io.StringIO()) == 0
    return home


def kustomize(folder: Path, plugin_home: Path, resources: dict[str, str], spec: str) -> Any:
    """`kubectl kustomize --enable-alpha-plugins` of `resources` with the spec as a transformer."""
    kubectl = require_tool("kubectl")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in resources.items():
        (folder / name).write_text(text)
    (folder / "tenants.yaml").write_text(spec)
    (folder / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": list(resources), "transformers": ["tenants.yaml"]})
    )
    return run(
        [kubectl, "kustomize", "--enable-alpha-plugins", folder], KUSTOMIZE_PLUGIN_HOME=str(plugin_home)
    )


def example_with_one_annotated_base() -> dict[str, str]:
    texts = {b.name: b.read_text() for b in BASES}
    obj = annotated(yaml.safe_load(texts["raycluster.yaml"]), "elsewhere/raycluster.yaml")
    texts["raycluster.yaml"] = yaml.safe_dump(obj)
    return texts


EXPECTED_COPIES = {("Namespace", None, t) for t in TENANTS} | {
    (kind, t, name)
    for t in TENANTS
    for kind, name in (("RayCluster", "raycluster"), ("VirtualService", "ray-dashboard"), *DEFAULT_ISOLATION)
}


# --- which front end is running ----------------------------------------------------------------


def test_render_replaces_the_bases_when_one_carries_a_path_annotation(tmp_path: Path) -> None:
    texts = example_with_one_annotated_base()
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    outcome, _ = standalone.run([str(tmp_path / n) for n in texts], str(EXAMPLE_CONFIG))
    assert not outcome.failed, outcome.results
    # no unpinned base and no catch-all VirtualService beside the tenant copies
    assert identities(outcome.items) == EXPECTED_COPIES


def test_krm_stream_replaces_the_bases_when_one_carries_a_path_annotation() -> None:
    items = example_items()
    annotated(items[0], "elsewhere/raycluster.yaml")
    code, out, err = krm_call(items, EXAMPLE_CONFIG.read_text())
    assert code == 0, err
    assert identities(out["items"]) == EXPECTED_COPIES


def test_kustomize_passes_a_users_path_annotation_and_the_plugin_still_replaces_bases(
    tmp_path: Path, plugin_home: Path
) -> None:
    proc = kustomize(
        tmp_path / "k", plugin_home, example_with_one_annotated_base(), EXAMPLE_CONFIG.read_text()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    # copies in the build prove the plugin ran; no base namespace-less RayCluster or catch-all route
    assert identities(yaml.safe_load_all(proc.stdout)) == EXPECTED_COPIES


def test_kpt_gives_every_item_its_path_and_keeps_the_bases(package: Path) -> None:
    before = tree(package)
    proc = kpt_render(package)
    assert proc.returncode == 0, proc.stderr.decode()
    after = tree(package)
    assert all(after[p] == c for p, c in before.items())
    assert {p for p in after if p.startswith("overlays/")} == {
        f"overlays/{t}/{f}"
        for t in TENANTS
        for f in (
            "namespace.yaml",
            "raycluster_raycluster.yaml",
            "virtualservice_ray-dashboard.yaml",
            *DEFAULT_ISOLATION_FILES,
        )
    }


def test_kpt_places_what_an_earlier_function_generated_so_the_mode_stays_kpt(
    package: Path, tmp_path: Path
) -> None:
    # a generator before ours emits an item without any annotation: kpt gives it a path before
    # our function runs, so "every item placed" still holds and the bases are not dropped
    generator = tmp_path / "generator"
    generator.write_text(
        f"#!{sys.executable}\n"
        "import sys, yaml\n"
        "rl = yaml.safe_load(sys.stdin)\n"
        "rl['items'].append({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'extra'}})\n"
        "yaml.safe_dump(rl, sys.stdout)\n"
    )
    generator.chmod(0o755)
    kptfile = (package / "Kptfile").read_text()
    (package / "Kptfile").write_text(
        kptfile.replace("  mutators:\n", f"  mutators:\n    - exec: {generator}\n")
    )
    before = tree(package)
    proc = kpt_render(package)
    assert proc.returncode == 0, proc.stderr.decode()
    after = tree(package)
    # in content (the generator's pyyaml round trip drops the comments, not ours)
    assert all(
        yaml.safe_load(after[p]) == yaml.safe_load(c) for p, c in before.items() if p.startswith("base/")
    )
    assert (package / "overlays" / "mlops" / "raycluster_raycluster.yaml").is_file()
    assert (package / "overlays" / "mlops" / "configmap_extra.yaml").is_file()  # copied as a base


# --- ownership in a kpt package ------------------------------------------------------------------


def labelled(tenant: str) -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: mlops\n  labels:\n"
        f"    app.kubernetes.io/managed-by: ray-tenants\n    fn.ray-tenants.dev/tenant: {tenant}\n"
        "data:\n  note: hand-made\n"
    )


@pytest.mark.parametrize(
    ("path", "tenant"),
    [
        pytest.param("keep/configmap.yaml", "mlops", id="outside-outputDir"),
        pytest.param("overlays/configmap.yaml", "mlops", id="in-outputDir-not-a-tenant-folder"),
        pytest.param("overlays/research/configmap.yaml", "mlops", id="another-tenants-folder"),
        pytest.param("overlays/gone/configmap.yaml", "mlops", id="folder-of-a-tenant-it-does-not-name"),
    ],
)
def test_a_labelled_file_outside_its_tenant_folder_survives_kpt_render(
    package: Path, path: str, tenant: str
) -> None:
    (package / path).parent.mkdir(parents=True, exist_ok=True)
    (package / path).write_text(labelled(tenant))
    for _ in range(2):  # a second render must not remove it either
        proc = kpt_render(package)
        assert proc.returncode == 0, proc.stderr.decode()
        assert yaml.safe_load((package / path).read_text()) == yaml.safe_load(labelled(tenant))
    # and it was not taken for a base: no tenant got a copy of it
    assert not list(package.glob("overlays/*/configmap_kept.yaml"))


def test_check_takes_a_labelled_file_outside_its_tenant_folder_for_the_users(package: Path) -> None:
    assert kpt_render(package).returncode == 0
    (package / "keep").mkdir()
    (package / "keep" / "configmap.yaml").write_text(labelled("mlops"))
    out, err = io.StringIO(), io.StringIO()
    # no drift to report (kpt fn render keeps the file), so nothing for --fix to delete
    assert main(["check", "--fix", str(package)], out, err) == 0, out.getvalue() + err.getvalue()
    assert (package / "keep" / "configmap.yaml").read_text() == labelled("mlops")


def test_a_labelled_item_elsewhere_is_kept_with_a_warning() -> None:
    items = [annotated(b, f"base/{b['kind'].lower()}.yaml") for b in example_items()]
    stray = annotated(yaml.safe_load(labelled("mlops")), "keep/configmap.yaml")
    items.append(stray)
    code, out, err = krm_call(items, EXAMPLE_CONFIG.read_text())
    assert code == 0, err
    assert stray in out["items"]
    assert "labelled as generated for tenant 'mlops' but not in overlays/mlops/: kept" in err


def test_the_functions_own_stale_file_in_its_tenant_folder_is_still_pruned(package: Path) -> None:
    assert kpt_render(package).returncode == 0
    spec = EXAMPLE_CONFIG.read_text().replace("    - name: research\n", "    - name: gone-research\n")
    (package / "tenants.yaml").write_text(spec)
    proc = kpt_render(package)
    assert proc.returncode == 0, proc.stderr.decode()
    assert not [p for p in (package / "overlays" / "research").rglob("*") if p.is_file()]


# --- never copy what is not the tenant's -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param(CLUSTER_QUEUE, "ClusterQueue/cluster-queue", id="ClusterQueue"),
        pytest.param(RESOURCE_FLAVOR, "ResourceFlavor/spot", id="ResourceFlavor"),
    ],
)
def test_a_kind_of_unknown_scope_is_refused_by_kpt_and_files_stay(
    package: Path, text: str, name: str
) -> None:
    (package / "base" / "kueue.yaml").write_text(text)
    before = tree(package)
    proc = kpt_render(package)
    assert proc.returncode != 0
    assert tree(package) == before
    message = proc.stderr.decode()
    assert f"{name}: the function does not know whether" in message
    assert "CustomResourceDefinition" in message and "spec.kindScopes" in message


def test_a_kind_of_unknown_scope_fails_the_kustomize_build(tmp_path: Path, plugin_home: Path) -> None:
    resources = {b.name: b.read_text() for b in BASES} | {"queue.yaml": CLUSTER_QUEUE}
    proc = kustomize(tmp_path / "k", plugin_home, resources, EXAMPLE_CONFIG.read_text())
    assert (proc.returncode != 0, proc.stdout) == (True, b"")
    assert "ClusterQueue/cluster-queue: the function does not know whether" in proc.stderr.decode()


@pytest.mark.parametrize(
    ("scope", "copied"),
    [
        pytest.param("Namespaced", True, id="namespaced-copied"),
        pytest.param("Cluster", False, id="cluster-passes"),
    ],
)
def test_a_crd_among_the_inputs_declares_its_kinds_scope(scope: str, copied: bool) -> None:
    kind = "LocalQueue" if copied else "ClusterQueue"
    obj = yaml.safe_load(LOCAL_QUEUE if copied else CLUSTER_QUEUE)
    code, out, err = krm_call([yaml.safe_load(crd(kind, scope)), obj])
    assert code == 0, err
    got = identities(out["items"])
    name = obj["metadata"]["name"]
    assert ((kind, "team-a", name) in got) == copied
    assert ((kind, None, name) in got) == (not copied)  # a stream replaces bases, passes the rest


def test_kubectl_kustomize_copies_a_kind_its_crd_declares_namespaced(
    tmp_path: Path, plugin_home: Path
) -> None:
    resources = {"crd.yaml": crd("LocalQueue", "Namespaced"), "queue.yaml": LOCAL_QUEUE}
    proc = kustomize(tmp_path / "k", plugin_home, resources, SPEC)
    assert proc.returncode == 0, proc.stderr.decode()
    assert ("LocalQueue", "team-a", "queue") in identities(yaml.safe_load_all(proc.stdout))


@pytest.mark.parametrize(
    ("scope", "copied"),
    [pytest.param("Namespaced", True, id="namespaced"), pytest.param("Cluster", False, id="cluster")],
)
def test_the_spec_declares_a_kinds_scope(scope: str, copied: bool) -> None:
    spec = SPEC + f"  kindScopes:\n    kueue.x-k8s.io/ResourceFlavor: {scope}\n"
    code, out, err = krm_call([yaml.safe_load(RESOURCE_FLAVOR)], spec)
    assert code == 0, err
    assert (("ResourceFlavor", "team-a", "spot") in identities(out["items"])) == copied


def test_known_cluster_scoped_kinds_pass_through_uncopied() -> None:
    objs = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "gc"}},
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "pc"}},
        # a namespaced kind of the same group is copied (an HTTPRoute would be a route to a Ray head)
        {
            "apiVersion": "gateway.networking.k8s.io/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "r"},
        },
    ]
    code, out, err = krm_call(objs)
    assert code == 0, err
    assert identities(out["items"]) == {
        ("GatewayClass", None, "gc"),
        ("PriorityClass", None, "pc"),
        ("ReferenceGrant", "team-a", "r"),
        ("Namespace", None, "team-a"),
    }


# --- v1/List ------------------------------------------------------------------------------------


def as_list(objs: list[dict[str, Any]], name: str = "bases") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"name": name}, "items": objs}


def test_render_handles_the_items_of_a_list(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text(yaml.safe_dump(as_list(example_items())))
    outcome, _ = standalone.run([str(tmp_path / "list.yaml")], str(EXAMPLE_CONFIG))
    assert not outcome.failed, outcome.results
    assert identities(outcome.items) == EXPECTED_COPIES


def test_a_finding_about_a_list_item_names_its_line(tmp_path: Path) -> None:
    items = example_items()
    items[0]["metadata"]["name"] = "Bad_Name"
    (tmp_path / "list.yaml").write_text(yaml.safe_dump(as_list(items), sort_keys=False))
    err = io.StringIO()
    assert render.main([str(tmp_path / "list.yaml")], str(EXAMPLE_CONFIG), io.StringIO(), err) == 1
    lines = (tmp_path / "list.yaml").read_text().splitlines()
    # the line of the item's own field, inside the List
    name_line = next(i for i, line in enumerate(lines, 1) if line.strip() == "name: Bad_Name")
    assert f"list.yaml:{name_line}: RayCluster/Bad_Name metadata.name:" in err.getvalue()


def test_krm_stream_handles_the_items_of_a_list() -> None:
    code, out, err = krm_call([as_list(example_items())], EXAMPLE_CONFIG.read_text())
    assert code == 0, err
    assert identities(out["items"]) == EXPECTED_COPIES


def test_kpt_keeps_a_list_file_and_copies_its_items(package: Path) -> None:
    for base in BASES:
        (package / "base" / base.name).unlink()
    listed = yaml.safe_dump(as_list(example_items()), sort_keys=False)
    (package / "base" / "list.yaml").write_text(listed)
    proc = kpt_render(package)
    assert proc.returncode == 0, proc.stderr.decode()
    assert yaml.safe_load((package / "base" / "list.yaml").read_text()) == yaml.safe_load(listed)
    for tenant in TENANTS:
        cluster = yaml.safe_load((package / "overlays" / tenant / "raycluster_raycluster.yaml").read_text())
        assert cluster["metadata"]["namespace"] == tenant
    again = tree(package)
    assert kpt_render(package).returncode == 0
    assert {k: yaml.safe_load(v) for k, v in tree(package).items()} == {
        k: yaml.safe_load(v) for k, v in again.items()
    }


def test_kubectl_kustomize_builds_a_list_of_bases_with_the_plugin(tmp_path: Path, plugin_home: Path) -> None:
    resources = {"list.yaml": yaml.safe_dump(as_list(example_items()))}
    proc = kustomize(tmp_path / "k", plugin_home, resources, EXAMPLE_CONFIG.read_text())
    assert proc.returncode == 0, proc.stderr.decode()
    assert identities(yaml.safe_load_all(proc.stdout)) == EXPECTED_COPIES


# --- an outputDir that holds the bases ----------------------------------------------------------------


@pytest.mark.parametrize("output_dir", ["base", ".", "./base/"])
def test_kpt_refuses_an_output_dir_that_holds_the_bases(package: Path, output_dir: str) -> None:
    spec = EXAMPLE_CONFIG.read_text().replace("spec:\n", f"spec:\n  outputDir: {output_dir!r}\n", 1)
    (package / "tenants.yaml").write_text(spec)
    before = tree(package)
    proc = kpt_render(package)
    assert proc.returncode != 0
    assert tree(package) == before
    assert "spec.outputDir: outputDir " in proc.stderr.decode()
    assert "holds the base RayCluster/raycluster (base/raycluster.yaml)" in proc.stderr.decode()


def test_an_output_dir_beside_the_bases_is_fine_even_inside_the_package_root(package: Path) -> None:
    spec = EXAMPLE_CONFIG.read_text().replace("spec:\n", "spec:\n  outputDir: deploy/tenants\n", 1)
    (package / "tenants.yaml").write_text(spec)
    proc = kpt_render(package)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (package / "deploy" / "tenants" / "mlops" / "raycluster_raycluster.yaml").is_file()
