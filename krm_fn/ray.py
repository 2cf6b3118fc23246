"""KubeRay workloads: where their cluster specs live, their head services, their name limits."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from krm_fn.results import describe

RAY_GROUP = "ray.io"
DASHBOARD_PORT = 8265
# KubeRay names a workload's head Service `<name>-head-svc` unless the spec names it
HEAD_SERVICE_SUFFIX = "-head-svc"
HEAD_SERVICE_PLACEHOLDER = f"<raycluster>{HEAD_SERVICE_SUFFIX}"  # for messages

# kind -> path (from the object root) of the embedded RayClusterSpec
CLUSTER_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
    "RayCronJob": ("spec", "jobTemplate", "rayClusterSpec"),
}

# KubeRay validates names as DNS-1035 labels and shortens them less than the generated children
# need: these are the limits its webhook enforces.
NAME_LIMITS: dict[str, int] = {"RayCluster": 53, "RayJob": 47, "RayService": 47, "RayCronJob": 47}


# patterns are compiled on first use (functools.cache): a call compiles only those it needs
@functools.cache
def dns1035() -> re.Pattern[str]:
    """A DNS-1035 label, as KubeRay wants its workloads' names."""
    return re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@functools.cache
def dns1123_label() -> re.Pattern[str]:
    """A DNS-1123 label (a namespace's name)."""
    return re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@functools.cache
def dns1123_subdomain() -> re.Pattern[str]:
    """A DNS-1123 subdomain (a domain, a label key's prefix)."""
    return re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@functools.cache
def _qualified_name_part() -> re.Pattern[str]:
    return re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def is_label_key(key: str) -> bool:
    """A Kubernetes label key: an optional DNS subdomain prefix and `/`, then a name of 1-63 chars."""
    prefix, sep, name = key.rpartition("/")
    if sep and not (0 < len(prefix) <= 253 and dns1123_subdomain().match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_qualified_name_part().match(name))


def is_label_value(value: str) -> bool:
    """A Kubernetes label value: empty, or up to 63 chars of the name alphabet."""
    return value == "" or (len(value) <= 63 and bool(_qualified_name_part().match(value)))


def is_ray_workload(obj: Mapping[str, Any]) -> bool:
    """True for the KubeRay kinds that embed a RayClusterSpec."""
    api, kind = obj.get("apiVersion"), obj.get("kind")
    # `kind: []` is input too, and a list is no key to look up
    return (
        isinstance(api, str)
        and api.split("/", 1)[0] == RAY_GROUP
        and isinstance(kind, str)
        and kind in CLUSTER_SPEC_PATHS
    )


def cluster_spec_path(obj: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Path of the embedded RayClusterSpec for a Ray workload, None for other objects."""
    return CLUSTER_SPEC_PATHS.get(str(obj.get("kind"))) if is_ray_workload(obj) else None


def cluster_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The embedded RayClusterSpec, or None when absent (e.g. a RayJob with clusterSelector)."""
    path = cluster_spec_path(obj)
    node: Any = obj
    for key in path or ():
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if path and isinstance(node, Mapping) else None


def dotted(path: tuple[str | int, ...]) -> str:
    """Render a path as `spec.workerGroupSpecs[0].template`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def worker_groups(
    obj: Mapping[str, Any],
) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Each worker group of a Ray workload with its path from the object root."""
    path = cluster_spec_path(obj)
    spec = cluster_spec(obj)
    if path is None or spec is None:
        return
    groups = spec.get("workerGroupSpecs")
    if isinstance(groups, list):
        for i, group in enumerate(groups):
            if isinstance(group, Mapping):
                yield (*path, "workerGroupSpecs", i), group


def shape_problems(obj: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Where the parts of a Ray workload that the function reads have the wrong shape.

    Each problem is (path from the object root, message). An absent cluster spec (a RayJob with
    clusterSelector) or an absent `workerGroupSpecs` (a head-only cluster) is no problem; a
    cluster spec, worker group list, worker group or template of another type is: reading past
    it would silently leave the workers without placement.
    """
    path = cluster_spec_path(obj)
    if path is None:
        return []
    node: Any = obj
    for depth, key in enumerate(path):
        node = node.get(key)
        if node is None:
            return []
        if not isinstance(node, Mapping):
            return [(path[: depth + 1], f"expected a mapping, got {describe(node)}")]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    head = node.get("headGroupSpec")
    if head is not None and not isinstance(head, Mapping):
        problems.append(((*path, "headGroupSpec"), f"expected a mapping, got {describe(head)}"))
    groups = node.get("workerGroupSpecs")
    gpath = (*path, "workerGroupSpecs")
    if groups is None:
        return problems
    if not isinstance(groups, list):
        return [*problems, (gpath, f"expected a list of worker groups, got {describe(groups)}")]
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping):
            problems.append(((*gpath, i), f"expected a worker group (a mapping), got {describe(group)}"))
            continue
        name = group.get("groupName")
        if name is not None and not isinstance(name, str):
            problems.append(((*gpath, i, "groupName"), f"expected a string, got {describe(name)}"))
        template = group.get("template")
        if template is not None and not isinstance(template, Mapping):
            problems.append(
                ((*gpath, i, "template"), f"expected a pod template (a mapping), got {describe(template)}")
            )
    return problems


def head_service_name(obj: Mapping[str, Any]) -> str | None:
    """Name of the head Service KubeRay creates for this workload (None when it creates none).

    RayCluster: `<name>-head-svc` unless `headGroupSpec.headService.metadata.name` is set.
    RayService and RayJob: `<name>-head-svc` (KubeRay names it after the owner, not the
    generated RayCluster); a custom head service name in the embedded spec still wins.
    """
    name = (obj.get("metadata") or {}).get("name")
    if not is_ray_workload(obj) or not isinstance(name, str):
        return None
    spec = cluster_spec(obj)
    if spec is None:
        return None
    head = spec.get("headGroupSpec")
    svc = head.get("headService") if isinstance(head, Mapping) else None
    meta = svc.get("metadata") if isinstance(svc, Mapping) else None
    custom = meta.get("name") if isinstance(meta, Mapping) else None
    if isinstance(custom, str) and custom:
        return custom
    return f"{name}{HEAD_SERVICE_SUFFIX}"


def is_head_service_name(service: str) -> bool:
    """A Service name KubeRay gives a head service by default, for when the workload is not at hand."""
    return service.endswith(HEAD_SERVICE_SUFFIX)


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` is not a valid name for a Ray workload of `kind`, or None."""
    limit = NAME_LIMITS.get(kind)
    if limit is None:
        return None
    if not dns1035().match(name):
        return f"{kind} name {name!r} must be a DNS-1035 label (lowercase letters, digits, '-')"
    if len(name) > limit:
        return f"{kind} name {name!r} is {len(name)} characters; KubeRay allows at most {limit}"
    return None
