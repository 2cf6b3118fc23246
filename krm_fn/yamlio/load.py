"""Guarded YAML loading: libyaml where present, duplicate keys refused, alias bombs refused early."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from krm_fn.results import FnError, Result
from krm_fn.yamlio.scalars import NOT_A_STRING, RESOLVERS, CachedResolve

try:  # the C loader is 5-10x faster; fall back where libyaml is missing
    from yaml import CSafeLoader as BaseLoader
except ImportError:  # pragma: no cover - depends on how pyyaml was built
    from yaml import SafeLoader as BaseLoader  # type: ignore[assignment]

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


class _Loader(CachedResolve, BaseLoader):
    """Safe loader that refuses duplicate mapping keys and reads no timestamps or base-60 numbers.

    Where Kubernetes readers disagree among themselves (`y`, `0o17`, `1e3` are strings here, as
    in yaml.v3), the scalar is tagged NOT_A_STRING, and the output keeps its original text: see
    to_node.
    """

    yaml_implicit_resolvers = RESOLVERS

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
