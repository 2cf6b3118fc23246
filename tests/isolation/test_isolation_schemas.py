"""Every object the isolation layers generate is valid as the API server sees it, strictly.

The golden isolation cases run through the KRM function; each generated object is validated by
the check's own schema machinery against the real CRDs (KubeRay's RayCluster, RayJob, RayService,
RayCronJob with `authOptions`; Istio's AuthorizationPolicy, RequestAuthentication and
VirtualService from ../shared/upstream) and the strict core schemas (NetworkPolicy, Role,
RoleBinding, ClusterRole, ClusterRoleBinding, ResourceQuota, Namespace). CI-only where
../shared is absent.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from krm_fn import yamlio
from krm_fn.check import schemas
from tests.conftest import TESTDATA, require_upstream
from tests.test_golden import run_krm

CASES = sorted(p for p in (TESTDATA / "krm").iterdir() if p.name.startswith("isolation-"))
MANAGED_BY = "app.kubernetes.io/managed-by"
ISTIO_CRDS = (
    "authorizationpolicies.security.istio.io.crd.yaml",
    "requestauthentications.security.istio.io.crd.yaml",
    "virtualservices.networking.istio.io.crd.yaml",
)


@cache
def checker() -> schemas.SchemaChecker:
    upstream = require_upstream()
    crds = schemas.CrdSchemas()
    files = [
        *sorted((upstream / "kuberay" / "crd").glob("ray.io_*.yaml")),
        *(upstream / "istio" / f for f in ISTIO_CRDS),
    ]
    for file in files:
        assert crds.add(yamlio.load(file.read_text()), str(file)) == [], file
    return schemas.SchemaChecker(schemas.resolve_version(None), crds, strict=True)


def generated(case: Path) -> list[dict[str, Any]]:
    code, out, _ = run_krm(case)
    assert code == 0, out
    items = yamlio.load(out)["items"]
    return [o for o in items if (o.get("metadata") or {}).get("labels", {}).get(MANAGED_BY) == "ray-tenants"]


def test_the_cases_cover_every_layer_and_kind() -> None:
    kinds = {o["kind"] for case in CASES for o in generated(case)}
    assert kinds >= {
        "RayCluster",
        "RayJob",
        "RayService",
        "RayCronJob",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "ResourceQuota",
        "AuthorizationPolicy",
        "RequestAuthentication",
    }


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_every_generated_object_validates_strictly(case: Path) -> None:
    check = checker()
    for obj in generated(case):
        verdict = check.check(obj)
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        assert verdict.findings == [], (label, verdict.findings)
        assert verdict.unchecked is None, (label, verdict.unchecked)
        assert [n for n in verdict.notes if "transition" not in n[1]] == [], (label, verdict.notes)


def test_a_misspelt_field_would_be_caught() -> None:
    """The validation above can fail: an unknown field in a policy is a finding."""
    check = checker()
    policy = next(o for case in CASES for o in generated(case) if o["kind"] == "AuthorizationPolicy")
    policy["spec"]["rules"][0]["to"][0]["operation"]["path"] = ["/x"]
    assert check.check(policy).findings
    quota = next(o for case in CASES for o in generated(case) if o["kind"] == "ResourceQuota")
    quota["spec"]["hardLimits"] = {}
    assert check.check(quota).findings
