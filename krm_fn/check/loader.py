"""Documents to check, with where they came from: files (with line numbers) or KRM items."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from krm_fn import items as it
from krm_fn import yamlio
from krm_fn.manifests import find_files
from krm_fn.results import FnError, ResourceRef, Result

# kinds whose items are objects of their own (`kubectl get -o yaml` writes a v1 List)
LIST_KINDS = ("List",)


@dataclass(frozen=True)
class Doc:
    """One YAML document: its data, file, first line, and node (for the line of a field)."""

    data: Any
    file: str = ""
    line: int | None = None
    index: int | None = None
    node: yaml.Node | None = None

    @property
    def is_object(self) -> bool:
        """A Kubernetes object: a mapping with a string apiVersion and kind."""
        return (
            isinstance(self.data, dict)
            and isinstance(self.data.get("apiVersion"), str)
            and isinstance(self.data.get("kind"), str)
        )

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef.of(self.data) if isinstance(self.data, Mapping) else ResourceRef("", "", "")

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the deepest node on `path` that the YAML holds (the document's line otherwise)."""
        node, line = self.node, self.line
        for part in path:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                child = next(
                    (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                    None,
                )
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line

    def result(
        self,
        message: str,
        path: Sequence[str | int] = (),
        severity: str = "error",
        ref: ResourceRef | None = None,
    ) -> Result:
        """A finding about this document (or `ref`, an object made from it) at `path`."""
        from krm_fn.ray import dotted

        return Result(
            message,
            severity,  # type: ignore[arg-type]
            resource=ref or (self.ref if self.is_object else None),
            field=dotted(tuple(path)),
            file=self.file,
            index=self.index,
            line=self.line_of(path) if path else self.line,
        )


def load_paths(paths: Iterable[str]) -> tuple[list[Doc], list[Result]]:
    """Every document of every YAML file named or found in folders; problems as findings."""
    problems: list[Result] = []
    files: list[str] = []
    for path in paths:
        try:
            files.extend(find_files([path]))
        except FnError as exc:
            problems.extend(exc.results)
    docs: list[Doc] = []
    for file in dict.fromkeys(files):
        found, bad = load_file(file)
        docs.extend(found)
        problems.extend(bad)
    return docs, problems


def load_file(file: str) -> tuple[list[Doc], list[Result]]:
    """The documents of one file (`-` is stdin); a file that is not YAML is a finding, not a crash."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        return [], [Result(f"cannot read: {exc.strerror}", file=file)]
    try:
        documents = yamlio.load_documents(raw, file)
    except FnError as exc:
        return [], exc.results
    docs: list[Doc] = []
    for i, d in enumerate(documents):
        if d.data is not None:
            docs.extend(_flatten(Doc(d.data, file, d.line, i, d.node)))
    return docs, []


def from_items(items: Sequence[Any]) -> list[Doc]:
    """KRM items as documents: the file is kpt's path annotation; no line numbers."""
    docs: list[Doc] = []
    for obj in items:
        file = it.path_of(obj) if isinstance(obj, Mapping) else ""
        index = it.index_of(obj) if isinstance(obj, Mapping) else None
        docs.extend(_flatten(Doc(obj, file, None, index)))
    return docs


def _flatten(doc: Doc) -> list[Doc]:
    data = doc.data
    if not (doc.is_object and data.get("kind") in LIST_KINDS and isinstance(data.get("items"), list)):
        return [doc]
    nodes: list[yaml.Node | None] = [None] * len(data["items"])
    if isinstance(doc.node, yaml.MappingNode):
        for key, value in doc.node.value:
            if key.value == "items" and isinstance(value, yaml.SequenceNode):
                nodes = [*value.value, *nodes][: len(data["items"])]
    return [
        Doc(item, doc.file, n.start_mark.line + 1 if n is not None else doc.line, doc.index, n)
        for item, n in zip(data["items"], nodes, strict=True)
    ]
