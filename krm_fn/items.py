"""What the function knows about the items it is given: ownership, kpt placement, scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from krm_fn.config import API_GROUP, MANAGED_BY, TENANT_LABEL

MANAGER = "ray-tenants"
LOCAL_CONFIG = "config.kubernetes.io/local-config"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
# Placement and identity that kpt gives each item it read from a file; a copy must not inherit
# them (kpt would see two objects at one place) and a generated item gets its own.
KPT_PLACEMENT = (
    *PATH_ANNOTATIONS,
    *INDEX_ANNOTATIONS,
    "internal.config.kubernetes.io/id",
    "config.k8s.io/id",
    "internal.config.kubernetes.io/seqindent",
    "internal.config.kubernetes.io/annotations-migration-resource-id",
    "internal.config.kubernetes.io/package-path",
)
# Kinds that are not namespaced: never copied per tenant.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "GatewayClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "ClusterIssuer",
        "PodSecurityPolicy",
        "ComponentStatus",
        "FlowSchema",
        "PriorityLevelConfiguration",
    }
)
# Tool configuration that travels with manifests but is never a cluster object.
CONFIG_GROUPS = (
    "kpt.dev",
    "kustomize.config.k8s.io",
    "config.kubernetes.io",
    "fn.kpt.dev",
    API_GROUP,
)


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = meta(obj).get("annotations")
    return value if isinstance(value, Mapping) else {}


def labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = meta(obj).get("labels")
    return value if isinstance(value, Mapping) else {}


def owner_tenant(obj: Mapping[str, Any]) -> str | None:
    """The tenant an item was generated for, None for items the function does not own."""
    marks = labels(obj)
    tenant = marks.get(TENANT_LABEL)
    return tenant if marks.get(MANAGED_BY) == MANAGER and isinstance(tenant, str) else None


def path_of(obj: Mapping[str, Any]) -> str:
    """The file kpt read the item from ('' when it carries none, as under kustomize)."""
    notes = annotations_of(obj)
    for key in PATH_ANNOTATIONS:
        value = notes.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def index_of(obj: Mapping[str, Any]) -> int | None:
    notes = annotations_of(obj)
    for key in INDEX_ANNOTATIONS:
        value = notes.get(key)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def is_local_config(obj: Mapping[str, Any]) -> bool:
    return str(annotations_of(obj).get(LOCAL_CONFIG, "")).lower() == "true"


def is_tool_config(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return isinstance(api, str) and api.split("/", 1)[0] in CONFIG_GROUPS and "/" in api


def same_object(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same apiVersion, kind, name and namespace (path too, where both carry one)."""
    ma, mb = meta(a), meta(b)
    if (a.get("apiVersion"), a.get("kind"), ma.get("name"), ma.get("namespace")) != (
        b.get("apiVersion"),
        b.get("kind"),
        mb.get("name"),
        mb.get("namespace"),
    ):
        return False
    pa, pb = path_of(a), path_of(b)
    return not (pa and pb) or pa == pb


def is_base(obj: Mapping[str, Any]) -> bool:
    """A namespaced cluster object the tenants get a copy of."""
    name = meta(obj).get("name")
    return (
        isinstance(name, str)
        and bool(name)
        and isinstance(obj.get("apiVersion"), str)
        and isinstance(obj.get("kind"), str)
        and owner_tenant(obj) is None
        and not is_local_config(obj)
        and not is_tool_config(obj)
        and obj.get("kind") not in CLUSTER_SCOPED
    )


def placed(obj: dict[str, Any], path: str, index: int) -> dict[str, Any]:
    """Give a generated item its file and index in the package (both kpt annotation styles)."""
    notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
    for key in PATH_ANNOTATIONS:
        notes[key] = path
    for key in INDEX_ANNOTATIONS:
        notes[key] = str(index)
    return obj


def without_placement(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the object without kpt's placement annotations: what it is, not where it is."""
    out: dict[str, Any] = clone(dict(obj))
    meta_ = out.get("metadata")
    notes = meta_.get("annotations") if isinstance(meta_, dict) else None
    if isinstance(meta_, dict) and isinstance(notes, dict):
        for key in KPT_PLACEMENT:
            notes.pop(key, None)
        if not notes:
            del meta_["annotations"]
    return out


def clone(value: Any) -> Any:
    """Deep copy of YAML-loaded data (dicts, lists, scalars); several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        # a list of scalars (a long `values` list) is copied whole, without a call per element
        if set(map(type, value)) <= _SCALARS:
            return list(value)
        return [clone(v) for v in value]
    return value


_SCALARS = frozenset((str, int, float, bool, type(None)))
