"""The ambiguous-scalar resolver shared by loading and dumping.

Kubernetes readers disagree about plain scalars: go-yaml v2 (kubectl, the API server), yaml.v3
(kustomize, kpt) and YAML 1.1 readers (pyyaml) each take a different set of words and numbers
for non-strings. The loader and the dumper resolve scalars through the same table, so a string
any of them would misread is quoted on the way out and read as the string on the way in.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_VALUE_TAG = "tag:yaml.org,2002:value"  # YAML 1.1's `=`, which pyyaml cannot even construct
# pyyaml's YAML 1.1 patterns without the sexagesimal (base 60) forms: go-yaml and yaml.v3 read
# `12:30` as a string, and so must we, or it would be written back as 750
_INT_1_1 = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT_1_1 = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_KUBERNETES_READINGS = {"tag:yaml.org,2002:int": _INT_1_1, "tag:yaml.org,2002:float": _FLOAT_1_1}
Resolvers = dict[Any, list[tuple[str, Any]]]


# Plain scalars that some Kubernetes reader takes for something other than a string. go-yaml v2
# (kubectl, the API server) reads these words as booleans, nulls and special floats, and every
# number Go's strconv accepts once underscores are removed (`0o17`, `0X1F`, `1e3`, `08`, `+_1`);
# yaml.v3 (kustomize, kpt) reads a subset of the same; YAML 1.1 readers (pyyaml) add timestamps,
# base-60 numbers and `=`. Strings like these are written quoted, so every reader sees a string.
_GO_YAML_WORDS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "~",
        "null",
        "Null",
        "NULL",
        ".inf",
        ".Inf",
        ".INF",
        "+.inf",
        "+.Inf",
        "+.INF",
        "-.inf",
        "-.Inf",
        "-.INF",
        ".nan",
        ".NaN",
        ".NAN",
        "<<",
    ]
)
_GO_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)\Z"
)
_NUMBER_START = frozenset("+-.0123456789")
_YAML_1_1 = yaml.resolver.Resolver()
NOT_A_STRING = "tag:ray-tenants.dev,2024:not-a-string"


@functools.lru_cache(maxsize=8192)
def reads_as_non_string(text: str) -> bool:
    """True when go-yaml v2, yaml.v3 or a YAML 1.1 reader takes plain `text` for a non-string."""
    if text in _GO_YAML_WORDS:
        return True
    if text[:1] in _NUMBER_START and _GO_NUMBER.match(text.replace("_", "")):
        return True
    return _resolve(_YAML_1_1, text) != STR_TAG


def _resolve(resolver: yaml.resolver.BaseResolver, text: str) -> str:
    """The tag `resolver` reads from `text` written plain."""
    tag: str = resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


class _NotAString:
    """reads_as_non_string in the shape of a resolver's pattern (pyyaml calls `.match(value)`)."""

    @staticmethod
    def match(text: str) -> bool:
        return reads_as_non_string(text)


def _kubernetes_resolvers() -> Resolvers:
    """pyyaml's implicit resolvers as Kubernetes readers see plain scalars.

    No timestamps, no base-60 numbers and no `=`: kubectl and the API server (go-yaml v2),
    kustomize and kpt (yaml.v3) read them as strings (a date would also fail schema checks). Then
    NOT_A_STRING for the other strings some reader takes for a non-string: the loader constructs
    them as strings, and the dumper quotes strings that resolve to it.
    """
    table = {
        first: [
            (tag, _KUBERNETES_READINGS.get(tag, regexp))
            for tag, regexp in resolvers
            if tag not in (_TIMESTAMP_TAG, _VALUE_TAG)
        ]
        # the C and the Python safe loaders share this table (pyyaml's Resolver's)
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }
    starts = {
        *_NUMBER_START,
        *(w[0] for w in _GO_YAML_WORDS),
        *(k for k in _YAML_1_1.yaml_implicit_resolvers if k),
    }
    for first in starts:
        table.setdefault(first, []).append((NOT_A_STRING, _NotAString()))
    return table


RESOLVERS = _kubernetes_resolvers()


class _Resolver(yaml.resolver.BaseResolver):
    yaml_implicit_resolvers = RESOLVERS


_RESOLVER = _Resolver()


@functools.lru_cache(maxsize=65536)
def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    """_RESOLVER's tag for a scalar; cached, as manifests repeat their values for every tenant."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, implicit)  # type: ignore[no-untyped-call]
    return tag


class CachedResolve:
    """Scalar resolution through _scalar_tag: the loader and serializer ask once or twice a scalar."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            return _scalar_tag(value, implicit)
        return super().resolve(kind, value, implicit)  # type: ignore[misc]
