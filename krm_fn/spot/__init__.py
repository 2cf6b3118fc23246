"""Spot placement for Ray worker groups: settings, injection and policy over one set of rules.

`providers` knows what Spot capacity looks like, `settings` parses `spec.spot`, `inject` places
worker groups, `policy` verifies a workload; the names below are the package's face.
"""

from krm_fn.spot.inject import apply_spot
from krm_fn.spot.policy import Finding, check_group_names, verify_head, verify_workers
from krm_fn.spot.providers import (
    KNOWN_SPOT_REQUIREMENTS,
    MARKET_TYPE_LABEL,
    MODES,
    PRESETS,
    PROVIDERS,
    SPOT_NODE_LABELS,
    GracefulStop,
    Provider,
    SpotSpec,
    is_spot_requirement,
    spot_requirements,
    spot_tolerations,
)
from krm_fn.spot.settings import parse_spot

__all__ = [
    "KNOWN_SPOT_REQUIREMENTS",
    "MARKET_TYPE_LABEL",
    "MODES",
    "PRESETS",
    "PROVIDERS",
    "SPOT_NODE_LABELS",
    "Finding",
    "GracefulStop",
    "Provider",
    "SpotSpec",
    "apply_spot",
    "check_group_names",
    "is_spot_requirement",
    "parse_spot",
    "spot_requirements",
    "spot_tolerations",
    "verify_head",
    "verify_workers",
]
