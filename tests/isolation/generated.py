"""The generated isolation objects every semantic test reads: one expansion, one place.

`ray-tenants render` of the shipped example (base/ and overlays/tenants.yaml) with `spec.access`
set as a platform team would set it: both tenants, one with groups of its own, behind a gateway
that checks JWTs, with an operator and a monitoring namespace.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from krm_fn import cli
from tests.conftest import REPO, example_bases

GATEWAY_NAMESPACE = "asm-ingress"
GATEWAY_LABELS = {"istio": "asm-ingressgateway"}
ISSUER = "https://idp.example.com"
OPERATOR_NAMESPACE = "ray-system"
MONITORING_NAMESPACE = "monitoring"
GROUPS = {"mlops": ["ml-platform", "ml-admins"]}  # research: its name, the default


def spec() -> dict[str, Any]:
    """The example tenant spec with `spec.access` and groups."""
    out: dict[str, Any] = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    out["spec"]["access"] = {
        "rayAuth": "token",
        "networkPolicy": {
            "operatorNamespace": OPERATOR_NAMESPACE,
            "monitoringNamespace": MONITORING_NAMESPACE,
        },
        "gateway": {
            "namespace": GATEWAY_NAMESPACE,
            "selector": dict(GATEWAY_LABELS),
            "jwt": {"issuer": ISSUER, "jwksUri": f"{ISSUER}/keys", "groupsClaim": "groups"},
        },
    }
    for tenant in out["spec"]["tenants"]:
        if tenant["name"] in GROUPS:
            tenant["groups"] = list(GROUPS[tenant["name"]])
    return out


def groups_of(tenant: str) -> list[str]:
    return GROUPS.get(tenant, [tenant])


def render(spec_doc: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """`ray-tenants render --config SPEC base/...` in-process; the objects it prints."""
    path = folder / "tenants.yaml"
    path.write_text(yaml.safe_dump(spec_doc, sort_keys=False))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["render", "--config", str(path), *map(str, example_bases())], out, err)
    assert code == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


def tenants() -> list[str]:
    return [t["name"] for t in spec()["spec"]["tenants"]]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]
