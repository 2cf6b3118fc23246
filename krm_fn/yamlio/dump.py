"""Style-keeping YAML output: strings a Kubernetes reader would misread are quoted, and the text
and style of unchanged values are kept from the input's nodes."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from krm_fn.yamlio.load import Loader
from krm_fn.yamlio.scalars import NOT_A_STRING, RESOLVERS, STR_TAG, CachedResolve

try:  # the C dumper is 5-10x faster; fall back where libyaml is missing
    from yaml import CSafeDumper as BaseDumper
except ImportError:  # pragma: no cover - depends on how pyyaml was built
    from yaml import SafeDumper as BaseDumper  # type: ignore[assignment]


class _Dumper(CachedResolve, BaseDumper):
    """Quotes every string a Kubernetes reader would take for another type; writes no anchors.

    The serializer writes a scalar plain only where the dumper's resolvers read its text back
    as its tag: with NOT_A_STRING among them, such strings get quotes, in the C dumper too.
    A shared object in the output is written out in full each time.
    """

    yaml_implicit_resolvers = RESOLVERS

    def ignore_aliases(self, data: Any) -> bool:
        return True


Dumper = _Dumper


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
    if node.tag == STR_TAG or node.tag == NOT_A_STRING:
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
    construct = Loader.yaml_constructors.get(tag)
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
    if like.style and like.tag == STR_TAG:
        return yaml.ScalarNode(STR_TAG, like.value, style=like.style)
    return yaml.ScalarNode(like.tag, like.value)


def _flow_safe(node: yaml.Node) -> yaml.Node:
    """`node` as a flow collection can hold it.

    The emitter writes no plain scalar with `:` or a flow indicator inside brackets, where the
    parser read one (`{value: 12:30}`): such text is quoted, which every reader takes for the
    same string, rather than tagged. A null spelled as nothing (`{a: }`) becomes `null`.
    """
    if isinstance(node, yaml.ScalarNode) and not node.style:
        if node.tag == NOT_A_STRING and _FLOW_INDICATORS.search(node.value):
            return yaml.ScalarNode(STR_TAG, node.value)
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
        return yaml.ScalarNode(STR_TAG, data)
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
