"""Findings of the function: one type shared by every front end (KRM results, stderr lines)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class ResourceRef:
    """Identity of the object a finding is about."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceRef:
        """Reference an object by its apiVersion, kind, name and namespace (missing parts empty)."""
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        return cls(
            api_version=_text(obj.get("apiVersion")),
            kind=_text(obj.get("kind")),
            name=_text(meta.get("name")),
            namespace=_text(meta.get("namespace")),
        )

    def label(self) -> str:
        """`Kind/name` or `Kind/namespace/name`, as used in one-line diagnostics."""
        kind = self.kind or "<no kind>"
        name = self.name or "<no name>"
        return f"{kind}/{self.namespace}/{name}" if self.namespace else f"{kind}/{name}"

    def to_krm(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out


@dataclass(frozen=True)
class Result:
    """A finding: message, severity, and where it is (object, field path, file, line)."""

    message: str
    severity: Severity = "error"
    resource: ResourceRef | None = None
    field: str = ""
    file: str = ""
    index: int | None = None
    line: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def at(self, resource: ResourceRef | None = None, file: str = "", index: int | None = None) -> Result:
        """The same finding, located on a resource and file where it had none."""
        return replace(
            self,
            resource=self.resource or resource,
            file=self.file or file,
            index=self.index if self.index is not None else index,
        )

    def to_krm(self) -> dict[str, Any]:
        """The result as the KRM functions spec writes it in `ResourceList.results`."""
        out: dict[str, Any] = {"message": self.message, "severity": self.severity}
        if self.resource is not None:
            out["resourceRef"] = self.resource.to_krm()
            if self.field:
                out["field"] = {"path": self.field}
        elif self.field:
            out["tags"] = {"field": self.field}
        if self.file:
            out["file"] = {"path": self.file, **({"index": self.index} if self.index else {})}
        return out

    def one_line(self) -> str:
        """`path:line: Kind/ns/name field: message`, parts omitted where unknown."""
        parts = []
        where = self.file + (f":{self.line}" if self.file and self.line else "")
        if where:
            parts.append(where + ":")
        if self.resource is not None:
            parts.append(self.resource.label())
        if self.field:
            parts.append(self.field + ":")
        elif self.resource is not None:
            parts[-1] += ":"
        prefix = " ".join(parts)
        sev = "" if self.is_error else f"{self.severity}: "
        return f"{prefix} {sev}{self.message}" if prefix else f"{sev}{self.message}"


class FnError(Exception):
    """Expected failures (user mistakes) carrying the findings that explain them."""

    def __init__(self, results: Iterable[Result]) -> None:
        self.results = list(results)
        super().__init__("; ".join(r.message for r in self.results))


def describe(value: object) -> str:
    """What a YAML value is, for messages: 'a mapping', 'a list', 'nothing', ..."""
    if value is None:
        return "nothing"
    names: dict[type, str] = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
    }
    return names.get(type(value), type(value).__name__)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
