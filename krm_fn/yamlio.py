"""YAML in and out: libyaml where present, duplicate keys refused, alias bombs refused early."""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from krm_fn.results import FnError, Result

try:  # the C loader and dumper are 5-10x faster; fall back where libyaml is missing
    from yaml import CSafeDumper as BaseDumper
    from yaml import CSafeLoader as BaseLoader
except ImportError:  # pragma: no cover - depends on how pyyaml was built
    from yaml import SafeDumper as BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as BaseLoader  # type: ignore[assignment]

__all__ = [
    "NOT_A_STRING",
    "BaseDumper",
    "BaseLoader",
    "Document",
    "Dumper",
    "Loader",
    "child_node",
    "dump",
    "dump_all",
    "dump_node",
    "dump_nodes",
    "holds",
    "load",
    "load_documents",
    "reads_as_non_string",
    "to_node",
]

# Aliases may add at most as many nodes (mappings, lists and scalars) as the document spells out
# itself, and this many to any document however small. Anchors in real manifests repeat a block a few
# times; a billion-laughs document multiplies itself thousands of times, and the expansion would
# then copy that again for every tenant.
ALIAS_ALLOWANCE = 10_000
# Real manifests nest a few dozen levels (CRD schemas the most). Deeper documents are refused: every
# later step (copy, patch, write) recurses once or twice per level, within Python's limit of 1,000.
MAX_DEPTH = 200
# libyaml's composer recurses on the C stack and crashes the process somewhere past 20,000 levels
# (pyyaml's pure-Python scanner is quadratic there instead). Text that might nest deeper than this is
# refused before parsing; only thousands of unclosed brackets inside strings could make that wrong.
C_LOADER_MAX_DEPTH = 5_000
_BRACKETS = re.compile(r"[][{}]")
_LEADING = re.compile(r"^[ \t?-]+", re.MULTILINE)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_DEEP_INDENT = re.compile(rf"^[ \t?-]{{{C_LOADER_MAX_DEPTH // 2},}}", re.MULTILINE)


def _construct_mapping(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode) -> None:
    """Refuse duplicate mapping keys (the last one would silently win)."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # SafeConstructor reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line


_STR_TAG = "tag:yaml.org,2002:str"
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
    return _resolve(_YAML_1_1, text) != _STR_TAG


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
        for first, resolvers in BaseLoader.yaml_implicit_resolvers.items()
    }
    starts = {
        *_NUMBER_START,
        *(w[0] for w in _GO_YAML_WORDS),
        *(k for k in _YAML_1_1.yaml_implicit_resolvers if k),
    }
    for first in starts:
        table.setdefault(first, []).append((NOT_A_STRING, _NotAString()))
    return table


_RESOLVERS = _kubernetes_resolvers()


class _Resolver(yaml.resolver.BaseResolver):
    yaml_implicit_resolvers = _RESOLVERS


_RESOLVER = _Resolver()


@functools.lru_cache(maxsize=65536)
def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    """_RESOLVER's tag for a scalar; cached, as manifests repeat their values for every tenant."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, implicit)  # type: ignore[no-untyped-call]
    return tag


class _CachedResolve:
    """Scalar resolution through _scalar_tag: the loader and serializer ask once or twice a scalar."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            return _scalar_tag(value, implicit)
        return super().resolve(kind, value, implicit)  # type: ignore[misc]


class _Loader(_CachedResolve, BaseLoader):
    """Safe loader that refuses duplicate mapping keys and reads no timestamps or base-60 numbers.

    Where Kubernetes readers disagree among themselves (`y`, `0o17`, `1e3` are strings here, as
    in yaml.v3), the scalar is tagged NOT_A_STRING, and the output keeps its original text: see
    to_node.
    """

    yaml_implicit_resolvers = _RESOLVERS

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if any(key.tag == _MERGE_TAG for key, _ in node.value):
            _construct_mapping(self, node)  # explicit keys may override merged ones: look closely
            return super().construct_mapping(node, deep=deep)
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):  # fewer entries than keys written: one came twice
            _construct_mapping(self, node)
        return mapping


def _plain_and_shallow(text: str) -> bool:
    """True when no document of `text` can share a container or nest past MAX_DEPTH.

    Aliases need anchors, and an anchor is written with `&`; a level of block nesting takes at
    least half a character of indentation and a level of flow nesting a bracket. Such text needs
    no walk after loading, which is most of the cost of guarding a large, ordinary stream.
    """
    if "&" in text:
        return False
    indent = max((len(m) for m in _LEADING.findall(text)), default=0)
    budget = MAX_DEPTH - 2 * indent
    return budget > 0 and not _brackets_deeper(text, budget)


def _brackets_deeper(text: str, depth: int) -> bool:
    if text.count("[") + text.count("{") <= depth:
        return False
    level = 0
    for match in _BRACKETS.finditer(text):
        level += 1 if match.group() in "[{" else -1
        if level > depth:
            return True
    return False


def _may_nest_deeper(text: str, depth: int) -> bool:
    """Cheap upper bound on the nesting of `text`: open brackets, and indentation for blocks.

    Brackets inside strings and comments count too, so it can only overestimate.
    """
    return _brackets_deeper(text, depth) or _DEEP_INDENT.search(text) is not None


class _Dumper(_CachedResolve, BaseDumper):
    """Quotes every string a Kubernetes reader would take for another type; writes no anchors.

    The serializer writes a scalar plain only where the dumper's resolvers read its text back
    as its tag: with NOT_A_STRING among them, such strings get quotes, in the C dumper too.
    A shared object in the output is written out in full each time.
    """

    yaml_implicit_resolvers = _RESOLVERS

    def ignore_aliases(self, data: Any) -> bool:
        return True


Dumper = _Dumper
Loader = _Loader


def _construct_not_a_string(loader: _Loader, node: yaml.Node) -> str:
    """A plain scalar some Kubernetes reader takes for a non-string is, in our data, the string."""
    assert isinstance(node, yaml.ScalarNode)
    return str(node.value)


# Python refuses to read integers of more than 4,300 digits (a guard against slow conversion);
# no Kubernetes field holds more than 64 bits, so such a number is a mistake to point at
_MAX_INT_TEXT = 1_000


def _construct_int(loader: _Loader, node: yaml.Node) -> int:
    """An integer, unless its text is too long for any Kubernetes field: then an error at its line."""
    assert isinstance(node, yaml.ScalarNode)
    if len(node.value) > _MAX_INT_TEXT:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"an integer of {len(node.value):,} characters; Kubernetes reads at most 64-bit integers "
            "(quote it if it is text)",
            node.start_mark,
        )
    return int(loader.construct_yaml_int(node))


_Loader.add_constructor(NOT_A_STRING, _construct_not_a_string)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
# `<<` is a merge only as a key (handled before construction); as a value it is text
_Loader.add_constructor(_MERGE_TAG, _construct_not_a_string)


@dataclass(frozen=True)
class Document:
    """One YAML document, the line (1-based) it starts on, and its node (for its styles)."""

    data: Any
    line: int
    node: yaml.Node | None = None


def load_documents(text: str | bytes, source: str = "<stdin>") -> list[Document]:
    """Parse a multi-document YAML stream; raise FnError naming the source and line on bad YAML."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FnError(
                [Result(f"not UTF-8: byte {exc.start} cannot be decoded ({exc.reason})", file=source)]
            ) from None
    if _may_nest_deeper(text, C_LOADER_MAX_DEPTH // 2):
        raise FnError([Result(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", file=source)])
    guard = not _plain_and_shallow(text)
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            line = node.start_mark.line + 1
            docs.append(Document(_unshare(data, source, line) if guard else data, line, node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise FnError([Result(f"invalid YAML: {problem}", file=source, line=line)]) from None
    except yaml.YAMLError as exc:
        raise FnError([Result(f"invalid YAML: {exc}", file=source)]) from None
    except RecursionError:
        raise FnError(
            [Result(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", file=source)]
        ) from None
    finally:
        loader.dispose()
    return docs


def load(text: str | bytes, source: str = "<stdin>") -> Any:
    """Parse a single-document YAML text (None when empty)."""
    docs = load_documents(text, source)
    if len(docs) > 1:
        raise FnError([Result(f"expected one YAML document, found {len(docs)}", file=source)])
    return docs[0].data if docs else None


def dump(data: Any) -> str:
    """Serialise one document: block style, keys in their given order, unicode kept."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )


def dump_all(docs: Iterable[Any]) -> str:
    """Serialise a `---`-separated stream."""
    return yaml.dump_all(
        docs,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
        explicit_start=False,
    )


class _Representer(yaml.representer.SafeRepresenter):
    def ignore_aliases(self, data: Any) -> bool:
        return True


_SCALARS = _Representer(default_flow_style=False, sort_keys=False)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_NULL_TAG = "tag:yaml.org,2002:null"


def to_node(
    data: Any, like: yaml.Node | None = None, likes: Mapping[int, yaml.Node] | None = None
) -> yaml.Node:
    """Represent `data` as a node, keeping the text and style `like` had where the value is unchanged.

    kpt writes items back to the user's files from our output: without this, every quoted
    scalar and flow mapping of a file the function merely passed through would be rewritten, and
    `0777`, `on` or `.5` would come back as pyyaml spells the value (`511`, `true`, `0.5`).
    `likes` gives the style source of nested objects by identity.
    """
    if likes and id(data) in likes:
        like = likes[id(data)]
    if isinstance(data, dict):
        old: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
        if isinstance(like, yaml.MappingNode):
            old = {k.value: (k, v) for k, v in like.value if isinstance(k, yaml.ScalarNode)}
        pairs = []
        for key, value in data.items():
            if type(key) is str:
                key_like, value_like = old.get(key, (None, None))
            else:
                key_like, value_like = _pair_like(like, key)
            pairs.append((to_node(key, key_like), to_node(value, value_like, likes)))
        flow = like.flow_style if isinstance(like, yaml.MappingNode) else False
        if flow:
            pairs = [(_flow_safe(k), _flow_safe(v)) for k, v in pairs]
        return yaml.MappingNode(_MAP_TAG, pairs, flow_style=flow and bool(pairs))
    if isinstance(data, list):
        olds = like.value if isinstance(like, yaml.SequenceNode) else []
        values = [to_node(v, olds[i] if i < len(olds) else None, likes) for i, v in enumerate(data)]
        flow = like.flow_style if isinstance(like, yaml.SequenceNode) else False
        if flow:
            values = [_flow_safe(v) for v in values]
        return yaml.SequenceNode(_SEQ_TAG, values, flow_style=flow and bool(values))
    if isinstance(like, yaml.ScalarNode) and holds(like, data):
        return _verbatim(like)
    return _scalar_node(data)


def holds(node: yaml.ScalarNode, data: Any) -> bool:
    """True when the scalar `node`, as the loader constructs it, is `data` (same type, NaN too)."""
    if node.tag == _STR_TAG or node.tag == NOT_A_STRING:
        return type(data) is str and data == node.value
    value = _constructed(node.tag, node.value)
    if type(value) is not type(data):
        return False
    return bool(value == data) or (type(data) is float and math.isnan(data) and math.isnan(value))


_UNCONSTRUCTIBLE = object()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@functools.lru_cache(maxsize=65536)
def _constructed(tag: str, text: str) -> Any:
    """What the loader makes of a scalar with this tag and text (values are immutable: cached)."""
    construct = _Loader.yaml_constructors.get(tag)
    if construct is None:
        return _UNCONSTRUCTIBLE
    try:
        return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, text))
    except (yaml.YAMLError, ValueError, TypeError, AttributeError):
        return _UNCONSTRUCTIBLE


def _verbatim(like: yaml.ScalarNode) -> yaml.ScalarNode:
    """A copy of `like` that the dumper writes with the same text, and the same quotes or tag.

    The loader and the dumper share their resolvers, so a plain scalar whose tag its text
    implied is written plain again, and one with an explicit tag gets the tag. libyaml cannot
    write a quoted scalar with an explicit tag whose text implies it (`!!int "3"` becomes `! "3"`):
    such a scalar is written plain, which reads the same.
    """
    if like.style and like.tag == _STR_TAG:
        return yaml.ScalarNode(_STR_TAG, like.value, style=like.style)
    return yaml.ScalarNode(like.tag, like.value)


def _flow_safe(node: yaml.Node) -> yaml.Node:
    """`node` as a flow collection can hold it.

    The emitter writes no plain scalar with `:` or a flow indicator inside brackets, where the
    parser read one (`{value: 12:30}`): such text is quoted, which every reader takes for the
    same string, rather than tagged. A null spelled as nothing (`{a: }`) becomes `null`.
    """
    if isinstance(node, yaml.ScalarNode) and not node.style:
        if node.tag == NOT_A_STRING and _FLOW_INDICATORS.search(node.value):
            return yaml.ScalarNode(_STR_TAG, node.value)
        if node.tag == _NULL_TAG and not node.value:
            return yaml.ScalarNode(_NULL_TAG, "null")
    return node


_FLOW_INDICATORS = re.compile(r"[:,\[\]{}#]")


def _pair_like(like: yaml.Node | None, key: Any) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The key and value nodes of `like` whose key, constructed, is the non-string `key`."""
    if isinstance(like, yaml.MappingNode):
        for key_node, value_node in like.value:
            if isinstance(key_node, yaml.ScalarNode) and holds(key_node, key):
                return key_node, value_node
    return None, None


def _scalar_node(data: Any) -> yaml.Node:
    """What SafeRepresenter makes of a scalar; the common types directly, as it is the hot path."""
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_STR_TAG, data)
    if kind is bool:
        return yaml.ScalarNode(_BOOL_TAG, "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_INT_TAG, str(data))
    if data is None:
        return yaml.ScalarNode(_NULL_TAG, "null")
    return _SCALARS.represent_data(data)


def child_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node under `key` of a mapping node (None where there is none)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.value == key
                and isinstance(value, yaml.Node)
            ):
                return value
    return None


def dump_node(node: yaml.Node) -> str:
    """Serialise a node built by to_node."""
    return yaml.serialize(node, Dumper=_Dumper, allow_unicode=True, width=4096)


def dump_nodes(nodes: Iterable[yaml.Node]) -> str:
    """Serialise nodes built by to_node as a `---`-separated stream."""
    return yaml.serialize_all(nodes, Dumper=_Dumper, allow_unicode=True, width=4096)


def _unshare(data: Any, source: str, line: int) -> Any:
    """Refuse alias bombs, recursive aliases and deep nesting; give each alias its own copy."""
    # per distinct container: (expanded size, expanded height); None while it is being measured
    seen: dict[int, tuple[int, int] | None] = {}
    own = 0  # nodes the document spells out: each distinct container and its scalar children once

    def measure(value: Any) -> tuple[int, int]:
        nonlocal own
        children: Iterable[Any]
        if isinstance(value, dict):
            children = [x for pair in value.items() for x in pair]
        elif isinstance(value, list):
            children = value
        else:
            return 1, 0
        key = id(value)
        if key in seen:
            known = seen[key]
            if known is None:
                raise _Recursive
            return known
        seen[key] = None
        total, height = 1, 1
        for child in children:
            size, below = measure(child)
            total += size
            height = max(height, below + 1)
            if height > MAX_DEPTH:
                raise _TooDeep
            if not isinstance(child, (dict, list)):
                own += 1
        own += 1
        seen[key] = (total, height)
        return total, height

    try:
        size, _ = measure(data)
    except _TooDeep:
        raise FnError(
            [Result(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", file=source, line=line)]
        ) from None
    except _Recursive:
        raise FnError(
            [Result("invalid YAML: a recursive alias (an anchor used inside itself)", file=source, line=line)]
        ) from None
    if size - own > max(ALIAS_ALLOWANCE, own):
        raise FnError(
            [
                Result(
                    f"YAML aliases expand this document to {size:,} nodes from {own:,}; "
                    "refusing (an alias bomb?); write the repeated parts out",
                    file=source,
                    line=line,
                )
            ]
        )
    # more nodes reached than written: some containers are shared through aliases
    return copy.deepcopy(data, memo={}) if size > own else data


class _Recursive(Exception):
    """An alias refers to a container that encloses it."""


class _TooDeep(Exception):
    """The document nests deeper than MAX_DEPTH."""
