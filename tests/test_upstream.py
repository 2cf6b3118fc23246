"""Real upstream manifests through the function (CI-only: skipped where ../shared is absent)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from krm_fn import krm
from tests.conftest import UPSTREAM, require_upstream

SAMPLES = sorted((UPSTREAM / "kuberay" / "samples").glob("*.yaml")) if UPSTREAM.is_dir() else []
SPOT_ONLY = {
    "apiVersion": "fn.ray-tenants.dev/v1alpha1",
    "kind": "RayTenants",
    "metadata": {"name": "pin"},
    "spec": {},
}


@pytest.mark.parametrize("sample", SAMPLES or [Path("absent")], ids=lambda p: p.name)
def test_kuberay_sample_through_spot_only_mode(sample: Path) -> None:
    require_upstream()
    items = [d for d in yaml.safe_load_all(sample.read_text()) if d is not None]
    rl = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": SPOT_ONLY,
    }
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(yaml.safe_dump(rl).encode()), out, err)
    result = yaml.safe_load(out.getvalue())
    assert code == 0, err.getvalue()
    assert not [r for r in result.get("results") or [] if r["severity"] == "error"]
    assert len(result["items"]) == len(items)
    for before, after in zip(items, result["items"], strict=True):
        assert (before["kind"], before["metadata"]) == (after["kind"], after["metadata"])
        if not before["apiVersion"].startswith("ray.io/"):
            assert before == after
