"""Findings of the function: one type shared by every front end (KRM results, stderr lines).

The records here and on the KRM path are NamedTuples or plain classes with `__slots__`, not
dataclasses: `dataclasses` pulls in `inspect`, and building each class costs more than the rest of
a one-tenant call's own work (see bench/bench.py, the cold start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, NamedTuple

Severity = Literal["error", "warning", "info"]


class ResourceRef(NamedTuple):
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


class Result:
    """A finding: message, severity, and where it is (object, field path, file, line).

    Immutable by convention: `replace` gives a changed copy. (A NamedTuple cannot have the
    field `index`: tuple.index is a method.)
    """

    __slots__ = ("field", "file", "index", "line", "message", "resource", "severity")
    # the constructor's order
    FIELDS: ClassVar[tuple[str, ...]] = ("message", "severity", "resource", "field", "file", "index", "line")

    def __init__(
        self,
        message: str,
        severity: Severity = "error",
        resource: ResourceRef | None = None,
        field: str = "",
        file: str = "",
        index: int | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.severity: Severity = severity
        self.resource = resource
        self.field = field
        self.file = file
        self.index = index
        self.line = line

    def _key(self) -> tuple[Any, ...]:
        return (self.message, self.severity, self.resource, self.field, self.file, self.index, self.line)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, Result) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self.FIELDS, self._key(), strict=True))
        return f"Result({fields})"

    def replace(self, **changes: Any) -> Result:
        """The same finding with the given attributes changed."""
        return Result(**{**dict(zip(self.FIELDS, self._key(), strict=True)), **changes})

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def at(self, resource: ResourceRef | None = None, file: str = "", index: int | None = None) -> Result:
        """The same finding, located on a resource and file where it had none."""
        return Result(
            self.message,
            self.severity,
            resource=self.resource or resource,
            field=self.field,
            file=self.file or file,
            index=self.index if self.index is not None else index,
            line=self.line,
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
