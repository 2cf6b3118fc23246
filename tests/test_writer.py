"""The standalone writer (render --out, check --fix): only its own files, never through a link, whole.

Every refusal is checked against a snapshot of every file, folder and link under the test's
folder (bytes and mtimes): "nothing written" means nothing at all changed, the links' targets
included.
"""

from __future__ import annotations

import errno
import io
import os
import resource
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, writer
from krm_fn.config import MANAGED_BY, TENANT_LABEL, parse_config
from krm_fn.items import owner_tenant
from krm_fn.package import expand_placed
from krm_fn.results import FnError
from tests.conftest import DEFAULT_ISOLATION, DEFAULT_ISOLATION_FILES, REPO, require_tool, run

RENDER = ("render", "--config", "tenants.yaml", "--output", "overlays", "--out", "overlays", "base")
Snapshot = dict[str, tuple[str, bytes | str, int]]


# --- helpers -------------------------------------------------------------------------------------


def workspace(tmp: Path, tenants: tuple[str, ...] = ("mlops", "research")) -> Path:
    """The repository's bases and tenant spec in `tmp/ws` (tenants renamed as asked), no overlays."""
    ws = tmp / "ws"
    shutil.copytree(REPO / "base", ws / "base")
    spec: dict[str, Any] = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    shipped = spec["spec"]["tenants"]
    spec["spec"]["tenants"] = [{**shipped[i % len(shipped)], "name": name} for i, name in enumerate(tenants)]
    (ws / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ws


def cmd(ws: Path, *args: str) -> tuple[int, str, str]:
    """`ray-tenants ARGS` in-process in `ws`: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ws)
        code = cli.main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def render(ws: Path, *extra: str) -> tuple[int, str, str]:
    return cmd(ws, *RENDER, *extra)


def snapshot(top: Path) -> Snapshot:
    """Every folder, file and link under `top`, links not followed: kind, content, mtime."""
    out: Snapshot = {}
    for folder, dirs, files in os.walk(top, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            st = path.lstat()
            rel = path.relative_to(top).as_posix()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
            elif path.is_dir():
                out[rel] = ("dir", b"", 0)  # a folder's mtime changes with a temp file made and removed
            else:
                out[rel] = ("file", path.read_bytes(), st.st_mtime_ns)
    return out


def temp_files(top: Path) -> list[Path]:
    return [p for p in top.rglob(f"*{writer.TEMP_SUFFIX}")]


def labelled(kind: str, name: str, tenant: str, api: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": tenant,
            "labels": {MANAGED_BY: "ray-tenants", TENANT_LABEL: tenant},
        },
    }


# --- what the function owns ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param(
            "kustomization.yaml",
            "# ours, by hand\nresources:\n  - ../../base\n",
            id="hand-written-kustomization",
        ),
        pytest.param(
            "namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mlops\n", id="namespace"
        ),
        pytest.param(
            "namespace.yaml",
            yaml.safe_dump(labelled("Namespace", "research", "research")),
            id="labelled-for-another-tenant",
        ),
        pytest.param(
            "kustomization.yaml",
            yaml.safe_dump(labelled("ConfigMap", "cm", "mlops")),
            id="labelled-but-not-what-goes-there",
        ),
        pytest.param(
            "kustomization.yaml",
            yaml.safe_dump(labelled("Kustomization", "mlops", "mlops", "kustomize.config.k8s.io/v1beta1"))
            + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n",
            id="one-foreign-object-among-ours",
        ),
        pytest.param("kustomization.yaml", "resources: [\n", id="not-yaml"),
        pytest.param("kustomization.yml", "resources:\n  - ../../base\n", id="another-kustomization-name"),
    ],
)
def test_a_file_the_function_did_not_write_is_never_overwritten(tmp_path: Path, name: str, text: str) -> None:
    ws = workspace(tmp_path)
    (ws / "overlays" / "mlops").mkdir(parents=True)
    mine = ws / "overlays" / "mlops" / name
    mine.write_text(text)
    before = snapshot(tmp_path)
    code, stdout, stderr = render(ws)
    assert code == 1
    assert stdout == ""
    assert f"overlays/mlops/{name}: " in stderr
    assert "not generated by ray-tenants" in stderr
    assert "Traceback" not in stderr
    assert snapshot(tmp_path) == before  # not even research's folder, which had no conflict


def test_out_dot_with_a_tenant_named_like_the_base_folder_leaves_the_base_alone(tmp_path: Path) -> None:
    ws = workspace(tmp_path, tenants=("base", "research"))
    base_kust = (ws / "base" / "kustomization.yaml").read_bytes()
    before = snapshot(tmp_path)
    code, _, stderr = cmd(
        ws, "render", "--config", "tenants.yaml", "--output", "overlays", "--out", ".", "base"
    )
    assert code == 1
    assert "base/kustomization.yaml: exists and was not generated by ray-tenants for tenant 'base'" in stderr
    assert (ws / "base" / "kustomization.yaml").read_bytes() == base_kust
    assert snapshot(tmp_path) == before


def test_out_dot_with_the_base_kustomization_named_yml_is_refused_too(tmp_path: Path) -> None:
    ws = workspace(tmp_path, tenants=("base",))
    (ws / "base" / "kustomization.yaml").rename(ws / "base" / "kustomization.yml")
    before = snapshot(tmp_path)
    code, _, stderr = cmd(
        ws, "render", "--config", "tenants.yaml", "--output", "overlays", "--out", ".", "base"
    )
    assert code == 1
    assert "base/kustomization.yml: not generated by ray-tenants" in stderr
    assert snapshot(tmp_path) == before


def test_a_labelled_file_of_the_user_in_a_live_tenant_folder_is_kept(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    assert render(ws)[0] == 0
    extra = ws / "overlays" / "mlops" / "extra.yaml"
    extra.write_text(yaml.safe_dump(labelled("ConfigMap", "extra", "mlops")))
    before = extra.read_bytes()
    spec = ws / "tenants.yaml"
    spec.write_text(spec.read_text().replace("value: 8", "value: 9"))  # research's kustomization changes
    code, stdout, stderr = render(ws)
    assert (code, stdout) == (0, "wrote overlays/research/kustomization.yaml\n"), stderr
    assert extra.read_bytes() == before
    # check agrees: not drift, not pruned by --fix, and the check passes
    check = ("check", "--config", "tenants.yaml", "--select", "drift", "base", "overlays")
    assert cmd(ws, *check)[:2] == (0, "")
    spec.write_text(spec.read_text().replace("value: 9", "value: 10"))
    code, stdout, _ = cmd(ws, *check, "--fix")
    assert (code, stdout) == (1, "wrote overlays/research/kustomization.yaml\n")
    assert extra.read_bytes() == before
    assert cmd(ws, *check)[:2] == (0, "")


def test_a_dropped_tenant_loses_only_the_files_the_function_wrote(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    assert render(ws)[0] == 0
    folder = ws / "overlays" / "research"
    (folder / "notes.yaml").write_text(yaml.safe_dump(labelled("ConfigMap", "notes", "research")))
    (folder / "README.md").write_text("kept\n")
    spec = ws / "tenants.yaml"
    data = yaml.safe_load(spec.read_text())
    data["spec"]["tenants"] = data["spec"]["tenants"][:1]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    code, stdout, stderr = render(ws)
    assert code == 0, stderr
    assert stdout.splitlines() == [
        f"removed overlays/research/{name}"
        for name in sorted(("kustomization.yaml", "namespace.yaml", *DEFAULT_ISOLATION_FILES))
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "notes.yaml"]


def test_check_fix_in_a_kpt_layout_keeps_labelled_files_that_are_not_its_own(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (ws / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: ws\n")
    spec = ws / "overlays" / "tenants.yaml"
    spec.parent.mkdir()
    (ws / "tenants.yaml").rename(spec)
    fix = ("check", "--select", "drift", "--fix", ".")
    assert cmd(ws, *fix)[0] == 1  # regenerated
    assert cmd(ws, "check", "--select", "drift", ".")[:2] == (0, "")
    inside = ws / "overlays" / "research" / "extra.yaml"
    inside.write_text(yaml.safe_dump(labelled("ConfigMap", "extra", "research")))
    (ws / "deploy").mkdir()
    outside = ws / "deploy" / "configmap_old.yaml"
    outside.write_text(yaml.safe_dump(labelled("ConfigMap", "old", "research")))
    kept = {p: p.read_bytes() for p in (inside, outside)}
    data = yaml.safe_load(spec.read_text())
    data["spec"]["tenants"] = data["spec"]["tenants"][:1]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    code, stdout, _ = cmd(ws, *fix)
    assert code == 1
    assert "removed overlays/research/namespace.yaml" in stdout
    assert {p: p.read_bytes() for p in kept} == kept
    assert sorted(p.name for p in (ws / "overlays" / "research").iterdir()) == ["extra.yaml"]
    assert cmd(ws, "check", "--select", "drift", ".")[:2] == (0, "")


def test_check_fix_refuses_to_overwrite_a_hand_written_file_at_a_generated_path(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (ws / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: ws\n")
    (ws / "overlays" / "mlops").mkdir(parents=True)
    (ws / "tenants.yaml").rename(ws / "overlays" / "tenants.yaml")
    (ws / "overlays" / "mlops" / "namespace.yaml").write_text(
        "# mine\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: mlops\n"
    )
    before = snapshot(tmp_path)
    code, stdout, _ = cmd(ws, "check", "--select", "drift", "--fix", ".")
    assert code == 1
    assert "overlays/mlops/namespace.yaml: exists and was not generated by ray-tenants" in stdout
    assert "regenerated" not in stdout
    assert snapshot(tmp_path) == before


def test_an_empty_file_at_a_generated_path_is_replaced(tmp_path: Path) -> None:
    # what an interrupted write of an earlier version left: nothing in it to lose
    ws = workspace(tmp_path)
    (ws / "overlays" / "mlops").mkdir(parents=True)
    (ws / "overlays" / "mlops" / "kustomization.yaml").write_text("")
    code, stdout, stderr = render(ws)
    assert code == 0, stderr
    assert "wrote overlays/mlops/kustomization.yaml" in stdout


def test_generated_names_are_the_expansions(tmp_path: Path) -> None:
    """The writer's naming rule and expand's placement are one rule, in both output modes."""
    ws = workspace(tmp_path)
    spec = yaml.safe_load((ws / "tenants.yaml").read_text())
    bases = [
        yaml.safe_load((ws / "base" / n).read_text()) for n in ("raycluster.yaml", "virtualservice.yaml")
    ]
    files = ["base/raycluster.yaml", "base/virtualservice.yaml"]
    kust = yaml.safe_load((ws / "base" / "kustomization.yaml").read_text())
    for output in ("resources", "overlays"):
        config = parse_config({**spec, "spec": {**spec["spec"], "output": output}}, "tenants.yaml")
        items = [*bases, kust] if output == "overlays" else bases
        sources = [*files, "base/kustomization.yaml"] if output == "overlays" else files
        if output == "resources":  # kpt placement happens where items carry paths
            items = [
                {**b, "metadata": {**b["metadata"], "annotations": {"config.kubernetes.io/path": f}}}
                for b, f in zip(bases, files, strict=True)
            ]
        outcome = expand_placed(items, config, spec, sources, kpt=output == "resources")
        assert not outcome.failed, outcome.results
        placed = [o for o in outcome.items if owner_tenant(o)]
        isolation = 2 * len(DEFAULT_ISOLATION)  # two tenants
        assert len(placed) == (6 if output == "resources" else 4) + isolation
        for obj in placed:
            path = Path(obj["metadata"]["annotations"]["config.kubernetes.io/path"])
            assert writer.generated_name(obj) == path.name
            assert path.parent.name == owner_tenant(obj)


def test_files_kpt_wrote_count_as_the_functions(tmp_path: Path, fn_exec: Path) -> None:
    kpt = require_tool("kpt")
    ws = workspace(tmp_path)
    (ws / "overlays").mkdir()
    (ws / "tenants.yaml").rename(ws / "overlays" / "tenants.yaml")
    (ws / "Kptfile").write_text(
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: ws\n  annotations:\n"
        '    config.kubernetes.io/local-config: "true"\npipeline:\n  mutators:\n'
        f"    - exec: {fn_exec}\n      configPath: overlays/tenants.yaml\n"
    )
    done = run([kpt, "fn", "render", "--allow-exec", "."], cwd=ws)
    assert done.returncode == 0, done.stderr.decode()
    assert (ws / "overlays" / "mlops" / "raycluster_raycluster.yaml").is_file()
    spec = ws / "overlays" / "tenants.yaml"  # the Namespace changes: kpt's file is to be replaced
    spec.write_text(spec.read_text().replace("istio-injection: enabled", "istio-injection: disabled"))
    code, stdout, stderr = cmd(
        ws, "render", "--config", "overlays/tenants.yaml", "--output", "overlays", "--out", "overlays", "base"
    )
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert "wrote overlays/mlops/namespace.yaml" in lines  # kpt's copy, replaced
    assert "removed overlays/mlops/raycluster_raycluster.yaml" in lines
    assert "removed overlays/research/virtualservice_ray-dashboard.yaml" in lines
    assert sorted(p.name for p in (ws / "overlays" / "mlops").iterdir()) == sorted(
        ["kustomization.yaml", "namespace.yaml", *DEFAULT_ISOLATION_FILES]
    )


# --- symbolic links --------------------------------------------------------------------------------


def link_tenant_folder_outside(ws: Path) -> Path:
    victim = ws.parent / "elsewhere"
    victim.mkdir()
    (victim / "kustomization.yaml").write_text("resources: [precious.yaml]\n")
    (ws / "overlays").mkdir()
    (ws / "overlays" / "mlops").symlink_to(victim, target_is_directory=True)
    return ws / "overlays" / "mlops"


def link_tenant_folder_onto_base(ws: Path) -> Path:
    (ws / "overlays").mkdir()
    (ws / "overlays" / "mlops").symlink_to(Path("..") / "base", target_is_directory=True)
    return ws / "overlays" / "mlops"


def link_file_onto_base(ws: Path) -> Path:
    (ws / "overlays" / "mlops").mkdir(parents=True)
    link = ws / "overlays" / "mlops" / "kustomization.yaml"
    link.symlink_to(Path("..") / ".." / "base" / "kustomization.yaml")
    return link


def link_file_outside(ws: Path) -> Path:
    (ws / "overlays" / "research").mkdir(parents=True)
    target = ws.parent / "precious.yaml"
    target.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: research\n")
    link = ws / "overlays" / "research" / "namespace.yaml"
    link.symlink_to(target)
    return link


def link_file_dangling(ws: Path) -> Path:
    (ws / "overlays" / "mlops").mkdir(parents=True)
    link = ws / "overlays" / "mlops" / "namespace.yaml"
    link.symlink_to(ws.parent / "not-yet")  # writing through it would create a file there
    return link


@pytest.mark.parametrize(
    "make_link",
    [
        link_tenant_folder_outside,
        link_tenant_folder_onto_base,
        link_file_onto_base,
        link_file_outside,
        link_file_dangling,
    ],
)
@pytest.mark.parametrize("front", ["render", "check --fix"])
def test_a_symbolic_link_on_the_way_is_refused(
    tmp_path: Path, make_link: Callable[[Path], Path], front: str
) -> None:
    ws = workspace(tmp_path)
    link = make_link(ws)
    before = snapshot(tmp_path)
    if front == "render":
        code, stdout, stderr = render(ws)
        said = stderr
    else:
        spec = ws / "tenants.yaml"  # check regenerates overlays when the spec asks for them
        spec.write_text(spec.read_text() + "  output: overlays\n")
        before = snapshot(tmp_path)
        code, stdout, stderr = cmd(
            ws, "check", "--config", "tenants.yaml", "--select", "drift", "--fix", "base"
        )
        said = stdout
    assert code == 1
    assert (
        f"{link.relative_to(ws).as_posix()}: is a symbolic link: ray-tenants never writes through one" in said
    )
    assert "Traceback" not in stderr
    assert snapshot(tmp_path) == before


def test_a_stale_tenant_folder_that_is_a_link_is_not_pruned_through(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "namespace.yaml").write_text(yaml.safe_dump(labelled("Namespace", "old", "old")))
    (ws / "overlays").mkdir()
    (ws / "overlays" / "old").symlink_to(victim, target_is_directory=True)
    code, stdout, stderr = render(ws)
    assert code == 0, stderr
    assert "old" not in stdout
    assert (victim / "namespace.yaml").is_file()


# --- whole files or nothing ----------------------------------------------------------------------


def _limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def render_process(ws: Path, limit: int) -> tuple[int, str, str]:
    """The real command in its own process, every file it writes limited to `limit` bytes."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "krm_fn", *RENDER],
        cwd=ws,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=_limit_file_size(limit),
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.parametrize("previous", [True, False], ids=["over-previous-files", "fresh"])
def test_a_full_disk_is_a_clear_error_and_changes_nothing(tmp_path: Path, previous: bool) -> None:
    ws = workspace(tmp_path)
    if previous:
        assert render(ws)[0] == 0
        spec = ws / "tenants.yaml"  # every kustomization changes, and grows
        spec.write_text(spec.read_text().replace("spot-cpu", "spot-cpu-pool").replace("value: 8", "value: 9"))
    before = snapshot(tmp_path)
    # a Namespace file fits, a kustomization does not: some temporary files exist when it fails
    code, stdout, stderr = render_process(ws, 600)
    assert code == 1, stderr
    assert stdout == ""
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert "kustomization.yaml: cannot write: File too large; nothing was changed" in stderr, stderr
    assert snapshot(tmp_path) == before
    assert temp_files(tmp_path) == []


def owned_files(out: Path, names: tuple[str, ...]) -> dict[Path, str]:
    """Files of tenant `a` under `out` as the function would have written them, and their new texts."""
    (out / "a").mkdir(parents=True)
    new = {}
    for name in names:
        kind = name.removesuffix(".yaml").split("_")[0]
        obj = labelled(kind.capitalize(), name.removesuffix(".yaml").split("_")[-1], "a")
        (out / "a" / name).write_text(yaml.safe_dump(obj) + "# old\n" * 200)
        new[out / "a" / name] = yaml.safe_dump(obj) + "# new\n" * 300
    return new


def test_a_failed_rename_midway_leaves_each_file_old_or_new_never_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    files = owned_files(out, ("namespace.yaml", "configmap_x.yaml", "configmap_y.yaml"))
    old = {p: p.read_text() for p in files}
    real_replace = os.replace
    calls: list[object] = []

    def flaky_replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(FnError) as caught:
        writer.write_files(out, files)
    [result] = caught.value.results
    assert "cannot replace: Input/output error; already done: wrote " in result.message
    assert result.file == Path(str(calls[1])).as_posix()
    texts = {p: p.read_text() for p in files}
    assert sum(texts[p] == files[p] for p in files) == 1  # the first rename happened
    assert all(texts[p] in (old[p], files[p]) for p in files)
    assert temp_files(tmp_path) == []


def test_a_failed_write_midway_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    files = owned_files(out, ("namespace.yaml", "configmap_x.yaml"))
    files[out / "b" / "namespace.yaml"] = yaml.safe_dump(labelled("Namespace", "b", "b"))
    before = snapshot(tmp_path)
    real_fsync = os.fsync
    calls: list[int] = []

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(FnError) as caught:
        writer.write_files(out, files)
    assert caught.value.results[0].message == "cannot write: No space left on device; nothing was changed"
    assert snapshot(tmp_path) == before  # the new folder b/ is gone again
    assert temp_files(tmp_path) == []


def test_modes_are_kept_and_new_files_follow_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = owned_files(out, ("namespace.yaml",))
    (out / "a" / "namespace.yaml").chmod(0o640)
    files[out / "b" / "namespace.yaml"] = yaml.safe_dump(labelled("Namespace", "b", "b"))
    old_mask = os.umask(0o027)
    try:
        writer.write_files(out, files)
    finally:
        os.umask(old_mask)
    assert (out / "a" / "namespace.yaml").stat().st_mode & 0o777 == 0o640
    assert (out / "b" / "namespace.yaml").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "target",
    [
        "out/../base/namespace.yaml",
        "out/a/b/namespace.yaml",
        "out/namespace.yaml",
        "elsewhere/a/namespace.yaml",
    ],
)
def test_a_target_outside_the_tenant_folders_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "base").mkdir()
    before = snapshot(tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        with pytest.raises(FnError) as caught:
            writer.write_files("out", {Path(target): "x: 1\n"})
    assert "ray-tenants writes only its tenant folders" in caught.value.results[0].message
    assert snapshot(tmp_path) == before


# --- the written overlays build ------------------------------------------------------------------


def built(kubectl: str, folder: Path) -> Iterator[dict[str, Any]]:
    done = run([kubectl, "kustomize", folder])
    assert done.returncode == 0, done.stderr.decode()
    return (o for o in yaml.safe_load_all(done.stdout) if o)


def test_the_written_overlays_build_with_kustomize_after_every_write(tmp_path: Path) -> None:
    kubectl = require_tool("kubectl")
    ws = workspace(tmp_path)
    spec = ws / "tenants.yaml"
    for pool in ("spot-cpu", "spot-cpu-2"):
        spec.write_text(
            spec.read_text().replace("spot-cpu\n", f"{pool}\n").replace("spot-cpu-2-2", "spot-cpu-2")
        )
        assert render(ws)[0] == 0
        for tenant in ("mlops", "research"):
            objs = list(built(kubectl, ws / "overlays" / tenant))
            [cluster] = [o for o in objs if o["kind"] == "RayCluster"]
            assert cluster["metadata"]["namespace"] == tenant
            cpu = cluster["spec"]["workerGroupSpecs"][0]["template"]["spec"]
            terms = cpu["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            assert {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": [pool]} in terms[
                "nodeSelectorTerms"
            ][0]["matchExpressions"]
            [vs] = [o for o in objs if o["kind"] == "VirtualService"]
            prefixes = [m["uri"].get("prefix") for r in vs["spec"]["http"] for m in r.get("match", [])]
            assert "/" not in prefixes  # not the base's catch-all route
    assert temp_files(tmp_path) == []


def test_an_interrupt_while_writing_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    files = owned_files(out, ("namespace.yaml", "configmap_x.yaml"))
    before = snapshot(tmp_path)
    real_fsync = os.fsync
    calls: list[int] = []

    def interrupted(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write_files(out, files)
    assert snapshot(tmp_path) == before


def test_temporary_files_a_killed_run_left_are_removed_the_users_are_not(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    assert render(ws)[0] == 0
    folder = ws / "overlays" / "mlops"
    left = folder / ".kustomization.yaml.k1ll3d_x.tmp"
    left.write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomiz")
    mine = [folder / ".notes.tmp", folder / ".kustomization.yaml.mine.tmp"]
    for path in mine:
        path.write_text("mine\n")
    code, stdout, stderr = render(ws)
    assert (code, stdout) == (0, f"removed {left.relative_to(ws).as_posix()}\n"), stderr
    assert all(p.read_text() == "mine\n" for p in mine)


def test_many_files_are_written_whole_too(tmp_path: Path) -> None:
    out = tmp_path / "out"
    count = writer.FSYNC_EACH_UP_TO + 8  # past the count flushed one by one
    files = {
        out / f"t{i}" / "namespace.yaml": yaml.safe_dump(labelled("Namespace", f"t{i}", f"t{i}"))
        for i in range(count)
    }
    assert len(writer.write_files(out, files)) == count
    assert {p: p.read_text() for p in files} == files
    assert temp_files(tmp_path) == []
    assert writer.write_files(out, files) == []  # unchanged: nothing written again
