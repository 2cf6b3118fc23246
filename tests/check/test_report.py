"""The check's report as a user reads it: one line per finding, in file and line order, one locator."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO, run

FN = [sys.executable, "-m", "krm_fn"]


def repository(tmp_path: Path) -> Path:
    """A copy of this repository's layout: base/ and overlays/ (the spec and its overlay folders)."""
    repo = tmp_path / "repo"
    for folder in ("base", "overlays"):
        shutil.copytree(REPO / folder, repo / folder)
    return repo


def report(repo: Path, *args: str) -> tuple[int, list[str], str]:
    """`ray-tenants ARGS` run in `repo`: the exit code, the stdout lines and stderr."""
    result = run([*FN, *args], cwd=repo)
    return result.returncode, result.stdout.decode().splitlines(), result.stderr.decode()


def test_each_finding_once_sorted_by_file_and_line_with_the_spec_among_the_inputs(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    (repo / "broken").mkdir()
    (repo / "broken" / "bad.yaml").write_text("a: [\n")
    raycluster = repo / "base" / "raycluster.yaml"
    worker = "            - name: ray-worker\n"
    text = raycluster.read_text().replace(worker, worker + "              imagePullPolicyy: Always\n", 1)
    raycluster.write_text(text)
    code, lines, err = report(repo, "check", "overlays", "broken", "base")
    typo = next(i for i, line in enumerate(text.splitlines(), 1) if "imagePullPolicyy" in line)
    assert code == 1
    assert [line.split(": ")[0] for line in lines] == [f"base/raycluster.yaml:{typo}", "broken/bad.yaml:2"]
    assert len(lines) == len(set(lines))
    assert "ray-tenants check: 2 errors" in err


SPEC = """\
apiVersion: fn.ray-tenants.dev/v1alpha1
kind: RayTenants
metadata:
  name: tenants
spec:
  tenants:
    - name: team-a
      namespaceLabels: {istio-injection: enabled}
      pathPrefix: /team-a
"""

RAYCLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: rc
spec:
  headGroupSpec:
    template:
      spec:
        containers:
          - name: head
            image: rayproject/ray:2.52.0
  workerGroupSpecs:
    - groupName: small-group
      template:
        spec:
          affinity: 5
          containers:
            - name: worker
              image: rayproject/ray:2.52.0
"""


def line_of(text: str, needle: str) -> int:
    """The 1-based line of `text` that holds `needle` (once)."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def test_render_and_check_point_at_the_line_of_the_field_in_the_spec_and_in_a_base(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "rc.yaml").write_text(RAYCLUSTER)
    prefix = f"spec.yaml:{line_of(SPEC, 'pathPrefix')}: RayTenants/tenants spec.tenants[0].pathPrefix: "
    code, _, err = report(tmp_path, "render", "--config", "spec.yaml", "rc.yaml")
    assert code == 1
    assert err.startswith(prefix), err
    code, lines, _ = report(tmp_path, "check", "--config", "spec.yaml", "rc.yaml")
    assert code == 1
    assert [line for line in lines if line.startswith("spec.yaml")] == [err.strip()]

    (tmp_path / "spec.yaml").write_text(SPEC.replace("pathPrefix: /team-a", "pathPrefix: /team-a/"))
    affinity = f"rc.yaml:{line_of(RAYCLUSTER, 'affinity')}: RayCluster/"
    code, _, err = report(tmp_path, "render", "--config", "spec.yaml", "rc.yaml")
    assert code == 1
    assert err.startswith(affinity + "team-a/rc spec.workerGroupSpecs[0].template.spec.affinity: "), err
    code, lines, _ = report(tmp_path, "check", "spec.yaml", "rc.yaml")
    assert code == 1
    assert lines and all(line.startswith(affinity) for line in lines), lines


def test_krm_results_name_the_file_and_field_of_each_finding() -> None:
    spec = yaml.safe_load(SPEC.replace("pathPrefix: /team-a", "pathPrefix: /team-a/"))
    spec["metadata"]["annotations"] = {"config.kubernetes.io/path": "tenants.yaml"}
    spec["spec"]["tenants"][0]["patches"] = [
        {
            "target": {"kind": "RayCluster", "name": "rc"},
            "patch": [{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "gpu"}],
        }
    ]
    base = yaml.safe_load(RAYCLUSTER)
    base["metadata"]["annotations"] = {"config.kubernetes.io/path": "base/rc.yaml"}
    other = yaml.safe_load(RAYCLUSTER.replace("name: rc", "name: other"))
    other["metadata"]["annotations"] = {"config.kubernetes.io/path": "base/other.yaml"}
    items = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [base, other, spec]}
    result = run(FN, stdin=yaml.safe_dump({**items, "functionConfig": spec}).encode())
    assert result.returncode == 1
    where = sorted(
        (r["file"]["path"], r["resourceRef"]["kind"], r["field"]["path"])
        for r in yaml.safe_load(result.stdout)["results"]
    )
    assert where == [
        ("base/other.yaml", "RayCluster", "spec.workerGroupSpecs[0].template.spec.affinity"),
        ("tenants.yaml", "RayTenants", "spec.tenants[0].patches[0].patch[0]"),
    ]


def with_foreign_yaml(repo: Path) -> Path:
    """Beside the manifests: a Helm chart, Helm values, pre-commit's configuration, a playbook."""
    chart = repo / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicaCount: 1\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n"
        "  {{- toYaml .Values | nindent 2 }}\n"
    )
    (repo / "values.yaml").write_text("replicas: 3\nimage: {tag: latest}\n")
    (repo / "playbook.yml").write_text("- hosts: all\n  tasks: []\n")
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    return repo


def test_yaml_that_is_no_kubernetes_object_and_helm_charts_are_skipped_with_an_info_line(
    tmp_path: Path,
) -> None:
    repo = with_foreign_yaml(repository(tmp_path))
    for command in (["check", "."], ["check", "--select", "drift", "--fix", "."]):
        assert report(repo, *command) == (0, [], ""), command
    code, lines, _ = report(repo, "check", "-v", ".")
    assert code == 0
    skipped = [line for line in lines if "info: not a Kubernetes object" in line or "Helm chart" in line]
    assert [line.split(": ")[0] for line in skipped] == ["charts/web", "playbook.yml:1", "values.yaml:1"]

    code, out, err = report(repo, "render", ".")
    assert (code, err) == (0, "")
    assert "replicas: 3" not in out and "- hosts: all" not in out
    assert "kind: RayCluster" in out
    code, _, err = report(repo, "render", "-v", ".")
    assert code == 0
    assert [line.split(": ")[0] for line in err.splitlines()] == [
        "charts/web",
        "playbook.yml:1",
        "values.yaml:1",
    ]


def test_exclude_skips_what_matches_in_folders_never_a_file_named(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    (repo / "tests" / "fixtures").mkdir(parents=True)
    (repo / "tests" / "fixtures" / "broken.yaml").write_text("a: [\n")
    code, lines, _ = report(repo, "check", ".")
    assert (code, lines[0].split(": ")[0]) == (1, "tests/fixtures/broken.yaml:2")
    for glob in ("fixtures", "tests/fixtures", "./tests/fixtures/", "broken.yaml", "*/fixtures/*.yaml"):
        assert report(repo, "check", "--exclude", glob, ".") == (0, [], ""), glob
        code, _, err = report(repo, "render", "--exclude", glob, ".")
        assert (code, err) == (0, ""), glob
    code, lines, _ = report(
        repo, "check", "--exclude", "nothing", "--exclude", "fixtures", "tests/fixtures/broken.yaml"
    )
    assert (code, lines[0].split(": ")[0]) == (1, "tests/fixtures/broken.yaml:2")


def test_a_head_on_spot_alone_is_a_warning_in_every_front_end(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    raycluster = repo / "base" / "raycluster.yaml"
    head = "    template:\n      spec:\n        containers:\n          - name: ray-head\n"
    text = raycluster.read_text()
    assert head in text
    text = text.replace(
        head, head.replace("spec:\n", "spec:\n        nodeSelector: {cloud.google.com/gke-spot: 'true'}\n")
    )
    raycluster.write_text(text)
    where = f"base/raycluster.yaml:{line_of(text, 'nodeSelector')}: RayCluster/"
    warning = "spec.headGroupSpec.template.spec.nodeSelector: warning: the head is pinned to Spot nodes"

    code, out, err = report(repo, "render", "--config", "overlays/tenants.yaml", "base")
    assert code == 0 and "kind: RayCluster" in out
    assert [line.startswith(where) and warning in line for line in err.splitlines()] == [True, True], err
    code, lines, err = report(repo, "check", "--config", "overlays/tenants.yaml", "base")
    assert code == 0 and "0 errors, 2 warnings" in err
    assert [line.startswith(where) and warning in line for line in lines] == [True, True], lines
    # without a spec, in the manifest itself
    code, lines, err = report(REPO, "check", "tests/testdata/check/head-on-spot/head-on-spot.yaml")
    assert code == 0 and "0 errors, 1 warning" in err
    assert [warning in line for line in lines] == [True]

    # the KRM function, and the kpt validator on what it wrote
    items = [yaml.safe_load(text)]
    spec = yaml.safe_load((repo / "overlays" / "tenants.yaml").read_text())
    resource_list = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    result = run(FN, stdin=yaml.safe_dump({**resource_list, "functionConfig": spec}).encode())
    assert result.returncode == 0, result.stderr
    out = yaml.safe_load(result.stdout)
    assert {(r["severity"], r["field"]["path"]) for r in out["results"]} == {
        ("warning", "spec.headGroupSpec.template.spec.nodeSelector")
    }
    validator = {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenantsCheck",
        "metadata": {"name": "c"},
    }
    checked = {**resource_list, "items": out["items"], "functionConfig": validator}
    result = run(FN, stdin=yaml.safe_dump(checked).encode())
    assert result.returncode == 0, result.stderr
    severities = [
        r["severity"] for r in yaml.safe_load(result.stdout).get("results", []) if r["severity"] != "info"
    ]
    assert severities == ["warning", "warning"]
