"""Drift of generated objects wherever they are, `check --fix` that settles, and prunes that are said."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import writer
from krm_fn.results import FnError
from tests.check.test_check import check_cli
from tests.check.test_precommit import GIT, git_repo, hook_repo, pre_commit_env, try_repo
from tests.conftest import DEFAULT_ISOLATION_FILES, REPO, require_tool, run
from tests.front_ends.test_kpt import tree

__all__ = ["hook_repo", "pre_commit_env"]  # the hook fixtures, shared with the hook tests

SPEC = "overlays/tenants.yaml"
# a document of the user's in the file the rendered objects were saved to: kept byte for byte
MINE = "---\n# mine, spaced my way\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: mine}\nvalue:   1000\n"


def ray_tenants(cwd: Path, *args: str, stdin: bytes | None = None) -> tuple[int, list[str], str]:
    """The real command in `cwd`, as a process: exit code, stdout lines, stderr."""
    proc = run([sys.executable, "-m", "krm_fn", *args], cwd=cwd, stdin=stdin, PYTHONPATH=str(REPO))
    return proc.returncode, proc.stdout.decode().splitlines(), proc.stderr.decode()


def write_spec(repo: Path, tenants: list[dict[str, Any]]) -> None:
    spec: dict[str, Any] = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    spec["spec"]["tenants"] = tenants
    (repo / SPEC).write_text(yaml.safe_dump(spec, sort_keys=False))


def user_repo(tmp: Path, tenants: tuple[str, ...] = ("mlops", "research")) -> Path:
    """base/ and overlays/tenants.yaml (no patches, workers on Spot), no Kptfile."""
    repo = tmp / "repo"
    shutil.copytree(REPO / "base", repo / "base")
    (repo / "overlays").mkdir()
    write_spec(repo, [{"name": t, "namespaceLabels": {"istio-injection": "enabled"}} for t in tenants])
    return repo


def rendered(repo: Path) -> str:
    """What `ray-tenants render` prints for the repository now: the oracle for the saved file."""
    code, lines, err = ray_tenants(repo, "render", "--config", SPEC, "base")
    assert code == 0, err
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# --fix on stdin, and drift without the bases


def test_fix_on_stdin_is_a_usage_error_naming_the_flag(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    stream = ((repo / SPEC).read_text() + "---\n" + rendered(repo)).encode()
    shutil.rmtree(repo / "base")
    before = tree(repo)
    code, lines, err = ray_tenants(repo, "check", "--select", "drift", "--fix", "-", stdin=stream)
    assert (code, lines) == (2, [])
    assert "--fix" in err and "stdin" in err and "Traceback" not in err
    assert tree(repo) == before
    # without --fix the stream is checked as it is
    assert ray_tenants(repo, "check", "--select", "drift", "-", stdin=stream)[0] == 0


@pytest.mark.parametrize("layout", ["saved-stream", "kpt-folders"])
def test_drift_without_the_bases_says_so_once_and_judges_nothing_stale(tmp_path: Path, layout: str) -> None:
    repo = user_repo(tmp_path)
    if layout == "saved-stream":
        (repo / "all.yaml").write_text(rendered(repo))
    else:
        (repo / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
        assert check_cli("--select", "drift", "--fix", ".", cwd=repo)[0] == 1  # overlays/<tenant>/ written
    shutil.rmtree(repo / "base")
    before = tree(repo)
    want = (
        "drift needs the bases the spec expands, and none is among the inputs (the generated objects "
        "are copies of RayCluster/raycluster, VirtualService/ray-dashboard): give their files or folder too; "
    )
    code, lines, err = check_cli("--select", "drift", ".", cwd=repo)
    assert code == 0, lines
    assert lines == [f"{SPEC}:8: RayTenants/tenants spec.tenants: warning: {want}drift was not checked"]
    code, lines, err = check_cli("--select", "drift", "--fix", ".", cwd=repo)
    assert code == 1 and "Traceback" not in err
    assert lines == [f"{SPEC}:8: RayTenants/tenants spec.tenants: {want}nothing was regenerated"]
    assert tree(repo) == before


# ---------------------------------------------------------------------------------------------
# generated objects saved where the user chose


def test_objects_saved_where_the_user_chose_are_checked_and_fixed_there(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "deploy").mkdir()
    saved = repo / "deploy" / "all.yaml"
    saved.write_text(rendered(repo) + MINE)
    assert check_cli(".", cwd=repo) == (0, [], "")

    # a field edited by hand, a tenant added between the two: out of date and missing
    text = saved.read_text()
    line = text[: text.index("maxReplicas: 20")].count("\n") + 1
    saved.write_text(text.replace("maxReplicas: 20", "maxReplicas: 7", 1))
    write_spec(repo, [{"name": "mlops"}, {"name": "science"}, {"name": "research"}])
    code, lines, _ = check_cli(".", cwd=repo)
    assert code == 1
    assert (
        f"deploy/all.yaml:{line}: RayCluster/mlops/raycluster spec.workerGroupSpecs[0].maxReplicas: out of date: "
        "on disk 7, the spec generates 20; regenerate with `ray-tenants check --select drift --fix .`"
    ) in lines
    assert (
        f"{SPEC}:8: RayTenants/tenants spec.tenants: RayCluster/science/raycluster is not generated yet "
        "(expected in deploy/all.yaml); regenerate with `ray-tenants check --select drift --fix .`"
    ) in lines

    code, lines, err = check_cli("--select", "drift", "--fix", ".", cwd=repo)
    assert (code, lines) == (1, ["wrote deploy/all.yaml"]), err
    assert "error" not in err.split(";")[0] and "regenerated 1 file" in err
    assert saved.read_text() == rendered(repo) + MINE  # where it was, in render's order, mine untouched
    assert not (repo / "overlays" / "science").exists()  # no duplicates in the output folder
    settled = tree(repo)
    assert check_cli("--select", "drift", "--fix", ".", cwd=repo) == (0, [], "")
    assert tree(repo) == settled

    # a tenant removed: its objects leave the file, nothing else does
    write_spec(repo, [{"name": "science"}, {"name": "research"}])
    code, lines, _ = check_cli("--select", "drift", "--fix", ".", cwd=repo)
    assert (code, lines) == (1, ["wrote deploy/all.yaml"])
    assert saved.read_text() == rendered(repo) + MINE
    assert check_cli(".", cwd=repo) == (0, [], "")

    # a file left with no document goes; its folder, the user's, stays
    only = repo / "deploy" / "science" / "namespace.yaml"
    only.parent.mkdir()
    only.write_text(saved.read_text().split("---\n")[0])  # science's Namespace, moved to its own file
    saved.write_text("---\n".join(saved.read_text().split("---\n")[1:]))
    assert check_cli(".", cwd=repo) == (0, [], "")
    write_spec(repo, [{"name": "research"}])
    code, lines, _ = check_cli("--select", "drift", "--fix", ".", cwd=repo)
    assert (code, sorted(lines)) == (1, ["removed deploy/science/namespace.yaml", "wrote deploy/all.yaml"])
    assert saved.read_text() == rendered(repo) + MINE
    assert only.parent.is_dir() and not only.exists()


def test_a_saved_stream_with_crlf_line_ends_keeps_them(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "deploy").mkdir()
    saved = repo / "deploy" / "all.yaml"
    want = (rendered(repo) + MINE).replace("\n", "\r\n").encode()
    saved.write_bytes(want.replace(b"maxReplicas: 20", b"maxReplicas: 3"))
    write_spec(
        repo,
        [{"name": t, "namespaceLabels": {"istio-injection": "enabled"}} for t in ("mlops", "x", "research")],
    )
    want = (rendered(repo) + MINE).replace("\n", "\r\n").encode()
    assert check_cli("--select", "drift", "--fix", ".", cwd=repo)[:2] == (1, ["wrote deploy/all.yaml"])
    assert saved.read_bytes() == want


def test_a_labelled_object_that_is_no_copy_of_a_base_is_kept_with_a_warning(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "deploy").mkdir()
    saved = repo / "deploy" / "all.yaml"
    labels = {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "mlops"}
    extra = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "mlops", "labels": labels},
    }
    text = rendered(repo).replace("maxReplicas: 20", "maxReplicas: 7") + "---\n" + yaml.safe_dump(extra)
    saved.write_text(text)
    line = text[: text.rindex("---\n")].count("\n") + 2  # the ConfigMap's first line
    warning = (
        f"deploy/all.yaml:{line}: ConfigMap/mlops/x: warning: labelled as generated for tenant 'mlops', but "
        "the spec expands no base ConfigMap/x: kept as it is; delete it if it is left over"
    )
    code, lines, _ = check_cli("--select", "drift", ".", cwd=repo)
    assert code == 1 and warning in lines
    code, lines, _ = check_cli("--select", "drift", "--fix", ".", cwd=repo)
    assert (code, lines) == (1, [warning, "wrote deploy/all.yaml"])
    assert saved.read_text() == rendered(repo) + "---\n" + yaml.safe_dump(extra)
    assert check_cli("--select", "drift", ".", cwd=repo) == (
        0,
        [warning],
        "ray-tenants check: 0 errors, 1 warning in 5 files\n",
    )


def test_render_hook_fixes_a_saved_stream_then_passes(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_env: dict[str, str]
) -> None:
    repo = user_repo(tmp_path)
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    (repo / "deploy").mkdir()
    saved = repo / "deploy" / "all.yaml"
    saved.write_text(rendered(repo) + MINE)
    write_spec(repo, [{"name": "mlops"}, {"name": "research"}, {"name": "science"}])
    git_repo(repo)
    first = try_repo(hook_repo, pre_commit_env, repo, "ray-tenants-render")
    assert first.returncode == 1, first.stdout.decode()
    assert "wrote deploy/all.yaml" in first.stdout.decode()
    assert saved.read_text() == rendered(repo) + MINE
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    second = try_repo(hook_repo, pre_commit_env, repo, "ray-tenants-render")
    assert second.returncode == 0, second.stdout.decode()
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.yaml")) == [
        ".pre-commit-config.yaml",
        "base/kustomization.yaml",
        "base/raycluster.yaml",
        "base/virtualservice.yaml",
        "deploy/all.yaml",
        SPEC,
    ]


def test_a_generated_object_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "deploy").mkdir()
    (repo / "deploy" / "all.yaml").write_text(rendered(repo))
    docs = rendered(repo).split("---\n")
    vs = next(d for d in docs if "kind: VirtualService" in d and "namespace: research" in d)
    (repo / "deploy" / "research-route.yaml").write_text("# kept by hand too\n" + vs)
    first = rendered(repo)[: rendered(repo).index(vs)].count("\n") + 1
    before = tree(repo)
    for args in ((".",), ("--select", "drift", "--fix", ".")):
        code, lines, _ = check_cli(*args, cwd=repo)
        assert code == 1
        assert [line for line in lines if "also in" in line] == [
            f"deploy/research-route.yaml:2: VirtualService/research/ray-dashboard: generated object also in "
            f"deploy/all.yaml:{first}: it belongs in one file (two copies would be applied, and regenerating "
            "cannot tell which to keep); delete one of them"
        ]
        assert tree(repo) == before  # --fix writes nothing while a copy is doubled


def test_in_a_kpt_package_a_saved_stream_is_a_second_copy_and_fix_writes_none(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
    (repo / "deploy").mkdir()
    (repo / "deploy" / "all.yaml").write_text(rendered(repo))
    before = tree(repo)
    code, lines, _ = check_cli("--select", "drift", "--fix", ".", cwd=repo)
    assert code == 1
    assert tree(repo) == before  # no second copy under overlays/<tenant>/
    twice = [line for line in lines if "would be applied twice" in line]
    assert len(twice) == 6
    assert twice[1] == (
        "deploy/all.yaml:10: RayCluster/mlops/raycluster: generated object outside the output folder of a kpt "
        "package: `kpt fn render` writes it to overlays/mlops/raycluster_raycluster.yaml, so it would be "
        "applied twice; delete this copy (or, to keep generated objects where you chose, leave kpt out: no Kptfile)"
    )


def test_fix_in_the_output_folder_says_each_file_it_wrote(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
    code, lines, err = ray_tenants(repo, "check", "--select", "drift", "--fix", ".")
    assert code == 1
    assert lines == [
        f"wrote overlays/{tenant}/{name}" for tenant in ("mlops", "research") for name in GENERATED_FILES
    ]
    assert (
        err
        == f"ray-tenants check: regenerated {2 * len(GENERATED_FILES)} files; 0 errors, 0 warnings in 4 files\n"
    )
    assert ray_tenants(repo, "check", "--select", "drift", "--fix", ".") == (0, [], "")
    write_spec(repo, [{"name": "mlops", "namespaceLabels": {"istio-injection": "enabled"}}])
    code, lines, err = ray_tenants(repo, "check", "--select", "drift", "--fix", ".")
    assert (code, lines) == (1, [f"removed overlays/research/{name}" for name in GENERATED_FILES])


def test_the_kpt_validator_calls_a_copy_of_a_removed_base_stale(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
    assert check_cli("--select", "drift", "--fix", ".", cwd=repo)[0] == 1
    (repo / "base" / "virtualservice.yaml").unlink()
    items = []
    for path in sorted(repo.rglob("*.yaml")):
        for index, obj in enumerate(yaml.safe_load_all(path.read_text())):
            notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
            notes.update(
                {
                    "config.kubernetes.io/path": path.relative_to(repo).as_posix(),
                    "config.kubernetes.io/index": str(index),
                }
            )
            items.append(obj)
    config = {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenantsCheck",
        "metadata": {"name": "c"},
        "spec": {"select": ["drift"]},
    }
    stream = yaml.safe_dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": config,
        }
    )
    code, lines, err = ray_tenants(repo, stdin=stream.encode())
    results = yaml.safe_load("\n".join(lines))["results"]
    assert code == 1, err
    route, head = "virtualservice_ray-dashboard.yaml", "networkpolicy_ray-tenant-ray-head.yaml"
    assert sorted((r["file"]["path"], r["severity"]) for r in results) == sorted(
        (f"overlays/{t}/{name}", "error") for t in ("mlops", "research") for name in (route, head)
    )
    # the route is stale; with it went the gateway's admission to the head, so that policy changed
    assert all(
        ("the spec no longer generates it" in r["message"]) == r["file"]["path"].endswith(route)
        for r in results
    )


# ---------------------------------------------------------------------------------------------
# the writer's in-place edits


def test_an_edit_never_replaces_a_document_without_the_ownership_labels(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n")
    with pytest.raises(FnError, match="never rewrites a user's objects"):
        writer.write_files(tmp_path / "overlays", {}, {path: writer.Edit({1: "kind: Other\n"})})
    assert path.read_text() == "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n"


def test_an_edit_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    labelled = (
        "metadata:\n  labels: {app.kubernetes.io/managed-by: ray-tenants, fn.ray-tenants.dev/tenant: a}\n"
    )
    target.write_text(labelled)
    os.symlink(target, tmp_path / "all.yaml")
    with pytest.raises(FnError, match="symbolic link"):
        writer.write_files(tmp_path / "overlays", {}, {tmp_path / "all.yaml": writer.Edit({1: None})})
    assert target.read_text() == labelled and (tmp_path / "all.yaml").is_symlink()


def test_document_chunks_cover_the_text_and_keep_what_precedes_each_document() -> None:
    text = "# head\n---\na: 1\n---\n# c\nb: 2\n...\n---\nc: 3\n--- {d: 4}\n"
    chunks = writer.document_chunks(text)
    assert "".join(text[s:e] for s, _, _, e in chunks) == text
    assert [(text[s:b], line) for s, b, line, _ in chunks] == [
        ("# head\n---\n", 3),
        ("---\n# c\n", 6),
        ("---\n", 9),
        ("", 10),
    ]


# ---------------------------------------------------------------------------------------------
# kpt prunes are reported


def test_one_off_eval_reports_each_pruned_tenant_with_its_files(tmp_path: Path, fn_exec: Path) -> None:
    require_tool("kpt")
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "base", pkg / "base")
    first = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--", "tenants=a,b,c,d"])
    assert first.returncode == 0, first.stderr.decode()
    results = tmp_path / "results"
    second = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--results-dir", results, "--", "tenants=a,b"])
    assert second.returncode == 0, second.stderr.decode()
    assert sorted({p.parent.name for p in (pkg / "overlays").rglob("*.yaml")}) == ["a", "b"]
    shown = second.stdout.decode() + second.stderr.decode()
    infos: list[dict[str, Any]] = [
        r
        for item in yaml.safe_load((results / "results.yaml").read_text())["items"]
        for r in item.get("results", [])
    ]
    for tenant in "cd":
        files = [f"overlays/{tenant}/{name}" for name in GENERATED_FILES]
        want = f"removed the generated files of tenant '{tenant}' (no longer in the spec): {', '.join(files)}"
        assert want in shown, shown
        assert [r["severity"] for r in infos if r["message"] == want] == ["info"], infos
    assert len(infos) == 2, infos
    # nothing pruned, nothing said
    third = run(["kpt", "fn", "eval", pkg, "--exec", fn_exec, "--results-dir", results, "--", "tenants=a,b"])
    assert third.returncode == 0
    assert "removed" not in third.stdout.decode() + third.stderr.decode()


GENERATED_FILES = tuple(
    sorted(
        (
            "namespace.yaml",
            "raycluster_raycluster.yaml",
            "virtualservice_ray-dashboard.yaml",
            *DEFAULT_ISOLATION_FILES,
        )
    )
)
