"""Output YAML that reads like the input: each object takes the styles of the manifest it came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from krm_fn import yamlio
from krm_fn.inputs.objects import Manifest
from krm_fn.items import meta, owner_tenant, path_of
from krm_fn.overlays import is_kustomization_file


def style_sources(
    inputs: Sequence[Any], nodes: Sequence[yaml.Node | None], outputs: Sequence[Any]
) -> dict[int, yaml.Node]:
    """Which input node each output item takes its YAML styles from.

    An item passed through keeps its own; a tenant's copy takes its base's (same kind and name),
    so the generated files read like the base the user wrote; a generated kustomization writes
    its patches as block text.
    """
    likes = {id(obj): node for obj, node in zip(inputs, nodes, strict=True) if node is not None}
    by_name = {
        key: node
        for obj, node in zip(inputs, nodes, strict=True)
        if node is not None and (key := _kind_name(obj)) is not None and owner_tenant(obj) is None
    }
    for obj in outputs:
        if id(obj) not in likes and isinstance(obj, dict):
            if owner_tenant(obj) and obj.get("kind") == "Kustomization":
                # only output: overlays generates these, and the patch builder pulls in jsonpatch
                from krm_fn.overlays import patches

                if is_kustomization_file(path_of(obj)):
                    likes[id(obj)] = patches.style_like(obj)
                    continue
            key = _kind_name(obj)
            node = by_name.get(key) if key is not None else None
            if node is not None:
                likes[id(obj)] = node
    return likes


def _kind_name(obj: Any) -> tuple[str, str] | None:
    """Kind and name of an object, None where either is not a string (`kind: []` is input too)."""
    if not isinstance(obj, dict):
        return None
    kind, name = obj.get("kind"), meta(obj).get("name")
    return (kind, name) if isinstance(kind, str) and isinstance(name, str) else None


def dump_stream(outputs: Sequence[Any], manifests: Sequence[Manifest]) -> str:
    """The output objects as a `---`-separated stream, each styled like the manifest it came from."""
    likes = style_sources([m.data for m in manifests], [m.node for m in manifests], outputs)
    # one object's nodes at a time: a list of all of them would double the peak memory
    return yamlio.dump_nodes(yamlio.to_node(obj, likes=likes) for obj in outputs)
