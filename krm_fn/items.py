"""What the function knows about the items it is given: ownership, kpt placement, scope."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from krm_fn.config import API_GROUP, MANAGED_BY, TENANT_LABEL

MANAGER = "ray-tenants"
LOCAL_CONFIG = "config.kubernetes.io/local-config"
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
# kinds the expansion gives one file per tenant folder, named after the kind alone (one Namespace
# and one kustomization per tenant); every other generated object is `<kind>_<name>.yaml`
SINGLE_FILE_KINDS = ("namespace", "kustomization")
# `<outputDir>/_gateway/`: the generated objects that live in the gateway's namespace (each
# tenant's policy there, and what all tenants share); never a tenant's name (`_` is no DNS label)
GATEWAY_FOLDER = "_gateway"
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
# Where each kind lives, by API group ("" is the core group) and kind: True for namespaced kinds
# (a base is copied into each tenant's namespace), False for cluster-scoped ones (passed through).
# A kind in no table and declared by no CRD among the inputs is refused, never guessed: a copy of
# a cluster-scoped object per tenant is one shared object that every tenant's patch rewrites.
# The ray.io, networking.istio.io, security.istio.io and gateway.networking.k8s.io scopes are
# those of the upstream CRDs (KubeRay, Istio, Gateway API).
_NAMESPACED: dict[str, tuple[str, ...]] = {
    "": (
        "Binding",
        "ConfigMap",
        "Endpoints",
        "Event",
        "LimitRange",
        "PersistentVolumeClaim",
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
    ),
    "apps": ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
    "autoscaling": ("HorizontalPodAutoscaler",),
    "batch": ("CronJob", "Job"),
    "coordination.k8s.io": ("Lease",),
    "discovery.k8s.io": ("EndpointSlice",),
    "events.k8s.io": ("Event",),
    "networking.k8s.io": ("Ingress", "NetworkPolicy"),
    "policy": ("PodDisruptionBudget",),
    "rbac.authorization.k8s.io": ("Role", "RoleBinding"),
    "resource.k8s.io": ("ResourceClaim", "ResourceClaimTemplate"),
    "storage.k8s.io": ("CSIStorageCapacity",),
    "ray.io": ("RayCluster", "RayCronJob", "RayJob", "RayService"),
    "networking.istio.io": (
        "DestinationRule",
        "EnvoyFilter",
        "Gateway",
        "ProxyConfig",
        "ServiceEntry",
        "Sidecar",
        "VirtualService",
        "WorkloadEntry",
        "WorkloadGroup",
    ),
    "security.istio.io": ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"),
    "telemetry.istio.io": ("Telemetry",),
    "extensions.istio.io": ("WasmPlugin",),
    "gateway.networking.k8s.io": (
        "BackendLBPolicy",
        "BackendTLSPolicy",
        "GRPCRoute",
        "Gateway",
        "HTTPRoute",
        "ReferenceGrant",
        "TCPRoute",
        "TLSRoute",
        "UDPRoute",
    ),
    "cert-manager.io": ("Certificate", "CertificateRequest", "Issuer"),
}
_CLUSTER: dict[str, tuple[str, ...]] = {
    "": ("ComponentStatus", "Namespace", "Node", "PersistentVolume"),
    "admissionregistration.k8s.io": (
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    ),
    "apiextensions.k8s.io": ("CustomResourceDefinition",),
    "apiregistration.k8s.io": ("APIService",),
    "certificates.k8s.io": ("CertificateSigningRequest", "ClusterTrustBundle"),
    "flowcontrol.apiserver.k8s.io": ("FlowSchema", "PriorityLevelConfiguration"),
    "networking.k8s.io": ("IPAddress", "IngressClass", "ServiceCIDR"),
    "node.k8s.io": ("RuntimeClass",),
    "policy": ("PodSecurityPolicy",),
    "rbac.authorization.k8s.io": ("ClusterRole", "ClusterRoleBinding"),
    "resource.k8s.io": ("DeviceClass", "ResourceSlice"),
    "scheduling.k8s.io": ("PriorityClass",),
    "storage.k8s.io": ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment", "VolumeAttributesClass"),
    "gateway.networking.k8s.io": ("GatewayClass",),
    "cert-manager.io": ("ClusterIssuer",),
}
KNOWN_SCOPES: dict[tuple[str, str], bool] = {
    **{(group, kind): True for group, kinds in _NAMESPACED.items() for kind in kinds},
    **{(group, kind): False for group, kinds in _CLUSTER.items() for kind in kinds},
}
CRD_GROUP = "apiextensions.k8s.io"
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
# the one file name the function writes a base folder's kustomization under
BASE_KUSTOMIZATION_FILE = "kustomization.yaml"
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


def generated_file_name(obj: Mapping[str, Any]) -> str:
    """The file a generated object gets in its folder: `<kind>.yaml` for SINGLE_FILE_KINDS, else
    `<kind>_<name>.yaml` (kpt placement, the overlays and the standalone writer alike)."""
    kind = str(obj.get("kind", "")).lower()
    return f"{kind}.yaml" if kind in SINGLE_FILE_KINDS else f"{kind}_{meta(obj).get('name')}.yaml"


def is_generated_object(obj: Mapping[str, Any]) -> bool:
    """Labelled `managed-by: ray-tenants`: generated for one tenant, or shared by all of them."""
    return labels(obj).get(MANAGED_BY) == MANAGER


def is_shared(obj: Mapping[str, Any]) -> bool:
    """Generated for all tenants together (managed-by, no tenant label): the gateway's one RequestAuthentication."""
    return is_generated_object(obj) and TENANT_LABEL not in labels(obj)


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


def is_copyable(obj: Mapping[str, Any]) -> bool:
    """A named cluster object the function did not generate: a base, if its kind is namespaced."""
    name = meta(obj).get("name")
    return (
        isinstance(name, str)
        and bool(name)
        and isinstance(obj.get("apiVersion"), str)
        and isinstance(obj.get("kind"), str)
        and not is_generated_object(obj)
        and not is_local_config(obj)
        and not is_tool_config(obj)
    )


def group_of(obj: Mapping[str, Any]) -> str:
    """The API group of an object ('' for the core group's `v1`)."""
    api = obj.get("apiVersion")
    return api.split("/", 1)[0] if isinstance(api, str) and "/" in api else ""


def declared_scopes(objs: Iterable[Any]) -> dict[tuple[str, str], bool]:
    """The scope each CustomResourceDefinition among `objs` declares for its kind (True: namespaced).

    A CRD without a usable group, kind or scope declares nothing: the schema check reports it.
    """
    out: dict[tuple[str, str], bool] = {}
    for obj in objs:
        if not (isinstance(obj, Mapping) and obj.get("kind") == "CustomResourceDefinition"):
            continue
        spec = obj.get("spec")
        if group_of(obj) != CRD_GROUP or not isinstance(spec, Mapping):
            continue
        names = spec.get("names")
        group, scope = spec.get("group"), spec.get("scope")
        kind = names.get("kind") if isinstance(names, Mapping) else None
        if isinstance(group, str) and isinstance(kind, str) and scope in ("Namespaced", "Cluster"):
            out[(group, kind)] = scope == "Namespaced"
    return out


def scope_of(obj: Mapping[str, Any], declared: Mapping[tuple[str, str], bool]) -> bool | None:
    """True for a namespaced kind, False for a cluster-scoped one, None where nobody says."""
    key = (group_of(obj), str(obj.get("kind")))
    found = declared.get(key)
    return KNOWN_SCOPES.get(key) if found is None else found


def is_base(obj: Mapping[str, Any], declared: Mapping[tuple[str, str], bool] | None = None) -> bool:
    """A namespaced cluster object the tenants get a copy of."""
    return is_copyable(obj) and scope_of(obj, declared or {}) is True


def inside(path: str, folder: str) -> bool:
    """Whether the package path `path` lies in `folder` ('.' holds everything)."""
    folder = posixpath.normpath(folder)
    return folder == "." or posixpath.normpath(path).startswith(folder + "/")


def placed(obj: dict[str, Any], path: str, index: int) -> dict[str, Any]:
    """Give a generated item its file and index in the package (both kpt annotation styles)."""
    notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
    for key in PATH_ANNOTATIONS:
        notes[key] = path
    for key in INDEX_ANNOTATIONS:
        notes[key] = str(index)
    return obj


def is_own_base_kustomization(obj: Any, path: str) -> bool:
    """A base folder's `kustomization.yaml` that the function wrote (`output: overlays`).

    A Kustomization labelled `app.kubernetes.io/managed-by: ray-tenants` with no tenant label, in
    a file of that name: the function keeps it listing exactly the folder's base files. Any
    other kustomization is the user's, never rewritten.
    """
    return (
        isinstance(obj, Mapping)
        and posixpath.basename(path) == BASE_KUSTOMIZATION_FILE
        # the gateway folder's kustomization is shared by the tenants, not a base folder's
        and posixpath.basename(posixpath.dirname(posixpath.normpath(path))) != GATEWAY_FOLDER
        and obj.get("kind") == "Kustomization"
        and group_of(obj) == KUSTOMIZE_GROUP
        and labels(obj).get(MANAGED_BY) == MANAGER
        and TENANT_LABEL not in labels(obj)
    )


def tenant_folder(file: str, output_dir: str) -> str | None:
    """The first folder of the package path `file` under `output_dir` (None for a file directly in it)."""
    parts = posixpath.relpath(posixpath.normpath(file), posixpath.normpath(output_dir)).split("/")
    return parts[0] if len(parts) > 1 else None


def owner_in_package(obj: Mapping[str, Any], output_dir: str) -> str | None:
    """The tenant a kpt item was generated for: labelled so AND in `<outputDir>/<tenant>/`.

    Labels alone are not ownership in a package: kpt deletes the file of every item the function
    drops, so a labelled file anywhere else stays the user's.
    """
    return owner_at(obj, path_of(obj), output_dir)


def owner_at(obj: Mapping[str, Any], path: str, output_dir: str) -> str | None:
    """The tenant an object at the package path `path` was generated for (see owner_in_package).

    In `<outputDir>/_gateway/` every generated object is the function's: a tenant's (its name) or
    shared (GATEWAY_FOLDER).
    """
    tenant = owner_tenant(obj)
    if is_generated_object(obj) and inside(path, posixpath.join(output_dir, GATEWAY_FOLDER)):
        return tenant if tenant is not None else GATEWAY_FOLDER
    if tenant is None or not inside(path, posixpath.join(output_dir, tenant)):
        return None
    return tenant


def is_list(obj: Any) -> bool:
    """A `v1/List` of objects, as kubectl writes them: its items are the objects."""
    return (
        isinstance(obj, Mapping)
        and obj.get("apiVersion") == "v1"
        and obj.get("kind") == "List"
        and isinstance(obj.get("items"), list)
    )


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
