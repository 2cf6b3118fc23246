"""The Spot records hold what they are given (the provider presets are built from them at import)."""

from __future__ import annotations

from krm_fn.spot.providers import PRESETS, Provider, node_requirement, taint_toleration


def test_a_provider_keeps_every_field() -> None:
    req = node_requirement("example.com/capacity", "spot")
    tol = taint_toleration("example.com/capacity", "spot")
    p = Provider((req,), (tol,), "example.com/pool", 60, 45, 30)
    assert (p.requirements, p.tolerations, p.pool_label) == ((req,), (tol,), "example.com/pool")
    assert (p.notice_seconds, p.default_grace_seconds, p.pod_share_seconds) == (60, 45, 30)
    assert req == {"key": "example.com/capacity", "operator": "In", "values": ["spot"]}
    assert tol == {
        "key": "example.com/capacity",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }


def test_the_gke_preset_is_the_documented_one() -> None:
    gke = PRESETS["gke"]
    assert gke == Provider(
        (node_requirement("cloud.google.com/gke-spot", "true"),),
        (taint_toleration("cloud.google.com/gke-spot", "true"),),
        "cloud.google.com/gke-nodepool",
        30,
        15,
        15,
    )
