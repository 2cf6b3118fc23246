"""Ray auth per tenant: `authOptions` on every Ray workload, and who may use the credentials.

`rayAuth: token` sets `authOptions: {mode: token}` (KubeRay >= 1.5.1 generates the token Secret,
named after the RayCluster, key `auth_token`); a Role and RoleBinding let the tenant's groups read
that Secret and nothing else. `rayAuth: kubernetes` (Ray >= 2.55, RayCluster only) delegates to
the API server: the tenant's groups get the custom verb `ray:write` on their RayClusters, and each
head's ServiceAccount may create TokenReviews and SubjectAccessReviews (KubeRay's
`ray-cluster.kubernetes.auth.yaml` sample).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from krm_fn import ray
from krm_fn.results import Result, describe

TOKEN = "token"
KUBERNETES = "kubernetes"
NONE = "none"
TOKEN_MIN_RAY = (2, 52, 0)
KUBERNETES_MIN_RAY = (2, 55, 0)
AUTH_FIELD = "authOptions"
# the custom verb KubeRay's Kubernetes-delegated auth asks the API server about
RAY_WRITE_VERB = "ray:write"
TOKEN_READER = "ray-tenant-token-reader"
RAY_USER = "ray-tenant-ray-user"
RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
DEFAULT_SERVICE_ACCOUNT = "default"


def token_review_name(tenant: str) -> str:
    """The ClusterRole and ClusterRoleBinding that let a tenant's Ray heads review tokens."""
    return f"ray-tenant-{tenant}-token-review"


def auth_options(mode: str) -> dict[str, Any]:
    """The `authOptions` a tenant's Ray cluster gets for `rayAuth: mode` ({} for none)."""
    if mode == TOKEN:
        return {"mode": "token"}
    if mode == KUBERNETES:
        return {"mode": "token", "enableK8sTokenAuth": True}
    return {}


def parse_version(text: object) -> tuple[int, ...] | None:
    """`2.52.0` -> (2, 52, 0); None for what is not a dotted version (`latest`, absent)."""
    if isinstance(text, int | float):  # a bool too: `True` is no version either
        text = str(text)
    if not isinstance(text, str):
        return None
    match = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+.].*)?", text.strip())
    if match is None:
        return None
    return tuple(int(p) for p in match.groups(default="0"))


def has_token_auth(obj: Mapping[str, Any]) -> bool:
    """Whether a Ray workload's cluster runs with Ray's token auth (`authOptions.mode: token`)."""
    spec = ray.cluster_spec(obj)
    options = spec.get(AUTH_FIELD) if spec is not None else None
    return isinstance(options, Mapping) and options.get("mode") == "token"


def apply_auth(obj: dict[str, Any], mode: str) -> list[Result]:
    """Give a tenant's Ray workload `obj` (in place) the auth of `rayAuth: mode`; findings (no resource).

    An `authOptions` the workload sets itself is kept when it turns token auth on; one that
    leaves auth off (`{}`, `mode: disabled`) contradicts the spec. A workload without an embedded
    cluster (a RayJob with `clusterSelector`) runs on a cluster it does not define: nothing to set.
    """
    path = ray.cluster_spec_path(obj)
    spec = ray.cluster_spec(obj)
    if mode == NONE or path is None or spec is None:
        return []
    where = ray.dotted((*path, AUTH_FIELD))
    kind = str(obj.get("kind"))
    if mode == KUBERNETES and kind != "RayCluster":
        return [
            Result(
                f"rayAuth: kubernetes works for RayClusters only (KubeRay rejects a {kind} with "
                "enableK8sTokenAuth); use spec.access.rayAuth: token",
                field="kind",
            )
        ]
    results = _version_problems(spec, path, mode)
    current = spec.get(AUTH_FIELD)
    wanted = auth_options(mode)
    if current is None:
        assert isinstance(spec, dict)  # a copy's cluster spec is a dict
        _insert_after(spec, "rayVersion", AUTH_FIELD, wanted)
        return results
    if not isinstance(current, Mapping):
        return [*results, Result(f"expected a mapping, got {describe(current)}", field=where)]
    if current.get("mode") != "token":
        if "mode" in current:
            said = f"mode {current.get('mode')!r} turns Ray's auth off"
        else:
            shown = "`authOptions: {}`" if not current else "an authOptions without mode"
            said = f"{shown} leaves Ray's auth off (KubeRay reads a missing mode as disabled)"
        results.append(
            Result(
                f"{said}, which contradicts spec.access.rayAuth: {mode}; set mode: token, remove "
                "authOptions (ray-tenants sets it), or set spec.access.rayAuth: none",
                field=where,
            )
        )
    elif mode == KUBERNETES and current.get("enableK8sTokenAuth") is not True:
        results.append(
            Result(
                "rayAuth: kubernetes needs enableK8sTokenAuth: true here; set it or remove authOptions",
                field=f"{where}.enableK8sTokenAuth",
            )
        )
    if mode == KUBERNETES and current.get("secretName"):
        results.append(
            Result(
                "KubeRay refuses secretName with enableK8sTokenAuth: remove it for rayAuth: kubernetes",
                field=f"{where}.secretName",
            )
        )
    return results


def _insert_after(mapping: dict[str, Any], anchor: str, key: str, value: Any) -> None:
    """Set `mapping[key]` right after `anchor` (where people read it), or first without one."""
    entries = list(mapping.items())
    at = next((i + 1 for i, (k, _) in enumerate(entries) if k == anchor), 0)
    entries.insert(at, (key, value))
    mapping.clear()
    mapping.update(entries)


def _version_problems(spec: Mapping[str, Any], path: tuple[str, ...], mode: str) -> list[Result]:
    version = parse_version(spec.get("rayVersion"))
    least = KUBERNETES_MIN_RAY if mode == KUBERNETES else TOKEN_MIN_RAY
    if version is None or version >= least:
        return []
    shown = ".".join(map(str, least))
    remedy = "or set spec.access.rayAuth: none" if mode == TOKEN else "or use rayAuth: token (Ray >= 2.52)"
    return [
        Result(
            f"rayVersion {spec.get('rayVersion')!r} has no {'token' if mode == TOKEN else 'Kubernetes'} "
            f"auth (Ray >= {shown}; spec.access.rayAuth: {mode}): raise rayVersion to {shown} or later "
            f"(with an image of that version), {remedy}",
            field=ray.dotted((*path, "rayVersion")),
        )
    ]


def token_secret_names(workloads: Sequence[Mapping[str, Any]]) -> list[str]:
    """The token Secrets of the workloads that KubeRay or the user names in advance.

    A RayCluster's is its `authOptions.secretName`, else its own name. A RayJob's or RayService's
    cluster is named by KubeRay at random, so only a `secretName` they set is known.
    """
    names: list[str] = []
    for obj in workloads:
        spec = ray.cluster_spec(obj)
        options = spec.get(AUTH_FIELD) if spec is not None else None
        if not has_token_auth(obj) or not isinstance(options, Mapping) or options.get("enableK8sTokenAuth"):
            continue
        secret = options.get("secretName")
        name = (obj.get("metadata") or {}).get("name")
        if isinstance(secret, str) and secret:
            names.append(secret)
        elif obj.get("kind") == "RayCluster" and isinstance(name, str):
            names.append(name)
    return sorted(set(names))


def _group_subjects(groups: Sequence[str]) -> list[dict[str, str]]:
    return [{"kind": "Group", "apiGroup": RBAC_GROUP, "name": g} for g in groups]


def _rbac(
    kind: str, name: str, labels: Mapping[str, str], namespace: str | None, **body: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    return {"apiVersion": RBAC_API, "kind": kind, "metadata": meta, **body}


def _role_and_binding(
    name: str, namespace: str, rule: dict[str, Any], subjects: list[dict[str, str]], labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [
        _rbac("Role", name, labels, namespace, rules=[rule]),
        _rbac(
            "RoleBinding",
            name,
            labels,
            namespace,
            roleRef={"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
            subjects=subjects,
        ),
    ]


def head_service_accounts(workloads: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ServiceAccounts the heads of these Ray workloads run as (`default` where unset)."""
    out = []
    for obj in workloads:
        spec = ray.cluster_spec(obj)
        head = spec.get("headGroupSpec") if spec is not None else None
        template = head.get("template") if isinstance(head, Mapping) else None
        pod = template.get("spec") if isinstance(template, Mapping) else None
        account = pod.get("serviceAccountName") if isinstance(pod, Mapping) else None
        out.append(account if isinstance(account, str) and account else DEFAULT_SERVICE_ACCOUNT)
    return sorted(set(out))


def auth_objects(
    tenant: str,
    groups: Sequence[str],
    mode: str,
    workloads: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The RBAC objects of one tenant for `rayAuth: mode`, given its (secured) Ray workloads."""
    if mode == TOKEN:
        secrets = token_secret_names(workloads)
        if not secrets:
            return []
        rule = {"apiGroups": [""], "resources": ["secrets"], "resourceNames": secrets, "verbs": ["get"]}
        return _role_and_binding(TOKEN_READER, tenant, rule, _group_subjects(groups), labels)
    if mode != KUBERNETES:
        return []
    clusters = [w for w in workloads if w.get("kind") == "RayCluster"]
    names = sorted({n for w in clusters if isinstance(n := (w.get("metadata") or {}).get("name"), str)})
    if not names:
        return []
    rule = {
        "apiGroups": [ray.RAY_GROUP],
        "resources": ["rayclusters"],
        "resourceNames": names,
        "verbs": [RAY_WRITE_VERB],
    }
    review = token_review_name(tenant)
    reviewers = [
        {"kind": "ServiceAccount", "name": account, "namespace": tenant}
        for account in head_service_accounts(clusters)
    ]
    return [
        *_role_and_binding(RAY_USER, tenant, rule, _group_subjects(groups), labels),
        _rbac(
            "ClusterRole",
            review,
            labels,
            None,
            rules=[
                {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                {
                    "apiGroups": ["authorization.k8s.io"],
                    "resources": ["subjectaccessreviews"],
                    "verbs": ["create"],
                },
            ],
        ),
        _rbac(
            "ClusterRoleBinding",
            review,
            labels,
            None,
            roleRef={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": review},
            subjects=reviewers,
        ),
    ]
