"""A tenant's RFC 6902 patch on its copy of a base: applied op by op, a failure said in words.

jsonpatch applies the ops; when one does not apply, the object is walked along the op's pointer
to say what is there instead (`the base has one worker group ('cpu'), no index 1`), not
jsonpatch's own text (`index '1' is out of bounds`, `cpu (<class 'str'>) is not equal ...`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import jsonpatch
import jsonpointer

from krm_fn.results import describe

# how the lists people patch most are spoken of: (one, many)
_NOUNS = {
    "workerGroupSpecs": ("worker group", "worker groups"),
    "containers": ("container", "containers"),
    "initContainers": ("init container", "init containers"),
    "tolerations": ("toleration", "tolerations"),
    "http": ("HTTP route", "HTTP routes"),
    "route": ("destination", "destinations"),
    "nodeSelectorTerms": ("node selector term", "node selector terms"),
}
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def apply_ops(obj: Any, ops: Sequence[Mapping[str, Any]]) -> tuple[Any, int | None, str]:
    """`obj` patched in place by `ops`; on failure, the index of the op that failed and why."""
    for i, op in enumerate(ops):
        try:
            obj = jsonpatch.apply_patch(obj, [dict(op)], in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            return obj, i, why_not(obj, op) or f"{op.get('op')} failed: {exc}"
    return obj, None, ""


def why_not(obj: Any, op: Mapping[str, Any]) -> str | None:
    """Why `op` does not apply to `obj`, in words; None where the walk finds nothing wrong."""
    name, path = op.get("op"), op.get("path")
    if not isinstance(path, str):
        return None
    if name in ("move", "copy") and isinstance(op.get("from"), str):
        problem = _walk(obj, op["from"], whole=True)
        if problem:
            return f"{name} failed at from {op['from']}: {problem}"
    problem = _walk(obj, path, whole=name in ("test", "replace", "remove"))
    if problem:
        return f"{name} failed at {path}: {problem}"
    if name == "test":
        value = jsonpointer.resolve_pointer(obj, path)
        return f"test failed at {path}: value is {_show(value)}, the patch expects {_show(op.get('value'))}"
    return None


def _walk(obj: Any, pointer: str, whole: bool) -> str | None:
    """What stops `pointer` short in `obj`; `whole`: the last part must exist too (not `add`)."""
    try:
        parts = jsonpointer.JsonPointer(pointer).parts
    except jsonpointer.JsonPointerException:
        return None
    node, at = obj, ""
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        key = parts[k - 1] if k else ""
        if isinstance(node, Mapping):
            if part not in node:
                if last and not whole:
                    return None
                return f"{at or 'the object'} has no field {part!r}{_fields(part, node)}"
            node = node[part]
        elif isinstance(node, list):
            if last and not whole and part == "-":
                return None
            if not part.isdigit():
                return f"{at} is a list: {part!r} is not an index"
            index = int(part)
            if index > len(node) or (index == len(node) and (whole or not last)):
                return f"the base has {_entries(node, key)}, no index {index}"
            if last and not whole:
                return None
            node = node[index]
        else:
            return f"{at} is {describe(node)}, not a mapping or a list"
        at += "/" + part.replace("~", "~0").replace("/", "~1")
    return None


def _entries(items: list[Any], key: str) -> str:
    """`one worker group ('small-group')`, `three entries at key`: a list as a person counts it."""
    one, many = _NOUNS.get(key, ("entry", "entries"))
    count = len(items)
    number = _NUMBERS[count] if count < len(_NUMBERS) else str(count)
    names = [
        n for e in items if isinstance(e, Mapping) and isinstance(n := e.get("groupName", e.get("name")), str)
    ]
    listed = f" ({', '.join(repr(n) for n in names)})" if names and len(names) == count else ""
    where = "" if key in _NOUNS else f" in {key}" if key else ""
    return f"{number} {one if count == 1 else many}{where}{listed}"


def _fields(part: str, node: Mapping[str, Any]) -> str:
    keys = [k for k in node if isinstance(k, str)]
    close = difflib.get_close_matches(part, keys, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (it has {', '.join(repr(k) for k in keys)})" if keys else " (it is empty)"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
