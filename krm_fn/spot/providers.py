"""What Spot capacity looks like: provider presets, the parsed settings, what a group must carry.

The injection and the policy both take the wanted requirements and tolerations from here, so
what is added and what is verified is one list.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from krm_fn.results import Record
from krm_fn.selectors import same_expression, tolerates

PROVIDERS = ("gke", "eks", "karpenter", "aks", "custom", "none")
MODES = ("required", "preferred")
MARKET_TYPE_LABEL = "ray.io/market-type"
PREFERRED_WEIGHT = 100


def node_requirement(key: str, value: str) -> dict[str, Any]:
    """The node selector requirement `key In [value]`."""
    return {"key": key, "operator": "In", "values": [value]}


def taint_toleration(key: str, value: str) -> dict[str, Any]:
    """The toleration of the taint `key=value:NoSchedule`."""
    return {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}


class Provider(Record):
    """What a provider's Spot nodes look like and how long their pods get on preemption."""

    _fields = __slots__ = (
        "requirements",
        "tolerations",
        "pool_label",
        "notice_seconds",
        "default_grace_seconds",
        "pod_share_seconds",
    )

    def __init__(
        self,
        requirements: tuple[Mapping[str, Any], ...] = (),
        tolerations: tuple[Mapping[str, Any], ...] = (),
        pool_label: str | None = None,
        notice_seconds: int | None = None,
        default_grace_seconds: int | None = None,
        pod_share_seconds: int | None = None,
    ) -> None:
        self.requirements = requirements
        self.tolerations = tolerations
        self.pool_label = pool_label
        # seconds between the preemption notice and the VM going away
        self.notice_seconds = notice_seconds
        # what `gracefulStop: true` gives a pod: the part of the notice pods really get
        self.default_grace_seconds = default_grace_seconds
        # a grace period above this is cut short by the node's own shutdown split (warning)
        self.pod_share_seconds = pod_share_seconds


PRESETS: Mapping[str, Provider] = {
    # GKE Standard and Autopilot label Spot nodes alike; Autopilot also taints them, so the
    # toleration is harmless on Standard and needed on Autopilot. Graceful node shutdown splits
    # the 30 s notice into 15 s for ordinary pods and 15 s for critical system pods.
    "gke": Provider(
        requirements=(node_requirement("cloud.google.com/gke-spot", "true"),),
        tolerations=(taint_toleration("cloud.google.com/gke-spot", "true"),),
        pool_label="cloud.google.com/gke-nodepool",
        notice_seconds=30,
        default_grace_seconds=15,
        pod_share_seconds=15,
    ),
    # EC2 gives a 2 minute notice; the interruption handler (NTH or Karpenter) needs a moment
    # to receive it and start draining, hence a default well under the notice.
    "eks": Provider(
        requirements=(node_requirement("eks.amazonaws.com/capacityType", "SPOT"),),
        pool_label="eks.amazonaws.com/nodegroup",
        notice_seconds=120,
        default_grace_seconds=90,
    ),
    "karpenter": Provider(
        requirements=(node_requirement("karpenter.sh/capacity-type", "spot"),),
        pool_label="karpenter.sh/nodepool",
        notice_seconds=120,
        default_grace_seconds=90,
    ),
    # AKS taints every Spot node itself; eviction comes about 30 s after the scheduled event.
    "aks": Provider(
        requirements=(node_requirement("kubernetes.azure.com/scalesetpriority", "spot"),),
        tolerations=(taint_toleration("kubernetes.azure.com/scalesetpriority", "spot"),),
        pool_label="kubernetes.azure.com/agentpool",
        notice_seconds=30,
        default_grace_seconds=25,
    ),
    "custom": Provider(),
    "none": Provider(),
}

# provider -> the expressions that pin a pod to that provider's Spot capacity; for a checker
# that has no spec and must recognise "pinned to Spot" on any known provider
KNOWN_SPOT_REQUIREMENTS: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    name: p.requirements for name, p in PRESETS.items() if p.requirements
}

# node label -> value marking interruptible capacity (GKE preemptible VMs are as short-lived)
SPOT_NODE_LABELS: Mapping[str, str] = {
    **{str(r["key"]): str(r["values"][0]) for rs in KNOWN_SPOT_REQUIREMENTS.values() for r in rs},
    "cloud.google.com/gke-preemptible": "true",
}


class GracefulStop(Record):
    """How worker pods stop on preemption: a grace period and, only if asked, a preStop hook."""

    _fields = __slots__ = ("termination_grace_period_seconds", "pre_stop", "notice_seconds")

    def __init__(
        self,
        termination_grace_period_seconds: int,
        pre_stop: tuple[str, ...] | None = None,
        notice_seconds: int | None = None,
    ) -> None:
        self.termination_grace_period_seconds = termination_grace_period_seconds
        self.pre_stop = pre_stop
        self.notice_seconds = notice_seconds


class SpotSpec(Record):
    """What to inject into worker groups: the parsed `spec.spot` of the tenant spec."""

    _fields = __slots__ = (
        "provider",
        "mode",
        "node_pools",
        "taint_key",
        "pool_label",
        "match_expressions",
        "tolerations",
        "groups",
        "graceful_stop",
        "market_type_label",
    )

    def __init__(
        self,
        provider: str = "gke",
        mode: str = "required",
        node_pools: Mapping[str, str] = MappingProxyType({}),
        taint_key: str = "dedicated",
        pool_label: str | None = None,
        match_expressions: tuple[Mapping[str, Any], ...] = (),
        tolerations: tuple[Mapping[str, Any], ...] = (),
        groups: tuple[str, ...] | None = None,
        graceful_stop: GracefulStop | None = None,
        market_type_label: bool = False,
    ) -> None:
        self.provider = provider
        self.mode = mode
        self.node_pools = node_pools
        self.taint_key = taint_key
        self.pool_label = pool_label
        self.match_expressions = match_expressions
        self.tolerations = tolerations
        self.groups = groups
        self.graceful_stop = graceful_stop
        self.market_type_label = market_type_label

    @property
    def enabled(self) -> bool:
        return self.provider != "none"

    @property
    def preset(self) -> Provider:
        """The provider's preset (empty for `custom`, `none` and unknown names)."""
        return PRESETS.get(self.provider, PRESETS["custom"])

    @property
    def pool_label_key(self) -> str | None:
        """Node label naming the pool: the `poolLabel` override, else the provider's."""
        return self.pool_label or self.preset.pool_label

    def targets(self, group_name: object) -> bool:
        """True when the worker group of that name gets Spot placement."""
        return self.enabled and (self.groups is None or group_name in self.groups)


def spot_requirements(spec: SpotSpec, group_name: str | None) -> list[dict[str, Any]]:
    """The node selector requirements a worker group must carry (fresh dicts, no duplicates)."""
    out: list[dict[str, Any]] = []
    pool = spec.node_pools.get(group_name) if group_name is not None else None
    candidates: list[Mapping[str, Any]] = list(spec.preset.requirements)
    if pool is not None and spec.pool_label_key:
        candidates.append(node_requirement(spec.pool_label_key, pool))
    candidates.extend(spec.match_expressions)
    for expr in candidates:
        if not any(same_expression(expr, seen) for seen in out):
            out.append(plain_copy(expr))
    return out


def spot_tolerations(spec: SpotSpec, group_name: str | None) -> list[dict[str, Any]]:
    """The tolerations a worker group must carry (fresh dicts, no duplicates)."""
    out: list[dict[str, Any]] = []
    pool = spec.node_pools.get(group_name) if group_name is not None else None
    candidates: list[Mapping[str, Any]] = list(spec.preset.tolerations)
    if pool is not None and spec.taint_key:
        candidates.append(taint_toleration(spec.taint_key, pool))
    candidates.extend(spec.tolerations)
    for tol in candidates:
        if not any(tolerates(seen, tol) for seen in out):
            out.append(plain_copy(tol))
    return out


def is_spot_requirement(expr: object) -> bool:
    """True for `<known spot label> In [<spot value>]`, i.e. an expression that pins to Spot."""
    if not isinstance(expr, Mapping):
        return False
    value = SPOT_NODE_LABELS.get(str(expr.get("key")))
    values = expr.get("values")
    return (
        value is not None
        and expr.get("operator") == "In"
        and isinstance(values, list)
        and bool(values)
        and all(v == value for v in values)
    )


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_SET = frozenset(_SCALARS)


def plain_copy(value: Any) -> Any:
    """Deep copy of YAML data into plain dicts and lists, several times faster than deepcopy.

    Exact type checks first: ABC isinstance checks would cost more than the copying itself.
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is dict:
        return {k: plain_copy(v) for k, v in value.items()}
    if cls is list:
        # a list of scalars (a long `values` list) is copied whole, without a call per element
        if set(map(type, value)) <= _SCALAR_SET:
            return list(value)
        return [plain_copy(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_copy(v) for v in value]
    return value
