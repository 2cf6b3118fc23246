"""A manifest: one object as it was read, with where it came from (file, line, index, node)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from krm_fn.ray import dotted
from krm_fn.results import ResourceRef, Result

_FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Manifest:
    """One object (or YAML document) with its origin: file, first line, index, and node.

    The line is None for KRM items (kpt gives a path and index, no lines); the node keeps the
    YAML styles the output copies, and locates a field's own line. A plain class, as Result.
    """

    __slots__ = ("data", "file", "index", "line", "node")

    def __init__(
        self,
        data: Any,
        file: str = "",
        line: int | None = None,
        index: int | None = None,
        node: yaml.Node | None = None,
    ) -> None:
        self.data = data
        self.file = file
        self.line = line
        self.index = index
        self.node = node

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return (self.data, self.file, self.line, self.index, self.node) == (
            other.data,
            other.file,
            other.line,
            other.index,
            other.node,
        )

    def __repr__(self) -> str:
        return f"Manifest(data={self.data!r}, file={self.file!r}, line={self.line!r}, index={self.index!r})"

    @property
    def is_object(self) -> bool:
        """A Kubernetes object: a mapping with a string apiVersion and kind."""
        return (
            isinstance(self.data, dict)
            and isinstance(self.data.get("apiVersion"), str)
            and isinstance(self.data.get("kind"), str)
        )

    @property
    def is_foreign(self) -> bool:
        """YAML that is no Kubernetes object at all (Helm values, a tool's configuration): no mapping,
        or one with neither apiVersion nor kind."""
        return not isinstance(self.data, Mapping) or (
            "apiVersion" not in self.data and "kind" not in self.data
        )

    def skipped(self) -> Result:
        """The info finding that says this document, being foreign, was skipped."""
        return self.result("not a Kubernetes object (no apiVersion and kind): skipped", severity="info")

    @property
    def ref(self) -> ResourceRef:
        """The object's identity (empty for a document that is no mapping)."""
        return ResourceRef.of(self.data) if isinstance(self.data, Mapping) else ResourceRef("", "", "")

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the deepest node on `path` that the YAML holds (the document's line otherwise)."""
        node, line = self.node, self.line
        for part in path:
            # a field's line is its key's: a nested mapping's value starts on the line below
            found: tuple[yaml.Node, yaml.Node] | None = None
            if isinstance(node, yaml.MappingNode):
                found = next(
                    ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                    None,
                )
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                found = (node.value[part], node.value[part])
            if found is None:
                break
            node, line = found[1], found[0].start_mark.line + 1
        return line

    def result(
        self,
        message: str,
        path: Sequence[str | int] = (),
        severity: str = "error",
        ref: ResourceRef | None = None,
    ) -> Result:
        """A finding about this manifest (or `ref`, an object made from it) at `path`."""
        return Result(
            message,
            severity,  # type: ignore[arg-type]
            resource=ref or (self.ref if self.is_object else None),
            field=dotted(tuple(path)),
            file=self.file,
            index=self.index,
            line=self.line_of(path) if path else self.line,
        )


def locate(results: Iterable[Result], manifests: Sequence[Manifest]) -> list[Result]:
    """Give each finding the line of its own field, where its file and object are among `manifests`.

    The one locator of every front end that reads files: a finding names its file, object and
    field path (`spec.tenants[1].pathPrefix`); the YAML node of that object gives the line. A
    finding that already has a line keeps it.
    """
    by_file: dict[str, list[Manifest]] = {}
    for manifest in manifests:
        by_file.setdefault(manifest.file, []).append(manifest)
    out = []
    for result in results:
        doc = _document_of(result, by_file.get(result.file, [])) if result.line is None else None
        out.append(result if doc is None else result.replace(line=doc.line_of(parse_field(result.field))))
    return out


def _document_of(result: Result, docs: Sequence[Manifest]) -> Manifest | None:
    """The document a finding is about: its object by kind and name (a tenant copy names its base)."""
    ref = result.resource
    if ref is None:
        return docs[0] if docs else None
    return next((d for d in docs if (d.ref.kind, d.ref.name) == (ref.kind, ref.name)), None)


def parse_field(text: str) -> tuple[str | int, ...]:
    """`spec.tenants[0].name` as a path."""
    return tuple(int(i) if i else k for k, i in _FIELD_PART.findall(text))
