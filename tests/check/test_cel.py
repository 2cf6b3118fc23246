"""CRDs' CEL rules (`x-kubernetes-validations`) in the schema check: own small CRDs, and the upstream ones (CI)."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from krm_fn import cli, krm
from krm_fn.check import crd_rules, schemas
from tests.conftest import REPO, TESTDATA, require_upstream, run

DATA = TESTDATA / "cel"
WIDGETS = DATA / "widgets-crd.yaml"


def check_cli(*args: str | Path, cwd: Path | None = None) -> tuple[int, list[str]]:
    """`ray-tenants check ARGS` in-process: the exit code and the stdout lines."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if cwd is not None:
            mp.chdir(cwd)
        code = cli.main(["check", *map(str, args)], out, err)
    return code, out.getvalue().splitlines()


# ---------------------------------------------------------------------------------------------
# own CRD: every rule feature


def test_a_widget_that_keeps_every_rule_passes_silently() -> None:
    assert check_cli("--select", "schema", WIDGETS, DATA / "widget-good.yaml") == (0, [])


def test_each_broken_rule_is_reported_at_its_field_with_its_message() -> None:
    bad = DATA / "widget-bad.yaml"
    code, lines = check_cli("--select", "schema", "--crd", WIDGETS, bad)
    assert code == 1
    assert lines == [
        # a rule on spec without fieldPath: at spec; `namespace` is `__namespace__` in CEL
        f"{bad}:6: Widget/team-a/bad spec: namespace must not be default",
        # messageExpression, and fieldPath moves the finding to the field
        f"{bad}:7: Widget/team-a/bad spec.minReplicas: minReplicas (5) exceeds maxReplicas (2)",
        # mode is absent: its schema default (Fast) is what the rule sees; reason Forbidden
        f"{bad}:9: Widget/team-a/bad spec.slowdown: forbidden: slowdown needs mode Slow",
        f"{bad}:11: Widget/team-a/bad spec.path: value must be an absolute path and start with '/'",
        f"{bad}:12: Widget/team-a/bad spec.timeout: must be a valid duration greater than 1ms",
        f"{bad}:13: Widget/team-a/bad spec.endpoint: url must have scheme http:// or https://",
        f"{bad}:14: Widget/team-a/bad spec.labels: wildcard not allowed in label key",
        f"{bad}:18: Widget/team-a/bad spec.ports[1]: port must be between 1 and 65535",
    ]


def test_rules_it_cannot_evaluate_are_info_findings_naming_the_rule() -> None:
    file = DATA / "widget-unevaluated.yaml"
    assert check_cli("--select", "schema", WIDGETS, file) == (0, [])
    code, lines = check_cli("-v", "--select", "schema", WIDGETS, file)
    assert code == 0
    assert lines[0] == (
        f"{file}:1: Widget/team-a/unevaluated: info: 1 transition rule(s) (oldSelf) of Widget "
        "(rules.example.dev/v1) not evaluated: a manifest has no old object"
    )
    assert lines[1].startswith(
        f"{file}:7: Widget/team-a/unevaluated spec.memory: info: CEL rule "
        "\"quantity(self).isLessThan(quantity('64Gi'))\" of Widget (rules.example.dev/v1) not evaluated: "
        "Undefined variable or function: 'quantity'"
    )
    assert lines[2].startswith(
        f"{file}:8: Widget/team-a/unevaluated spec.shape: info: CEL rule 'self ===' of Widget "
        "(rules.example.dev/v1) not evaluated: does not compile"
    )
    assert len(lines) == 3


def test_a_rule_too_costly_for_its_value_is_noted_not_run() -> None:
    file = DATA / "widget-costly.yaml"
    code, lines = check_cli("-v", "--select", "schema", WIDGETS, file)
    assert code == 0
    assert lines[1] == (
        f"{file}:8: Widget/team-a/costly spec.hosts: info: CEL rule "
        "'self.all(a, self.all(b, self.all(c, size(a + b + c) > 0)))' of Widget (rules.example.dev/v1) "
        "not evaluated: about 8.0e+06 steps on this value, over the 1,000,000 this check spends on one rule"
    )


def test_a_note_is_said_once_however_many_objects_it_applies_to(tmp_path: Path) -> None:
    one = yaml.safe_load((DATA / "widget-unevaluated.yaml").read_text())
    many = [{**one, "metadata": {"name": f"w{i}", "namespace": "team-a"}} for i in range(5)]
    (tmp_path / "widgets.yaml").write_text(yaml.safe_dump_all(many))
    code, lines = check_cli("-v", "--select", "schema", "--crd", WIDGETS, tmp_path)
    assert code == 0
    assert len(lines) == 3 and all(": info: " in line for line in lines)


def test_without_the_cel_evaluator_the_rules_are_noted_not_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crd_rules, "_backend", lambda: None)  # as on Python 3.10
    code, lines = check_cli("-v", "--select", "schema", WIDGETS, DATA / "widget-bad.yaml")
    assert code == 0
    assert any(
        "12 CEL rule(s) of Widget (rules.example.dev/v1) not evaluated: the CEL evaluator "
        "(common-expression-language) needs Python >= 3.11" in line
        for line in lines
    )


def test_the_evaluator_loads_without_its_command_line_tools() -> None:
    # a fresh interpreter: the check's start must not pay for the CEL package's REPL
    code = (
        "import sys; from krm_fn.check import crd_rules; assert crd_rules._backend() is not None; "
        "print(sorted(m for m in ('typer', 'rich', 'prompt_toolkit') if m in sys.modules))"
    )
    proc = run([sys.executable, "-c", code], cwd=REPO, PYTHONPATH=str(REPO))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == "[]"


def test_each_rule_is_compiled_once_per_crd_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import cel

    compiled: list[str] = []
    real = cel.compile

    def counting(text: str) -> Any:
        compiled.append(text)
        return real(text)

    monkeypatch.setattr(cel, "compile", counting)
    crds = schemas.CrdSchemas()
    crds.add(yaml.safe_load(WIDGETS.read_text()), str(WIDGETS))
    checker = schemas.SchemaChecker(schemas.resolve_version(None), crds)
    bad = yaml.safe_load((DATA / "widget-bad.yaml").read_text())
    for i in range(20):
        verdict = checker.check(
            {**bad, "metadata": {"name": f"w{i}"}, "spec": {**bad["spec"], "slowdown": i}}
        )
        assert ((("spec", "path"), "value must be an absolute path and start with '/'")) in verdict.findings
    # each rule but the transition rule once (one of them does not compile), and the messageExpression
    assert len(compiled) == len(set(compiled)) == 12


def test_kpt_validator_reports_rules_of_a_crd_among_the_items() -> None:
    crd = yaml.safe_load(WIDGETS.read_text())
    widget = yaml.safe_load((DATA / "widget-bad.yaml").read_text())
    widget["spec"] = {"path": "dashboard/"}
    config = {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenantsCheck",
        "metadata": {"name": "check"},
        "spec": {"select": ["schema"]},
    }
    rl = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [crd, widget]}
    out = io.StringIO()
    code = krm.run(io.BytesIO(yaml.safe_dump({**rl, "functionConfig": config}).encode()), out, io.StringIO())
    result = yaml.safe_load(out.getvalue())
    assert code == 1
    assert result["items"] == [crd, widget]
    errors = [r for r in result["results"] if r["severity"] == "error"]
    assert [(e["field"]["path"], e["message"]) for e in errors] == [
        ("spec.path", "value must be an absolute path and start with '/'")
    ]


# ---------------------------------------------------------------------------------------------
# generated objects: a base that breaks a rule is reported on it and on each tenant copy

# Istio's own rule for VirtualService timeouts, on a CRD small enough to ship in tests
TIMEOUT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "virtualservices.networking.istio.io"},
    "spec": {
        "group": "networking.istio.io",
        "names": {"kind": "VirtualService", "plural": "virtualservices"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                                "properties": {
                                    "http": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                            "properties": {
                                                "timeout": {
                                                    "type": "string",
                                                    "x-kubernetes-validations": [
                                                        {
                                                            "rule": "duration(self) >= duration('1ms')",
                                                            "message": "must be a valid duration greater than 1ms",
                                                        }
                                                    ],
                                                }
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_tenant_copies_are_checked_against_the_rules(tmp_path: Path) -> None:
    shutil.copytree(REPO / "base", tmp_path / "base")
    vs = tmp_path / "base" / "virtualservice.yaml"
    vs.write_text(vs.read_text().replace("      route:\n", "      timeout: 500us\n      route:\n", 1))
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(TIMEOUT_CRD))
    spec = {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "tenants"},
        "spec": {"tenants": [{"name": "mlops"}, {"name": "research"}]},
    }
    (tmp_path / "tenants.yaml").write_text(yaml.safe_dump(spec))
    code, lines = check_cli("--select", "schema", "--crd", "crd.yaml", "base", "tenants.yaml", cwd=tmp_path)
    assert code == 1
    # the copies' route carries the base's timeout in the tenant's second rule
    assert lines == [
        "base/virtualservice.yaml:12: VirtualService/mlops/ray-dashboard spec.http[1].timeout: "
        "must be a valid duration greater than 1ms",
        "base/virtualservice.yaml:12: VirtualService/research/ray-dashboard spec.http[1].timeout: "
        "must be a valid duration greater than 1ms",
        "base/virtualservice.yaml:17: VirtualService/ray-dashboard spec.http[0].timeout: "
        "must be a valid duration greater than 1ms",
    ]


# ---------------------------------------------------------------------------------------------
# names and field paths as the API server spells them


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("name", "name"),
        ("namespace", "__namespace__"),
        ("x-prometheus", "x__dash__prometheus"),
        ("a.b/c", "a__dot__b__slash__c"),
        ("a__b", "a__underscores__b"),
    ],
)
def test_property_names_are_escaped_as_kubernetes_does(name: str, escaped: str) -> None:
    assert crd_rules.escape_name(name) == escaped


def test_field_paths() -> None:
    assert crd_rules.parse_field_path(".spec.ports['http-alt'].port") == ("spec", "ports", "http-alt", "port")
    assert crd_rules.parse_field_path(".items[2]") == ("items", 2)
    assert crd_rules.parse_field_path("spec") is None


# ---------------------------------------------------------------------------------------------
# upstream (CI): the real CRDs' rules on the real samples, and a fixture per kind breaking one

UPSTREAM_CRDS = ("gateway-api/crd", "istio", "kuberay/crd")


def upstream_crd_args() -> list[str]:
    upstream = require_upstream()
    return [a for c in UPSTREAM_CRDS for a in ("--crd", str(upstream / c))]


def test_every_upstream_file_keeps_the_upstream_rules() -> None:
    upstream = require_upstream()
    code, lines = check_cli("--select", "schema", *upstream_crd_args(), upstream)
    assert (code, lines) == (0, [])


@pytest.mark.parametrize(
    ("fixture", "line", "field", "message"),
    [
        (
            "httproute-redirect-with-backends.yaml",
            12,
            "HTTPRoute/mlops/dashboard spec.rules[0]",
            "RequestRedirect filter must not be used together with backendRefs",
        ),
        (
            "virtualservice-short-timeout.yaml",
            15,
            "VirtualService/mlops/dashboard spec.http[0].timeout",
            "must be a valid duration greater than 1ms",
        ),
        (
            "authorizationpolicy-selector-and-targetref.yaml",
            7,
            "AuthorizationPolicy/mlops/dashboard spec",
            "only one of targetRefs or selector can be set",
        ),
        (
            "requestauthentication-ftp-jwks.yaml",
            13,
            "RequestAuthentication/mlops/dashboard spec.jwtRules[0].jwksUri",
            "url must have scheme http:// or https://",
        ),
        (
            "rayjob-status-and-deployment-status.yaml",
            12,
            "RayJob/mlops/nightly spec.deletionStrategy.deletionRules[0].condition",
            "JobStatus and JobDeploymentStatus cannot be used together within the same deletion condition.",
        ),
    ],
)
def test_an_upstream_rule_broken_is_reported_with_its_message(
    fixture: str, line: int, field: str, message: str
) -> None:
    code, lines = check_cli("--select", "schema", *upstream_crd_args(), DATA / fixture)
    assert code == 1
    assert lines == [f"{DATA / fixture}:{line}: {field}: {message}"]
