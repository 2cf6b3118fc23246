"""CRD validation rules: a custom resource's `x-kubernetes-validations` (CEL), as the API server runs them.

A CRD's schema is compiled once per version into a tree that keeps only the nodes a rule can
see: the nodes with rules, and below them the defaults and escaped property names the rules
read. Checking an object walks that tree alongside the object, the way the API server does after
its schema validation: schema defaults are applied first, `self` is bound to each node's value,
and a rule that does not hold is a finding at the node (or at its `fieldPath`) with the rule's
message (its `messageExpression` where it has one).

What a manifest check cannot or does not evaluate is said as an informational note, never
silently passed and never an error: transition rules (`oldSelf`: a manifest has no old object),
and rules this evaluator cannot compile or evaluate (a Kubernetes library function it lacks).
The CEL implementation is `common-expression-language` (the Rust `cel` crate); the Kubernetes
library functions the upstream rules use are added here.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import sys
import types
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]
Finding = tuple[FieldPath, str]

# https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#escaping
_RESERVED = frozenset(
    [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ]
)
_SIMPLE_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_FIELD_PATH = re.compile(r"\.([a-zA-Z_][a-zA-Z0-9_-]*)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[(\d+)\]")
REASONS = {
    "FieldValueInvalid": "",
    "FieldValueForbidden": "forbidden: ",
    "FieldValueRequired": "required: ",
    "FieldValueDuplicate": "duplicate: ",
}
UNSUPPORTED = "Undefined variable or function"
# comprehension macros: a rule nesting k of them over lists of n items costs about n**k steps
_MACRO = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(")
# the API server refuses a CRD whose rules could cost more than its budget (about 10 million
# steps per rule); this evaluator has no such limit, so a rule over a value that large is noted
# instead of run (a CRD among the inputs could otherwise stall the check)
MAX_STEPS = 1_000_000


def escape_name(name: str) -> str:
    """A property name as CEL sees it (`namespace` -> `__namespace__`, `a-b` -> `a__dash__b`)."""
    if name in _RESERVED:
        return f"__{name}__"
    if _SIMPLE_NAME.match(name) and "__" not in name:
        return name
    out = name.replace("__", "__underscores__")
    for char, word in ((".", "dot"), ("-", "dash"), ("/", "slash")):
        out = out.replace(char, f"__{word}__")
    return out if _SIMPLE_NAME.match(out) else name


def parse_field_path(text: str) -> FieldPath | None:
    """`.spec.ports['http']` as (spec, ports, http); None when it is not such a relative path."""
    out: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _FIELD_PATH.match(text, pos)
        if match is None:
            return None
        name, key, index = match.groups()
        out.append(name if name is not None else int(index) if index is not None else key)
        pos = match.end()
    return tuple(out)


# ==================================================================================================
# The CEL backend, and the Kubernetes library functions it lacks


@functools.cache
def _backend() -> Any:
    """The `cel` module, None where it is not installed (it needs Python >= 3.11)."""
    if "cel" in sys.modules:
        return sys.modules["cel"]
    # the package's __init__ imports its command-line REPL (typer, rich, prompt_toolkit): 0.3 s
    # of every check's start for nothing the rules use; a stand-in keeps it out (15 ms), and is
    # dropped again so that a real `import cel.cli` still works
    sys.modules["cel.cli"] = types.ModuleType("cel.cli")
    try:
        import cel
    except ImportError:
        return None
    finally:
        del sys.modules["cel.cli"]
    return cel


def _url(text: str) -> str:
    parsed = urllib.parse.urlsplit(text)
    if not parsed.scheme or not (parsed.netloc or text.startswith(parsed.scheme + ":/")):
        raise ValueError(f"url: {text!r} is not an absolute URL")
    return text


def _is_url(text: str) -> bool:
    try:
        _url(text)
    except ValueError:
        return False
    return True


_URL_PARTS: dict[str, Callable[[urllib.parse.SplitResult], str]] = {
    "getScheme": lambda u: u.scheme,
    "getHost": lambda u: u.netloc.rpartition("@")[2],
    "getHostname": lambda u: u.hostname or "",
    "getPort": lambda u: str(u.port or ""),
    "getEscapedPath": lambda u: u.path,
}


def _url_getter(part: Callable[[urllib.parse.SplitResult], str]) -> Callable[[str], str]:
    return lambda text: part(urllib.parse.urlsplit(text))


def _functions() -> dict[str, Callable[..., Any]]:
    """Kubernetes' CEL libraries, as far as the rules of the CRDs around Ray tenants need them.

    The strings extension (`split`, `lowerAscii`, ...) comes from the backend's standard library;
    `url()` returns the URL string itself, and the getters parse it again.
    """
    from cel import stdlib

    found = {name: f for lib in ("strings", "lists", "sets") for name, f in stdlib.EXTENSIONS[lib].items()}
    found.update(
        {
            "url": _url,
            "isURL": _is_url,
            **{name: _url_getter(part) for name, part in _URL_PARTS.items()},
        }
    )
    return found


# ==================================================================================================
# Compiling a CRD version's rules


@dataclass
class Rule:
    """One `x-kubernetes-validations` entry, compiled; `problem` says why it is not evaluated."""

    rule: str
    message: str | None
    message_expression: Any | None
    field_path: FieldPath
    reason: str
    program: Any | None
    problem: str | None = None
    transition: bool = False
    loops: int = 0


@dataclass
class Node:
    """A schema node that a rule can see: its rules, defaults, escaped names and children."""

    type: str | None
    rules: list[Rule] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    escapes: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None
    values: Node | None = None  # additionalProperties


@dataclass
class CrdRules:
    """The compiled rules of one CRD version, and counts of what is and is not evaluated."""

    kind: str
    root: Node | None
    total: int = 0
    compiled: int = 0
    transition: int = 0
    unsupported: list[str] = field(default_factory=list)
    evaluations: int = 0
    _memo: dict[bytes, tuple[list[Finding], list[Finding]]] = field(default_factory=dict)
    _context: Any = None


def compile_rules(schema: Mapping[str, Any], kind: str) -> CrdRules:
    """Compile every rule of a CRD version's openAPIV3Schema, once."""
    cel = _backend()
    out = CrdRules(kind, None)
    if cel is None:
        out.total = _count_rules(schema)
        return out
    out.root = _compile_node(schema, cel, out, visible=False)
    return out


def _count_rules(schema: Any) -> int:
    if not isinstance(schema, Mapping):
        return 0
    own = len(schema.get("x-kubernetes-validations") or [])
    children = [
        *(schema.get("properties") or {}).values(),
        schema.get("items"),
        schema.get("additionalProperties"),
    ]
    return own + sum(_count_rules(c) for c in children)


def _compile_node(schema: Mapping[str, Any], cel: Any, out: CrdRules, visible: bool) -> Node | None:
    node = Node(schema.get("type") if isinstance(schema.get("type"), str) else None)
    if schema.get("x-kubernetes-int-or-string"):
        node.type = None
    for entry in schema.get("x-kubernetes-validations") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("rule"), str):
            node.rules.append(_compile_rule(entry, cel, out))
    seen = visible or bool(node.rules)
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for name, child in props.items():
            if not isinstance(child, Mapping):
                continue
            if seen and "default" in child:
                node.defaults[name] = child["default"]
            if seen and escape_name(name) != name:
                node.escapes[name] = escape_name(name)
            compiled = _compile_node(child, cel, out, seen)
            if compiled is not None:
                node.properties[name] = compiled
    if isinstance(schema.get("items"), Mapping):
        node.items = _compile_node(schema["items"], cel, out, seen)
    if isinstance(schema.get("additionalProperties"), Mapping):
        node.values = _compile_node(schema["additionalProperties"], cel, out, seen)
    keep = node.rules or node.defaults or node.escapes or node.properties or node.items or node.values
    return node if keep else None


def _compile_rule(entry: Mapping[str, Any], cel: Any, out: CrdRules) -> Rule:
    text = str(entry["rule"])
    out.total += 1
    message = entry.get("message") if isinstance(entry.get("message"), str) else None
    field_path = parse_field_path(str(entry.get("fieldPath") or "")) or ()
    reason = str(entry.get("reason") or "FieldValueInvalid")
    rule = Rule(text, message, None, field_path, reason, None, loops=len(_MACRO.findall(text)))
    if re.search(r"\boldSelf\b", text):
        out.transition += 1
        rule.transition = True
        return rule
    try:
        rule.program = cel.compile(text)
        if isinstance(entry.get("messageExpression"), str):
            rule.message_expression = cel.compile(entry["messageExpression"])
    except Exception as exc:  # the backend raises ValueError and others: any means "not compiled"
        rule.problem = f"does not compile: {_first_line(exc)}"
        out.unsupported.append(text)
        return rule
    out.compiled += 1
    return rule


# ==================================================================================================
# Checking an object


def evaluate(rules: CrdRules, obj: Mapping[str, Any]) -> tuple[list[Finding], list[Finding]]:
    """(findings, notes) of the rules on one object; notes are informational."""
    notes: list[Finding] = []
    if rules.transition:
        notes.append(
            (
                (),
                f"{rules.transition} transition rule(s) (oldSelf) of {rules.kind} not evaluated: "
                "a manifest has no old object",
            )
        )
    cel = _backend()
    if cel is None:
        if rules.total:
            notes.append(
                (
                    (),
                    f"{rules.total} CEL rule(s) of {rules.kind} not evaluated: the CEL evaluator "
                    "(common-expression-language) needs Python >= 3.11",
                )
            )
        return [], notes
    if rules.root is None:
        return [], notes
    # the API server sees JSON; the rules see metadata.name and generateName only
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    body = {k: v for k, v in obj.items() if k != "metadata"}
    body["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    key = hashlib.blake2b(text.encode(), digest_size=16).digest()
    if key not in rules._memo:
        data = _prepare(rules.root, json.loads(text))
        findings: list[Finding] = []
        found_notes: list[Finding] = []
        if rules._context is None:
            rules._context = _context(cel)
        _walk(rules, rules.root, data, (), rules._context, findings, found_notes)
        rules._memo[key] = (findings, found_notes)
    findings, found = rules._memo[key]
    return list(findings), [*notes, *found]


def _context(cel: Any) -> Any:
    context = cel.Context()
    for name, function in _functions().items():
        context.add_function(name, function)
    return context


def _prepare(node: Node, value: Any) -> Any:
    """`value` with the schema's defaults applied and property names escaped, where rules see them."""
    if isinstance(value, dict):
        for name, default in node.defaults.items():
            if name not in value:
                value[name] = copy.deepcopy(default)
        for name, child in node.properties.items():
            if name in value:
                value[name] = _prepare(child, value[name])
        if node.values is not None:
            for name in value:
                if name not in node.properties:
                    value[name] = _prepare(node.values, value[name])
        for name, escaped in node.escapes.items():
            if name in value:
                value[escaped] = value.pop(name)
    elif isinstance(value, list) and node.items is not None:
        return [_prepare(node.items, v) for v in value]
    return value


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _walk(
    rules: CrdRules,
    node: Node,
    value: Any,
    path: FieldPath,
    context: Any,
    findings: list[Finding],
    notes: list[Finding],
) -> None:
    if value is None:
        return  # a nullable field set to null: the API server skips its rules
    wanted = _TYPES.get(node.type or "")
    if wanted is not None and (not isinstance(value, wanted) or (bool in wanted) != isinstance(value, bool)):
        return  # the schema check reports the wrong type; the rules would only fail on it
    if node.rules:
        context.add_variable("self", value)
        for rule in node.rules:
            _run(rules, rule, path, value, context, findings, notes)
    if isinstance(value, dict):
        for name, child in node.properties.items():
            key = node.escapes.get(name, name)
            if key in value:
                _walk(rules, child, value[key], (*path, name), context, findings, notes)
        if node.values is not None:
            for name, item in value.items():
                if name not in node.properties:
                    _walk(rules, node.values, item, (*path, name), context, findings, notes)
    elif isinstance(value, list) and node.items is not None:
        for i, item in enumerate(value):
            _walk(rules, node.items, item, (*path, i), context, findings, notes)


def _run(
    rules: CrdRules,
    rule: Rule,
    path: FieldPath,
    value: Any,
    context: Any,
    findings: list[Finding],
    notes: list[Finding],
) -> None:
    if rule.transition:
        return
    if rule.program is None:
        notes.append((path, f"CEL rule {rule.rule!r} of {rules.kind} not evaluated: {rule.problem}"))
        return
    if rule.loops > 1:
        steps = _largest_collection(value) ** rule.loops
        if steps > MAX_STEPS:
            notes.append(
                (
                    path,
                    f"CEL rule {rule.rule!r} of {rules.kind} not evaluated: about {steps:.1e} steps "
                    f"on this value, over the {MAX_STEPS:,} this check spends on one rule",
                )
            )
            return
    rules.evaluations += 1
    try:
        verdict = rule.program.execute(context)
    except Exception as exc:  # the backend raises RuntimeError, KeyError, TypeError, ...
        why = _first_line(exc)
        if UNSUPPORTED in why and rule.rule not in rules.unsupported:
            rules.unsupported.append(rule.rule)
        notes.append((path, f"CEL rule {rule.rule!r} of {rules.kind} not evaluated: {why}"))
        return
    if verdict is True:
        return
    if verdict is not False:
        notes.append(
            (
                path,
                f"CEL rule {rule.rule!r} of {rules.kind} not evaluated: it gave {verdict!r}, not true or false",
            )
        )
        return
    findings.append(((*path, *rule.field_path), REASONS.get(rule.reason, "") + _message(rule, context)))


def _largest_collection(value: Any) -> int:
    """The size of the largest list or map in `value`, at any depth."""
    largest = 1
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            largest = max(largest, len(item))
            stack.extend(item.values())
        elif isinstance(item, list):
            largest = max(largest, len(item))
            stack.extend(item)
    return largest


def _message(rule: Rule, context: Any) -> str:
    if rule.message_expression is not None:
        try:
            text = rule.message_expression.execute(context)
        except Exception:  # the API server falls back to message as well
            text = None
        if isinstance(text, str) and text.strip() and "\n" not in text:
            return text
    return rule.message or f"failed rule: {rule.rule}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."
