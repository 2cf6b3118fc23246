"""`ray-tenants check`: schema, policy and drift findings on small handwritten fixtures."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, krm
from krm_fn.check import checker, schemas
from krm_fn.inputs.loader import load_files
from krm_fn.inputs.objects import Manifest
from krm_fn.spot import SpotSpec
from tests.conftest import DEFAULT_ISOLATION_FILES, REPO, TESTDATA, require_tool, require_upstream, run

DATA = TESTDATA / "check"
# each bad fixture is the golden case check/<name>/<name>.yaml, its first line stating what it pins
BAD = sorted(p for p in DATA.glob("*/*.yaml") if p.read_text().startswith("# expect: "))


def check_cli(*args: str | Path, cwd: Path | None = None) -> tuple[int, list[str], str]:
    """Run `ray-tenants check ARGS` in-process; return the code, stdout lines and stderr."""
    out, err = io.StringIO(), io.StringIO()
    if cwd is None:
        code = cli.main(["check", *map(str, args)], out, err)
    else:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(cwd)
            code = cli.main(["check", *map(str, args)], out, err)
    return code, out.getvalue().splitlines(), err.getvalue()


def expectation(path: Path) -> str:
    """The `# expect: LINE: MESSAGE` a bad fixture states on its first line."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} states no expectation"
    return first.removeprefix("# expect: ")


# ---------------------------------------------------------------------------------------------
# report format and exit codes


def test_good_manifests_pass_with_no_output() -> None:
    code, lines, err = check_cli(DATA / "good")
    assert (code, lines, err) == (0, [], "")


@pytest.mark.parametrize("fixture", BAD, ids=[p.stem for p in BAD])
def test_each_bad_fixture_reports_its_problem_on_its_line(fixture: Path) -> None:
    code, lines, _ = check_cli(fixture)
    want = f"{fixture}:{expectation(fixture)}"
    assert any(line.startswith(want) for line in lines), "\n".join(lines)
    assert code == (0 if "warning:" in want else 1)


def test_all_problems_of_all_files_in_one_run() -> None:
    code, lines, err = check_cli(*BAD)
    assert code == 1
    for fixture in BAD:
        assert any(line.startswith(f"{fixture}:{expectation(fixture)}") for line in lines), fixture
    assert "errors" in err and f"in {len(BAD)} files" in err


def test_non_kubernetes_yaml_beside_manifests_is_not_an_error(tmp_path: Path) -> None:
    shutil.copytree(DATA / "good", tmp_path / "repo")
    (tmp_path / "repo" / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "repo" / "values.yaml").write_text("replicas: 3\nimage: {tag: latest}\n")
    code, lines, _ = check_cli(".", cwd=tmp_path / "repo")
    assert (code, lines) == (0, [])
    # named explicitly it is loaded, and only noted
    code, lines, _ = check_cli("-v", ".pre-commit-config.yaml", cwd=tmp_path / "repo")
    assert code == 0
    assert lines == [
        ".pre-commit-config.yaml:1: info: not a Kubernetes object (no apiVersion and kind): skipped"
    ]


def test_missing_path_and_binary_file_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "blob.yaml").write_bytes(b"\xff\xfe\x00binary")
    code, lines, _ = check_cli(tmp_path / "blob.yaml", tmp_path / "absent")
    assert code == 1
    assert any(line.startswith(f"{tmp_path / 'blob.yaml'}: not UTF-8") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'absent'}: no such file or folder") for line in lines)


def test_stream_on_stdin() -> None:
    bad = (DATA / "schema-core" / "schema-core.yaml").read_bytes()
    proc = run([sys.executable, "-m", "krm_fn", "check", "-"], cwd=REPO, stdin=bad)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("-:6: Namespace/team-a metadata.lables: unknown field 'lables'")


def test_warnings_only_exit_zero_and_errors_exit_one() -> None:
    assert check_cli(DATA / "no-apiversion" / "no-apiversion.yaml")[0] == 0
    assert check_cli(DATA / "schema-core" / "schema-core.yaml")[0] == 1


def test_usage_errors_exit_two(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_cli("--select", "spelling", DATA / "good")[0] == 2
    # at a terminal, `check` without paths is a usage error (piped, it is the kpt validator)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert check_cli()[0] == 2


# ---------------------------------------------------------------------------------------------
# schemas


def test_kubernetes_version_is_selectable() -> None:
    shipped = schemas.versions()
    assert schemas.resolve_version(None) == shipped[-1]
    assert schemas.resolve_version("v1.30.4") == "1.30.0"
    code, lines, _ = check_cli("--kubernetes-version", "1.99", DATA / "good")
    assert code == 1 and "no schemas for Kubernetes 1.99" in lines[0]
    # the remedy for a trimmed image: the build argument that keeps more versions
    assert "KEEP_SCHEMAS" in lines[0] and shipped[-1] in lines[0]
    assert check_cli("--kubernetes-version", shipped[0], DATA / "good")[0] == 0


def test_no_strict_accepts_unknown_fields() -> None:
    assert check_cli("--no-strict", "--select", "schema", DATA / "schema-core" / "schema-core.yaml")[0] == 0


def test_pod_templates_are_validated_once_per_distinct_template() -> None:
    base: dict[str, Any] = yaml.safe_load((REPO / "base" / "raycluster.yaml").read_text())
    checker = schemas.SchemaChecker(schemas.resolve_version(None), schemas.CrdSchemas())
    for i in range(50):
        copy = yaml.safe_load(yaml.safe_dump(base))
        copy["metadata"] = {"name": f"raycluster-{i}", "namespace": f"team-{i}"}
        assert checker.check(copy).findings == []
    # 3 templates once, plus each copy's metadata
    assert checker.validations == 3 + 50


def test_template_typo_in_a_base_is_reported_once_not_per_tenant(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path)
    text = (pkg / "base" / "raycluster.yaml").read_text()
    (pkg / "base" / "raycluster.yaml").write_text(
        text.replace("image: rayproject/ray:2.52.0-py311\n", "imag: x\n", 1)
    )
    code, lines, _ = check_cli("--select", "schema", ".", cwd=pkg)
    assert code == 1
    assert lines == [
        "base/raycluster.yaml:22: RayCluster/raycluster spec.headGroupSpec.template.spec.containers[0].imag: "
        "unknown field 'imag'; did you mean 'image'?"
    ]


def test_a_tenant_patch_that_breaks_the_schema_is_reported_on_the_tenant_copy(tmp_path: Path) -> None:
    pkg = tenant_package(
        tmp_path,
        patch={
            "op": "add",
            "path": "/spec/workerGroupSpecs/0/template/spec/containers/0/imagePullPolicyy",
            "value": "Always",
        },
    )
    code, lines, _ = check_cli("--select", "schema", ".", cwd=pkg)
    assert code == 1
    assert lines == [
        "base/raycluster.yaml:46: RayCluster/research/raycluster "
        "spec.workerGroupSpecs[0].template.spec.containers[0].imagePullPolicyy: "
        "unknown field 'imagePullPolicyy'; did you mean 'imagePullPolicy'?"
    ]


def test_custom_resources_against_their_crd() -> None:
    crd = DATA / "crd" / "widgets-crd.yaml"
    assert check_cli(crd, DATA / "crd" / "widget-good.yaml")[0] == 0
    code, lines, _ = check_cli("--crd", crd, DATA / "crd" / "widget-bad.yaml")
    bad = DATA / "crd" / "widget-bad.yaml"
    assert code == 1
    assert lines == [
        f"{bad}:7: Widget/team-a/bad spec.size: expected an integer or a string, got a list",
        f"{bad}:8: Widget/team-a/bad spec.replicas: -1 is less than the minimum of 0",
        f"{bad}:9: Widget/team-a/bad spec.colour: unknown field 'colour'",
        f"{bad}:12: Widget/team-a/bad spec.template.spec.containers[0].imagePulPolicy: "
        "unknown field 'imagePulPolicy'; did you mean 'imagePullPolicy'?",
    ]


def test_without_a_crd_a_custom_resource_is_only_noted() -> None:
    code, lines, _ = check_cli("-v", DATA / "crd" / "widget-bad.yaml")
    assert code == 0
    assert lines[0].endswith(
        "info: no CRD for Widget (example.dev/v1) among the inputs: 1 object(s) validated for metadata only; "
        "pass the CRD with --crd FILE to validate the rest"
    )


def test_structural_schema_translation() -> None:
    schema = schemas.structural_to_jsonschema(
        {
            "type": "object",
            "properties": {
                "a": {"x-kubernetes-int-or-string": True},
                "b": {"type": "string", "nullable": True},
                "c": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"d": {}},
                },
            },
        }
    )
    assert schema["additionalProperties"] is False
    assert schema["properties"]["a"]["type"] == ["integer", "string"]
    assert schema["properties"]["b"]["type"] == ["string", "null"]
    assert "additionalProperties" not in schema["properties"]["c"]
    assert set(schema["properties"]) >= {"apiVersion", "kind", "metadata"}


# ---------------------------------------------------------------------------------------------
# policy with a tenant spec: bases are templates, their expansion is checked


def tenant_package(
    tmp: Path, patch: dict[str, Any] | None = None, spot: bool = False, kptfile: bool = False
) -> Path:
    """This repository's layout (base/ + overlays/tenants.yaml) in `tmp`, tenants opted out of Spot
    unless `spot` (so the test does not depend on the Spot engine), one patch on tenant research."""
    pkg = tmp / "pkg"
    shutil.copytree(REPO / "base", pkg / "base")
    spec: dict[str, Any] = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    for tenant in spec["spec"]["tenants"]:
        tenant.pop("patches", None)
        if not spot:
            tenant["spot"] = False
    if patch is not None:
        spec["spec"]["tenants"][1]["patches"] = [
            {"target": {"kind": "RayCluster", "name": "raycluster"}, "patch": [patch]}
        ]
    (pkg / "overlays").mkdir()
    (pkg / "overlays" / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    if kptfile:
        (pkg / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n")
    return pkg


def test_bases_are_exempt_their_expansion_is_checked(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path)
    # the base routes `/` and has no Spot placement: as a template that is fine
    assert check_cli(".", cwd=pkg) == (0, [], "")


def test_expansion_findings_point_at_the_tenant_spec(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path, patch={"op": "replace", "path": "/metadata/name", "value": "r" * 60})
    code, lines, _ = check_cli("--select", "policy", ".", cwd=pkg)
    assert code == 1
    assert any(
        line.startswith("overlays/tenants.yaml:")
        and "spec.tenants[1].patches[0].patch: patch for RayCluster/" in line
        and f"metadata.name: changed from 'raycluster' to '{'r' * 60}'" in line
        for line in lines
    ), lines


def test_repository_layout_passes() -> None:
    # base/ + overlays/ with the shipped overlay folders: policy on the expansion, overlay drift
    assert check_cli("base", "overlays", cwd=REPO) == (0, [], "")


def test_expanded_workers_carry_the_spot_placement_the_spec_asks(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path, spot=True)
    assert check_cli("--select", "policy", ".", cwd=pkg) == (0, [], "")


def test_overlay_folders_drift_and_fix(tmp_path: Path) -> None:
    shutil.copytree(REPO / "base", tmp_path / "base")
    shutil.copytree(REPO / "overlays", tmp_path / "overlays")
    kust = tmp_path / "overlays" / "mlops" / "kustomization.yaml"
    text = kust.read_text()
    line = text[: text.index("value: spot-cpu\n")].count("\n") + 1
    kust.write_text(text.replace("value: spot-cpu\n", "value: spot-cpu-old\n", 1))
    code, lines, _ = check_cli("base", "overlays", cwd=tmp_path)
    assert code == 1
    assert lines == [
        f"overlays/mlops/kustomization.yaml:{line}: out of date: differs from what the spec generates now "
        "from this line on; regenerate with `ray-tenants render --output overlays --out overlays base overlays`"
    ]
    code, lines, _ = check_cli("--select", "drift", "--fix", "base", "overlays", cwd=tmp_path)
    assert (code, lines) == (1, ["wrote overlays/mlops/kustomization.yaml"])
    assert kust.read_text() == text
    assert check_cli("base", "overlays", cwd=tmp_path) == (0, [], "")


def spot_target(path: Path, doc: int = 0) -> checker.Target:
    docs, problems = load_files([str(path)])
    assert not problems
    return checker.Target(docs[doc].data, docs[doc], docs[doc].ref)


def test_spot_as_the_spec_asks_every_term_every_pool() -> None:
    target = spot_target(DATA / "good" / "mlops" / "raycluster.yaml")
    asks = SpotSpec(provider="gke", node_pools={"cpu": "spot-cpu"})
    findings = checker.check_spot(target, asks)
    # term 1 names pool spot-cpu-2, not the pool the spec asks for
    assert [(r.field, r.line) for r in findings] == [
        (
            "spec.workerGroupSpecs[0].template.spec.affinity.nodeAffinity."
            "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1]",
            34,
        )
    ]
    assert "lacks `cloud.google.com/gke-nodepool In [spot-cpu]`" in findings[0].message
    assert checker.check_spot(target, SpotSpec(provider="none")) == []


def test_spot_any_known_provider_without_a_spec() -> None:
    assert checker.check_spot(spot_target(DATA / "good" / "mlops" / "raycluster.yaml"), None) == []
    typo = spot_target(DATA / "schema-typo" / "schema-typo.yaml")  # EKS spot in its only term
    assert checker.check_spot(typo, None) == []


def test_spot_through_node_selector_counts() -> None:
    obj: dict[str, Any] = yaml.safe_load((DATA / "spot-none" / "spot-none.yaml").read_text())
    obj["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["nodeSelector"] = {
        "kubernetes.azure.com/scalesetpriority": "spot"
    }
    doc = Manifest(obj, "x.yaml", 1)
    assert checker.check_spot(checker.Target(obj, doc, doc.ref), None) == []


# ---------------------------------------------------------------------------------------------
# drift


def test_drift_missing_changed_stale_and_fix(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path, kptfile=True)
    code, lines, _ = check_cli(".", cwd=pkg)
    assert code == 1
    assert any(
        "RayCluster/mlops/raycluster is not generated yet (expected in overlays/mlops/raycluster_raycluster.yaml)"
        in line
        for line in lines
    )
    assert all("kpt fn render" in line for line in lines)

    code, lines, _ = check_cli("--select", "drift", "--fix", ".", cwd=pkg)
    made = 6 + 2 * len(DEFAULT_ISOLATION_FILES)
    assert code == 1 and len(lines) == made and all(line.startswith("wrote overlays/") for line in lines)
    assert check_cli(".", cwd=pkg) == (0, [], "")

    generated = pkg / "overlays" / "research" / "raycluster_raycluster.yaml"
    generated.write_text(generated.read_text().replace("maxReplicas: 20", "maxReplicas: 7"))
    code, lines, _ = check_cli(".", cwd=pkg)
    assert code == 1
    line = next(n for n, t in enumerate(generated.read_text().splitlines(), 1) if "maxReplicas: 7" in t)
    assert lines == [
        f"overlays/research/raycluster_raycluster.yaml:{line}: RayCluster/research/raycluster "
        "spec.workerGroupSpecs[0].maxReplicas: out of date: on disk 7, the spec generates 20; "
        f"regenerate with `kpt fn render {pkg}`"
    ]

    spec = pkg / "overlays" / "tenants.yaml"
    spec.write_text(spec.read_text().replace("- name: research", "- name: science"))
    code, lines, _ = check_cli(".", cwd=pkg)
    assert code == 1
    assert any("generated for tenant 'research' but the spec no longer generates it" in t for t in lines)
    assert check_cli("--select", "drift", "--fix", ".", cwd=pkg)[0] == 1
    assert not list((pkg / "overlays" / "research").glob("*.yaml"))
    assert check_cli(".", cwd=pkg) == (0, [], "")


def test_without_generated_files_or_kptfile_there_is_nothing_to_drift(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path)
    assert check_cli("--select", "drift", ".", cwd=pkg) == (0, [], "")


def test_drift_names_the_standalone_command_without_kpt(tmp_path: Path) -> None:
    pkg = tenant_package(tmp_path)
    (pkg / "overlays" / "mlops").mkdir()
    stale = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "old",
            "namespace": "mlops",
            "labels": {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": "mlops"},
        },
    }
    (pkg / "overlays" / "mlops" / "configmap_old.yaml").write_text(yaml.safe_dump(stale))
    code, lines, _ = check_cli("base", "--config", "overlays/tenants.yaml", cwd=pkg)
    assert code == 1
    assert (
        "regenerate with `ray-tenants check --select drift --fix --config overlays/tenants.yaml base`"
        in lines[0]
    )


# ---------------------------------------------------------------------------------------------
# kpt validator


def resource_list(items: list[dict[str, Any]], fn_config: dict[str, Any]) -> bytes:
    return yaml.safe_dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": items,
            "functionConfig": fn_config,
        }
    ).encode()


CHECK_CONFIG: dict[str, Any] = {
    "apiVersion": "fn.ray-tenants.dev/v1alpha1",
    "kind": "RayTenantsCheck",
    "metadata": {"name": "check", "annotations": {"config.kubernetes.io/local-config": "true"}},
}


def test_validator_returns_results_and_items_unchanged() -> None:
    item: dict[str, Any] = yaml.safe_load((DATA / "schema-core" / "schema-core.yaml").read_text())
    item["metadata"]["annotations"] = {
        "config.kubernetes.io/path": "ns.yaml",
        "config.kubernetes.io/index": "0",
    }
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(resource_list([item], CHECK_CONFIG)), out, err)
    result = yaml.safe_load(out.getvalue())
    assert code == 1
    assert result["items"] == [item]
    assert result["results"] == [
        {
            "message": "unknown field 'lables'; did you mean 'labels'?",
            "severity": "error",
            "resourceRef": {"apiVersion": "v1", "kind": "Namespace", "name": "team-a"},
            "field": {"path": "metadata.lables"},
            "file": {"path": "ns.yaml"},
        }
    ]
    assert "ns.yaml: Namespace/team-a metadata.lables: unknown field" in err.getvalue()


def test_validator_config_problems_are_reported() -> None:
    config = {**CHECK_CONFIG, "spec": {"select": ["spelling"], "colour": 1}}
    out = io.StringIO()
    assert krm.run(io.BytesIO(resource_list([], config)), out, io.StringIO()) == 1
    messages = [r["message"] for r in yaml.safe_load(out.getvalue())["results"]]
    assert any("unknown field 'colour'" in m for m in messages)
    assert any("expected a list of schema, policy, drift" in m for m in messages)


def kpt_package(tmp: Path, fn_exec: Path, broken: bool) -> Path:
    pkg = tenant_package(tmp)
    (pkg / "Kptfile").write_text(
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n  annotations:\n"
        "    config.kubernetes.io/local-config: 'true'\npipeline:\n"
        f"  mutators:\n    - exec: {fn_exec}\n      configPath: overlays/tenants.yaml\n"
        f"  validators:\n    - exec: {fn_exec}\n      configPath: check.yaml\n"
    )
    (pkg / "check.yaml").write_text(yaml.safe_dump(CHECK_CONFIG))
    if broken:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "extra", "lables": {}}}
        (pkg / "extra.yaml").write_text(yaml.safe_dump(ns))
    return pkg


@pytest.mark.parametrize("broken", [False, True], ids=["good", "bad"])
def test_kpt_validator_end_to_end(tmp_path: Path, fn_exec: Path, broken: bool) -> None:
    kpt = require_tool("kpt", "the validator runs under kpt fn render")
    pkg = kpt_package(tmp_path, fn_exec, broken)
    before = {p: p.read_bytes() for p in pkg.rglob("*") if p.is_file()}
    proc = run([kpt, "fn", "render", "--allow-exec", str(pkg)], cwd=tmp_path)
    output = proc.stdout.decode() + proc.stderr.decode()
    if not broken:
        assert proc.returncode == 0, output
        assert (pkg / "overlays" / "mlops" / "raycluster_raycluster.yaml").is_file()
        # render again: the validator sees the generated files, equal to what the spec generates
        again = run([kpt, "fn", "render", "--allow-exec", str(pkg)], cwd=tmp_path)
        assert again.returncode == 0, again.stderr.decode()
    else:
        assert proc.returncode != 0
        assert "unknown field 'lables'" in output
        assert "extra.yaml" in output
        assert {p: p.read_bytes() for p in pkg.rglob("*") if p.is_file()} == before


# ---------------------------------------------------------------------------------------------
# upstream (CI): every real manifest validates against the real CRDs

# Upstream manifests that are themselves invalid, with the reason. Empty: all of them validate.
UPSTREAM_DEFECTS: dict[str, str] = {}


def test_every_upstream_manifest_validates_against_the_upstream_crds() -> None:
    upstream = require_upstream()
    code, lines, _ = check_cli(
        "--select",
        "schema",
        "--crd",
        upstream / "kuberay" / "crd",
        "--crd",
        upstream / "istio" / "virtualservices.networking.istio.io.crd.yaml",
        upstream,
    )
    errors = [line for line in lines if not any(line.startswith(str(upstream / f)) for f in UPSTREAM_DEFECTS)]
    assert errors == []
    assert code == (1 if UPSTREAM_DEFECTS else 0)
