"""YAML in and out: libyaml where present, duplicate keys refused, alias bombs refused early."""

from __future__ import annotations

import copy
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
    "BaseDumper",
    "BaseLoader",
    "Document",
    "child_node",
    "dump",
    "dump_all",
    "dump_node",
    "load",
    "load_documents",
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


class _Loader(BaseLoader):
    """Safe loader that refuses duplicate mapping keys."""

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


class _Dumper(BaseDumper):
    """Never writes anchors: a shared object in the output is written out in full each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


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
_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_NULL_TAG = "tag:yaml.org,2002:null"


def to_node(
    data: Any, like: yaml.Node | None = None, likes: Mapping[int, yaml.Node] | None = None
) -> yaml.Node:
    """Represent `data` as a node, keeping the quoting and flow style `like` had where unchanged.

    kpt writes items back to the user's files from our output: without this, every quoted
    scalar and flow mapping of a file the function merely passed through would be rewritten.
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
            key_like, value_like = old.get(key if isinstance(key, str) else None, (None, None))
            pairs.append((to_node(key, key_like), to_node(value, value_like, likes)))
        flow = like.flow_style if isinstance(like, yaml.MappingNode) else False
        return yaml.MappingNode(_MAP_TAG, pairs, flow_style=flow and bool(pairs))
    if isinstance(data, list):
        olds = like.value if isinstance(like, yaml.SequenceNode) else []
        values = [to_node(v, olds[i] if i < len(olds) else None, likes) for i, v in enumerate(data)]
        flow = like.flow_style if isinstance(like, yaml.SequenceNode) else False
        return yaml.SequenceNode(_SEQ_TAG, values, flow_style=flow and bool(values))
    node = _scalar_node(data)
    if (
        isinstance(like, yaml.ScalarNode)
        and isinstance(node, yaml.ScalarNode)
        and like.tag == node.tag
        and like.value == node.value
    ):
        node.style = like.style
    return node


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
