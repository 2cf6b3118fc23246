"""Spot placement engine (interface; implementation in progress)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from krm_fn.results import Result


@dataclass(frozen=True)
class SpotSpec:
    """What to inject into worker groups: the parsed `spec.spot` of the tenant spec."""

    provider: str = "gke"
    mode: str = "required"
    node_pools: Mapping[str, str] = field(default_factory=dict)
    taint_key: str = "dedicated"

    @property
    def enabled(self) -> bool:
        return self.provider != "none"


def parse_spot(raw: object, path: str = "spec.spot") -> tuple[SpotSpec, list[Result]]:
    """Validate and default the `spot` settings; findings carry field paths under `path`."""
    if raw is None:
        return SpotSpec(), []
    return SpotSpec(), []


def apply_spot(obj: Mapping[str, Any], spec: SpotSpec) -> tuple[dict[str, Any], list[Result]]:
    """Return a copy of `obj` with Spot placement in every worker group, and the findings."""
    return dict(obj), []
