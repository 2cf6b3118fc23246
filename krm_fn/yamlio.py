"""YAML in and out: libyaml where present, duplicate keys refused, alias bombs refused early."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from krm_fn.results import FnError, Result

try:  # the C loader and dumper are 5-10x faster; fall back where libyaml is missing
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how pyyaml was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

# Aliases may add at most this many mappings and lists over the document's own: enough for any real manifest
# that uses anchors, far below what a billion-laughs document expands to.
MAX_ALIAS_EXPANSION = 1_000_000


class _Loader(_BaseLoader):
    """Safe loader that refuses duplicate mapping keys (the last one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
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
        return super().construct_mapping(node, deep=deep)


class _Dumper(_BaseDumper):
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
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            line = node.start_mark.line + 1
            docs.append(Document(_unshare(data, source, line), line, node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise FnError([Result(f"invalid YAML: {problem}", file=source, line=line)]) from None
    except yaml.YAMLError as exc:
        raise FnError([Result(f"invalid YAML: {exc}", file=source)]) from None
    except RecursionError:
        raise FnError([Result("invalid YAML: nested too deeply", file=source)]) from None
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
    node = _SCALARS.represent_data(data)
    if (
        isinstance(like, yaml.ScalarNode)
        and isinstance(node, yaml.ScalarNode)
        and like.tag == node.tag
        and like.value == node.value
    ):
        node.style = like.style
    return node


def dump_node(node: yaml.Node) -> str:
    """Serialise a node built by to_node."""
    return yaml.serialize(node, Dumper=_Dumper, allow_unicode=True, width=4096)


def _unshare(data: Any, source: str, line: int) -> Any:
    """Refuse alias bombs; give each alias its own copy so later edits never leak across."""
    unique: dict[int, int] = {}

    def expanded(value: Any) -> int:
        key = id(value)
        if key in unique:
            return unique[key]
        if isinstance(value, dict):
            unique[key] = 0  # a recursive alias counts as a leaf while it is being measured
            total = 1 + sum(expanded(k) + expanded(v) for k, v in value.items())
        elif isinstance(value, list):
            unique[key] = 0
            total = 1 + sum(expanded(v) for v in value)
        else:
            return 0  # scalars are immutable: sharing them is harmless and free
        unique[key] = total
        return total

    try:
        size = expanded(data)
    except RecursionError:
        raise FnError([Result("invalid YAML: nested too deeply", file=source, line=line)]) from None
    if size - len(unique) > MAX_ALIAS_EXPANSION:
        raise FnError(
            [
                Result(
                    f"YAML aliases expand this document to {size:,} nodes from {len(unique):,}; "
                    "refusing (an alias bomb?); write the repeated parts out",
                    file=source,
                    line=line,
                )
            ]
        )
    # more containers reached than exist: some are shared through aliases
    return copy.deepcopy(data, memo={}) if size > len(unique) else data
