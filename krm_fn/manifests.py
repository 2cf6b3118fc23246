"""Manifest files on disk: find them, load them with their origin (file and line)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from krm_fn import yamlio
from krm_fn.results import FnError, ResourceRef, Result

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Manifest:
    """One YAML document from a file, with where it came from."""

    data: Any
    file: str
    line: int


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
        return [Manifest(data, file, doc.line)]
    items, node = data.get("items"), yamlio.child_node(doc.node, "items")
    if not isinstance(items, list):
        return [Manifest(data, file, doc.line)]
    lines = [n.start_mark.line + 1 for n in node.value] if isinstance(node, yaml.SequenceNode) else []
    return [
        Manifest(item, file, lines[i] if len(lines) == len(items) else doc.line)
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
