"""Namespace overlays: built with the real kustomize, they give exactly what `output: resources` gives."""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from krm_fn import cli
from krm_fn.config import TENANT_LABEL
from krm_fn.overlays import patches
from tests.conftest import DEFAULT_ISOLATION_FILES, REPO, TESTDATA, require_tool, run

CASES_DIR = TESTDATA / "overlays"
EXAMPLE = "example"  # the shipped example: base/ and overlays/tenants.yaml of the repository
CASES = [EXAMPLE, *sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())]
REGENERATE = "ray-tenants render --config overlays/tenants.yaml --output overlays --out overlays base/"
Key = tuple[str, str, str, str]
# what every tenant folder holds when the spec asks for nothing more than the defaults
TENANT_FILES = ("kustomization.yaml", "namespace.yaml", *DEFAULT_ISOLATION_FILES)
GATEWAY = "_gateway"  # the overlay of the objects in the gateway's namespace


# --- helpers -------------------------------------------------------------------------------------


def stage(case: str, dest: Path) -> Path:
    """A folder holding the case's `base/` and `tenants.yaml`."""
    dest.mkdir(parents=True, exist_ok=True)
    if case == EXAMPLE:
        shutil.copytree(REPO / "base", dest / "base")
        shutil.copy(REPO / "overlays" / "tenants.yaml", dest / "tenants.yaml")
    else:
        shutil.copytree(CASES_DIR / case / "base", dest / "base")
        shutil.copy(CASES_DIR / case / "tenants.yaml", dest / "tenants.yaml")
    return dest


def render(*args: str) -> tuple[int, str, str]:
    """`ray-tenants render ARGS` in-process, in the current folder."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["render", *args], out, err)
    return code, out.getvalue(), err.getvalue()


def render_overlays(config: str = "tenants.yaml", out: str = "overlays") -> str:
    code, stdout, stderr = render("--config", config, "--output", "overlays", "--out", out, "base")
    assert code == 0, stderr
    return stdout


def key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(obj["apiVersion"]), str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"]))


def resources_by_tenant(config: str = "tenants.yaml") -> dict[str, dict[Key, Any]]:
    """The `output: resources` expansion, per tenant (and the gateway's namespace), by identity."""
    code, stream, stderr = render("--config", config, "--output", "resources", "base")
    assert code == 0, stderr
    access = yaml.safe_load(Path(config).read_text())["spec"].get("access") or {}
    gateway = (access.get("gateway") or {}).get("namespace")
    out: dict[str, dict[Key, Any]] = {}
    for obj in yaml.safe_load_all(stream):
        meta = obj["metadata"]
        folder = GATEWAY if gateway and meta.get("namespace") == gateway else meta["labels"][TENANT_LABEL]
        out.setdefault(folder, {})[key(obj)] = obj
    return out


def kustomize(kubectl: str, folder: str | Path) -> dict[Key, Any]:
    built = run([kubectl, "kustomize", folder])
    assert built.returncode == 0, built.stderr.decode()
    return {key(obj): obj for obj in yaml.safe_load_all(built.stdout) if obj is not None}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- equivalence with the real kustomize ---------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_overlay_builds_exactly_the_tenants_resources(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubectl = require_tool("kubectl", "the overlays are proven with the real kustomize")
    monkeypatch.chdir(stage(case, tmp_path))
    expected = resources_by_tenant()
    render_overlays()
    assert sorted(p.name for p in Path("overlays").iterdir()) == sorted(expected)
    for tenant, objects in expected.items():
        built = kustomize(kubectl, f"overlays/{tenant}")
        assert sorted(built) == sorted(objects), tenant
        for k, obj in objects.items():
            assert built[k] == obj, f"{tenant}: {k}"


def test_spot_placement_reaches_the_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the equivalence test against a vacuous pass: the overlay itself pins the workers.

    The overlay's RayCluster patch is applied here with jsonpatch (no kustomize needed): every
    worker group of the result needs Spot and its pool in every required term, and tolerates the
    pool's taint; the head and the opted-out tenant's workers get nothing.
    """
    monkeypatch.chdir(stage("groups", tmp_path))
    render_overlays()
    base_file = next(p for p in Path("base").iterdir() if "kind: RayCluster" in p.read_text())
    base = yaml.safe_load(base_file.read_text())
    pools = {"small": "spot-small", "large": "spot-large", "gpu": "spot-gpu", "highmem": "spot-highmem"}
    assert sorted(g["groupName"] for g in base["spec"]["workerGroupSpecs"]) == sorted(pools)
    for tenant, pinned in (("team-a", True), ("team-b", True), ("on-demand", False)):
        kust = yaml.safe_load(Path(f"overlays/{tenant}/kustomization.yaml").read_text())
        ops = [
            op
            for p in kust.get("patches") or []
            if p["target"]["kind"] == "RayCluster"
            for op in yaml.safe_load(p["patch"])
        ]
        out = jsonpatch.apply_patch(base, ops)
        assert out["spec"]["headGroupSpec"] == base["spec"]["headGroupSpec"]
        for group in out["spec"]["workerGroupSpecs"]:
            pod = group["template"]["spec"]
            pool = pools[group["groupName"]]
            wanted = [
                {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]},
                {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": [pool]},
            ]
            terms = (
                ((pod.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution", {})
                .get("nodeSelectorTerms")
            )
            taint = {"key": "dedicated", "operator": "Equal", "value": pool, "effect": "NoSchedule"}
            if pinned:
                assert terms, (tenant, group["groupName"])
                assert all(w in t["matchExpressions"] for t in terms for w in wanted), (tenant, terms)
                assert taint in pod["tolerations"]
            else:
                assert not terms and taint not in (pod.get("tolerations") or [])


def test_existing_terms_are_guarded_and_anded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stage("affinities", tmp_path))
    render_overlays()
    text = Path("overlays/alpha/kustomization.yaml").read_text()
    patch = next(
        yaml.safe_load(p["patch"])
        for p in yaml.safe_load(text)["patches"]
        if p["target"]["kind"] == "RayCluster"
    )
    terms = "/spec/workerGroupSpecs/0/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"
    assert [op["path"] for op in patch if op["op"] == "test"][:3] == [
        "/spec/workerGroupSpecs/0/groupName",
        f"{terms}/0",
        f"{terms}/1",
    ]
    # each existing term gets the Spot requirements appended, none is replaced or added
    assert {op["path"] for op in patch if op["path"].startswith(terms) and op["op"] != "test"} == {
        f"{terms}/0/matchExpressions/-",
        f"{terms}/1/matchExpressions/-",
    }


# --- stale overlays fail loudly ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "tenant", "edit"),
    [
        ("groups", "team-a", "reverse"),
        ("groups", "team-b", "rename"),
        (EXAMPLE, "research", "reverse"),  # the tenant's own patch is guarded too
    ],
)
def test_stale_overlay_fails_the_build(
    case: str, tenant: str, edit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubectl = require_tool("kubectl", "the guard is kustomize's test operation")
    monkeypatch.chdir(stage(case, tmp_path))
    render_overlays()
    kustomize(kubectl, f"overlays/{tenant}")  # builds before the base changes
    base_file = next(
        p
        for p in Path("base").iterdir()
        if p.name != "kustomization.yaml" and "kind: RayCluster" in p.read_text()
    )
    base = yaml.safe_load(base_file.read_text())
    groups = base["spec"]["workerGroupSpecs"]
    if edit == "reverse":
        groups.reverse()
    else:
        groups[1]["groupName"] = "renamed"
    base_file.write_text(yaml.safe_dump(base, sort_keys=False))
    built = run([kubectl, "kustomize", f"overlays/{tenant}"])
    assert built.returncode != 0
    assert b"testing value /spec/workerGroupSpecs/" in built.stderr


# --- kpt -----------------------------------------------------------------------------------------


def kpt_package(case: str, root: Path, fn_exec: Path, output: str = "overlays") -> Path:
    pkg = stage(case, root)
    spec = (pkg / "tenants.yaml").read_text()
    (pkg / "tenants.yaml").write_text(spec.replace("\nspec:\n", f"\nspec:\n  output: {output}\n", 1))
    (pkg / "Kptfile").write_text(
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\npipeline:\n  mutators:\n"
        f"    - exec: {fn_exec}\n      configPath: tenants.yaml\n"
    )
    return pkg


def kpt_render(kpt: str, pkg: Path) -> None:
    result = run([kpt, "fn", "render", "--allow-exec", pkg])
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


def tenants_of(pkg: Path) -> list[str]:
    return [t["name"] for t in yaml.safe_load((pkg / "tenants.yaml").read_text())["spec"]["tenants"]]


@pytest.mark.parametrize("case", ["groups", "patches"])
def test_kpt_render_writes_overlays_idempotently_and_prunes(
    case: str, tmp_path: Path, fn_exec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kpt = require_tool("kpt", "the overlays mode is a kpt generator")
    kubectl = require_tool("kubectl")
    pkg = kpt_package(case, tmp_path / "pkg", fn_exec)
    before = snapshot(pkg)
    tenants = tenants_of(pkg)
    generated = {f"overlays/{t}/{f}" for t in tenants for f in TENANT_FILES}

    kpt_render(kpt, pkg)
    first = snapshot(pkg)
    assert set(first) == set(before) | generated
    assert {f: first[f] for f in before} == before  # bases, spec and Kptfile untouched
    kust = yaml.safe_load(first[f"overlays/{tenants[0]}/kustomization.yaml"])
    assert kust["metadata"]["annotations"] == {"config.kubernetes.io/local-config": "true"}
    for tenant in tenants:
        kustomize(kubectl, pkg / "overlays" / tenant)

    kpt_render(kpt, pkg)
    assert snapshot(pkg) == first  # re-render changes nothing

    # the standalone command writes the same bytes
    monkeypatch.chdir(stage(case, tmp_path / "standalone"))
    render_overlays()
    standalone = snapshot(Path("overlays"))
    assert standalone == {f.removeprefix("overlays/"): v for f, v in first.items() if f in generated}

    spec = yaml.safe_load(first["tenants.yaml"])
    gone = spec["spec"]["tenants"].pop()["name"]
    (pkg / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    kpt_render(kpt, pkg)
    after = snapshot(pkg)
    removed = {f"overlays/{gone}/{f}" for f in TENANT_FILES}
    assert set(after) == set(first) - removed
    assert {f: v for f, v in after.items() if f != "tenants.yaml"} == {
        f: v for f, v in first.items() if f not in removed and f != "tenants.yaml"
    }
    # kpt deletes the files; a folder it emptied stays on disk (git does not track it)
    assert not any((pkg / "overlays" / gone).glob("*"))


def test_kpt_switching_to_overlays_prunes_the_copies(tmp_path: Path, fn_exec: Path) -> None:
    kpt = require_tool("kpt", "the overlays mode is a kpt generator")
    pkg = kpt_package("groups", tmp_path / "pkg", fn_exec, output="resources")
    kpt_render(kpt, pkg)
    assert (pkg / "overlays/team-a/raycluster_shared.yaml").is_file()
    spec = (pkg / "tenants.yaml").read_text()
    (pkg / "tenants.yaml").write_text(spec.replace("output: resources", "output: overlays"))
    kpt_render(kpt, pkg)
    assert sorted(p.name for p in (pkg / "overlays/team-a").iterdir()) == sorted(TENANT_FILES)


# --- standalone ----------------------------------------------------------------------------------


def test_shipped_overlays_are_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "base", tmp_path / "base")
    shutil.copytree(REPO / "overlays", tmp_path / "overlays")
    monkeypatch.chdir(tmp_path)
    changes = render_overlays(config="overlays/tenants.yaml")
    assert not changes, f"overlays/ is out of date ({changes.strip()}); regenerate with: {REGENERATE}"
    assert snapshot(tmp_path / "overlays") == snapshot(REPO / "overlays")


def test_standalone_prunes_only_what_it_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stage("groups", tmp_path))
    assert render_overlays().splitlines() == [
        f"wrote overlays/{t}/{f}" for t in ("on-demand", "team-a", "team-b") for f in sorted(TENANT_FILES)
    ]
    assert render_overlays() == ""  # nothing changes, nothing is rewritten
    Path("overlays/team-b/notes.yaml").write_text("kind: Note\nmetadata: {name: mine}\n")
    Path("overlays/team-a/extra.yaml").write_text("not: ours\n")
    spec = yaml.safe_load(Path("tenants.yaml").read_text())
    spec["spec"]["tenants"] = [t for t in spec["spec"]["tenants"] if t["name"] not in ("team-a", "team-b")]
    Path("tenants.yaml").write_text(yaml.safe_dump(spec))
    assert render_overlays().splitlines() == [
        f"removed overlays/{t}/{f}" for t in ("team-a", "team-b") for f in sorted(TENANT_FILES)
    ]
    assert sorted(p.as_posix() for p in Path("overlays").rglob("*") if p.is_file()) == sorted(
        [
            *(f"overlays/on-demand/{f}" for f in TENANT_FILES),
            "overlays/team-a/extra.yaml",
            "overlays/team-b/notes.yaml",
        ]
    )


def test_resources_stream_leaves_out_kustomizations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stage("patches", tmp_path))  # its base kustomization has no apiVersion or kind
    code, stream, stderr = render("--config", "tenants.yaml", "base")
    assert code == 0, stderr
    kinds = {obj["kind"] for obj in yaml.safe_load_all(stream)}
    assert kinds == {"Namespace", "RayCluster", "ConfigMap", "Role", "RoleBinding", "NetworkPolicy"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "overlays"], "output: overlays writes tenant folders: pass --out DIR"),
        (["--out", "overlays"], "--out is for output: overlays"),
    ],
)
def test_standalone_options(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stage("groups", tmp_path))
    code, _, stderr = render("--config", "tenants.yaml", *args, "base")
    assert code == 1
    assert message in stderr


# --- base folders --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("unlisted", "does not list 'virtualservice.yaml', which holds base objects"),
        ("extra", "lists 'other.yaml', which holds no base object among the inputs"),
        ("transform", "a base kustomization may only list the base files; 'namePrefix'"),
    ],
)
def test_base_folder_must_list_exactly_the_bases(
    edit: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stage("groups", tmp_path))
    kust = Path("base/kustomization.yaml")
    if edit == "unlisted":
        kust.write_text("resources:\n  - raycluster.yaml\n")
    elif edit == "extra":
        kust.write_text(kust.read_text() + "  - other.yaml\n")
    else:
        kust.write_text(kust.read_text() + "namePrefix: x-\n")
    code, stdout, stderr = render(
        "--config", "tenants.yaml", "--output", "overlays", "--out", "overlays", "base"
    )
    assert code == 1
    assert message in stderr
    assert stdout == ""
    assert not Path("overlays").exists()


def test_output_folder_inside_the_base_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stage("groups", tmp_path))
    code, _, stderr = render(
        "--config", "tenants.yaml", "--output", "overlays", "--out", "base/overlays", "base"
    )
    assert code == 1
    assert "kustomize refuses an overlay inside the folder it builds" in stderr


# --- the patches themselves ----------------------------------------------------------------------


def wrap(spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}, "spec": spec}


def test_named_entries_are_guarded_by_name() -> None:
    base = wrap({"groups": [{"groupName": "a", "n": 1}, {"groupName": "b", "n": 1}]})
    copy = wrap({"groups": [{"groupName": "a", "n": 1}, {"groupName": "b", "n": 2}]})
    assert patches.patch_ops(base, copy) == [
        {"op": "test", "path": "/spec/groups/1/groupName", "value": "b"},
        {"op": "replace", "path": "/spec/groups/1/n", "value": 2},
    ]


def test_appends_need_no_index_and_reorders_are_replaced() -> None:
    base = wrap({"tolerations": [{"key": "a"}], "hosts": ["a", "b"]})
    copy = wrap({"tolerations": [{"key": "a"}, {"key": "b"}], "hosts": ["b", "a"]})
    assert patches.patch_ops(base, copy) == [
        {"op": "add", "path": "/spec/tolerations/-", "value": {"key": "b"}},
        {"op": "replace", "path": "/spec/hosts", "value": ["b", "a"]},
    ]


def test_what_the_kustomization_sets_is_not_patched() -> None:
    base = wrap({})
    base["metadata"]["annotations"] = {"config.kubernetes.io/path": "base/x.yaml"}
    copy = wrap({})
    copy["metadata"].update(
        namespace="t",
        labels={"app.kubernetes.io/managed-by": "ray-tenants", TENANT_LABEL: "t"},
    )
    assert patches.patch_ops(base, copy) == []


def test_a_patch_that_misses_the_copy_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "_diff", lambda a, b, path, ops: None)
    with pytest.raises(patches.PatchMismatch, match="Thing/x"):
        patches.patch_ops(wrap({"a": 1}), wrap({"a": 2}))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "a", "y", "1e3", "a/b~c"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["name", "groupName", "a", "b/c", "~"]), inner, max_size=4)
    ),
    max_leaves=20,
)
NAMED = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["p", "q", "r", "s"]), "v": JSON}), max_size=4
).map(lambda entries: list({e["name"]: e for e in entries}.values()))


@settings(max_examples=300, deadline=None)
@given(JSON, JSON, NAMED, NAMED)
def test_patch_ops_reproduce_any_copy_and_guard_every_index(a: Any, b: Any, na: Any, nb: Any) -> None:
    base, copy = wrap({"x": a, "named": na}), wrap({"x": b, "named": nb})
    ops = patches.patch_ops(base, copy)
    # applied by jsonpatch, not by the builder's own check: the guards hold on the base and the
    # ops give exactly the copy
    assert jsonpatch.apply_patch(base, ops) == copy
    assert [op for op in ops if op["op"] != "test"] or base == copy
    for i, op in enumerate(ops):
        parts = op["path"].split("/")
        for depth, part in enumerate(parts):
            if part.isdigit() and op["op"] != "test":
                prefix = "/".join(parts[: depth + 1])
                assert any(
                    t["op"] == "test" and (t["path"] == prefix or t["path"].startswith(prefix + "/"))
                    for t in ops[:i]
                ), (op, ops)
    assert yaml.safe_load(patches.dump_ops(ops)) == ops


@pytest.mark.parametrize(
    "value", ["y", "N", "on", "Off", "1e3", "0755", "0x1F", "1_000", "1:20", "~", "", ".inf"]
)
def test_patch_text_quotes_what_kustomize_would_misread(value: str) -> None:
    text = patches.dump_ops([{"op": "add", "path": "/data/k", "value": value}])
    assert f"value: '{value}'" in text


def test_patch_text_survives_kustomize_trimming_it() -> None:
    ops = [{"op": "add", "path": "/data/run.sh", "value": "#!/bin/sh\necho ready\n"}]
    text = patches.dump_ops(ops)
    assert yaml.safe_load(text.strip()) == ops  # kustomize trims the text before reading it
    inner = [*ops, {"op": "add", "path": "/data/x", "value": "y"}]
    assert "value: |\n" in patches.dump_ops(inner)  # block style wherever trimming is harmless


def test_bases_named_file_by_file_use_their_folders_kustomization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stage("groups", tmp_path))
    files = ["base/raycluster.yaml", "base/virtualservice.yaml"]
    code, _, stderr = render("--config", "tenants.yaml", "--output", "overlays", "--out", "overlays", *files)
    assert code == 0, stderr
    resources = yaml.safe_load(Path("overlays/team-a/kustomization.yaml").read_text())["resources"]
    assert resources[0] == "namespace.yaml" and resources[-1] == "../../base"
    assert sorted(resources[1:-1]) == sorted(DEFAULT_ISOLATION_FILES)


def test_overlays_need_base_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stage("groups", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(Path("base/raycluster.yaml").read_bytes())))
    code, _, stderr = render("--config", "tenants.yaml", "--output", "overlays", "--out", "overlays", "-")
    assert code == 1
    assert "output: overlays references each base by its file" in stderr
