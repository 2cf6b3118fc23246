"""Findings of the function: one type shared by every front end (KRM results, stderr lines).

The records here and on the KRM path are plain classes on `Record`, not dataclasses or
NamedTuples: `dataclasses` pulls in `inspect`, defining a dataclass costs ~0.4 ms and a NamedTuple
~0.15 ms, and a one-tenant call defines a dozen of them (see bench/bench.py, the cold start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar

Severity = Literal["error", "warning", "info"]
_R = TypeVar("_R", bound="Record")


class Record:
    """A value: equality, hash and repr by its fields (`_fields`, in order), `_replace` for a copy.

    Immutable by convention. A subclass names its fields once, `_fields = __slots__ = (...)`, and
    takes every field as a keyword of its `__init__`.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Record):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._fields, self._values(), strict=True)
        )
        return f"{type(self).__name__}({fields})"

    def _replace(self: _R, **changes: Any) -> _R:
        """A copy with the given fields changed."""
        return type(self)(**{**dict(zip(self._fields, self._values(), strict=True)), **changes})


class ResourceRef(Record):
    """Identity of the object a finding is about."""

    _fields = __slots__ = ("api_version", "kind", "name", "namespace")

    def __init__(self, api_version: str, kind: str, name: str, namespace: str = "") -> None:
        self.api_version = api_version
        self.kind = kind
        self.name = name
        self.namespace = namespace

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


class Result(Record):
    """A finding: message, severity, and where it is (object, field path, file, line)."""

    _fields = __slots__ = ("message", "severity", "resource", "field", "file", "index", "line")

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

    def replace(self, **changes: Any) -> Result:
        """The same finding with the given attributes changed."""
        return self._replace(**changes)

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
