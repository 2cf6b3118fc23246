"""Manifest files on disk: find them, load them with their origin (file and line)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from krm_fn import items as it
from krm_fn import yamlio
from krm_fn.results import FnError, ResourceRef, Result

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Manifest:
    """One YAML document from a file, with where it came from and its node (for its styles)."""

    data: Any
    file: str
    line: int
    node: yaml.Node | None = None


def find_files(paths: Iterable[str]) -> list[str]:
    """The YAML files named or contained (recursively, hidden folders skipped), in a stable order."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or path.is_file():
            found.append(raw)
        elif path.is_dir():
            found.extend(
                str(p)
                for p in sorted(path.rglob("*"))
                if p.suffix in SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            raise FnError([Result("no such file or folder", file=raw)])
    return list(dict.fromkeys(found))


def read_documents(file: str) -> tuple[list[yamlio.Document], list[Result]]:
    """The YAML documents of one file (`-` is stdin); an unreadable or invalid file is a finding."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        return [], [Result(f"cannot read: {exc.strerror}", file=file)]
    try:
        return yamlio.load_documents(raw, file), []
    except FnError as exc:
        return [], exc.results


def load_files(files: Sequence[str]) -> tuple[list[Manifest], list[Result]]:
    """Load every document of every file; unreadable or invalid files become findings."""
    manifests: list[Manifest] = []
    problems: list[Result] = []
    for file in files:
        docs, bad = read_documents(file)
        problems.extend(bad)
        for doc in docs:
            if doc.data is not None:
                manifests.extend(_objects(doc, file))
    return manifests, problems


def _objects(doc: yamlio.Document, file: str) -> list[Manifest]:
    """The document, or the items of a `v1/List` (as kubectl and kustomize read one), each at its line."""
    data = doc.data
    if not (isinstance(data, dict) and data.get("apiVersion") == "v1" and data.get("kind") == "List"):
        return [Manifest(data, file, doc.line, doc.node)]
    items, node = data.get("items"), yamlio.child_node(doc.node, "items")
    if not isinstance(items, list):
        return [Manifest(data, file, doc.line, doc.node)]
    nodes = list(node.value) if isinstance(node, yaml.SequenceNode) and len(node.value) == len(items) else []
    return [
        Manifest(item, file, nodes[i].start_mark.line + 1, nodes[i])
        if nodes
        else Manifest(item, file, doc.line)
        for i, item in enumerate(items)
    ]


def with_lines(results: Iterable[Result], manifests: Sequence[Manifest]) -> list[Result]:
    """Add the line where each finding's object starts, where its file and object are known."""
    where = {
        (m.file, r.kind, r.name): m.line
        for m in manifests
        if isinstance(m.data, dict)
        for r in [ResourceRef.of(m.data)]
    }
    out = []
    for result in results:
        ref = result.resource
        line = where.get((result.file, ref.kind, ref.name)) if ref and result.line is None else None
        out.append(result if line is None else replace(result, line=line))
    return out


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
        if node is not None and (key := _kind_name(obj)) is not None and it.owner_tenant(obj) is None
    }
    for obj in outputs:
        if id(obj) not in likes and isinstance(obj, dict):
            if it.owner_tenant(obj) and obj.get("kind") == "Kustomization":
                # imported here: only output: overlays generates these, and overlays pulls in jsonpatch
                from krm_fn import overlays

                if overlays.is_kustomization_file(it.path_of(obj)):
                    likes[id(obj)] = overlays.style_like(obj)
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
    kind, name = obj.get("kind"), it.meta(obj).get("name")
    return (kind, name) if isinstance(kind, str) and isinstance(name, str) else None


def dump_stream(outputs: Sequence[Any], manifests: Sequence[Manifest]) -> str:
    """The output objects as a `---`-separated stream, each styled like the manifest it came from."""
    likes = style_sources([m.data for m in manifests], [m.node for m in manifests], outputs)
    # one object's nodes at a time: a list of all of them would double the peak memory
    return yamlio.dump_nodes(yamlio.to_node(obj, likes=likes) for obj in outputs)
