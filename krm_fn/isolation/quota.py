"""The tenant's ResourceQuota: `spec.quota` with the tenant's own `quota` merged over it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUOTA_NAME = "ray-tenant"


def resource_quota(namespace: str, hard: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, Any]:
    """The ResourceQuota `ray-tenant` of a tenant namespace with the limits `hard`."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME, "namespace": namespace, "labels": dict(labels)},
        "spec": {"hard": dict(hard)},
    }
