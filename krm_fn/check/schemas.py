"""Schemas: core kinds from kubernetes-validate's files, custom resources from their CRDs.

kubernetes-validate's own `validate()` reads a 1.8 MB definitions file and builds a validator on
every call. Here the definitions are loaded once per Kubernetes version, each kind's validator is
built once, and each distinct object or pod template (by the hash of its canonical JSON) is
validated once: a thousand tenant copies of one base cost about one validation. jsonschema is
imported on first use, so the command line and the expansion never pay for it.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.resources
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from krm_fn import ray
from krm_fn.check import crd_rules
from krm_fn.results import FnError, Result, describe

if TYPE_CHECKING:
    from referencing import Registry

# a jsonschema validator (jsonschema ships no type information; imported on first use)
Validator = Any
FieldPath = tuple[str | int, ...]


Finding = tuple[FieldPath, str]


@functools.cache
def _schemas() -> Any:
    """kubernetes-validate's schema folder; looked up on first use, since finding it imports the
    package (and jsonschema), which every other command can do without."""
    return importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"


POD_TEMPLATE_SPEC = "podtemplatespec-v1.json"
OBJECT_META = "objectmeta-meta-v1.json"
# marks a pod template inside a CRD schema: it is validated as the core PodTemplateSpec instead
# (strict, for the selected Kubernetes version) and reported once, not by two schemas
POD_TEMPLATE_MARK = "x-ray-tenants-pod-template"
_DIR_RE = re.compile(r"^v(\d+\.\d+\.\d+)-local-strict$")


def versions() -> list[str]:
    """The Kubernetes versions kubernetes-validate ships schemas for, oldest first."""
    found = [m.group(1) for p in _schemas().iterdir() if (m := _DIR_RE.match(p.name))]
    return sorted(found, key=_minor)


def _minor(version: str) -> tuple[int, int]:
    """(major, minor) of `1.30`, `v1.30.2`; ValueError for anything else."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    if match is None:
        raise ValueError(version)
    return int(match.group(1)), int(match.group(2))


def resolve_version(requested: str | None) -> str:
    """The shipped schema version for `requested` (`1.30`, `v1.30.2`); the newest by default."""
    shipped = versions()
    if not requested:
        return shipped[-1]
    try:
        wanted = _minor(requested)
    except ValueError:
        raise FnError([Result(f"--kubernetes-version {requested!r} is not a version such as 1.32")]) from None
    usable = [v for v in shipped if _minor(v) <= wanted]
    if not usable or wanted > _minor(shipped[-1]):
        raise FnError(
            [
                Result(
                    f"no schemas for Kubernetes {requested}: this installation has "
                    f"{', '.join(shipped)}. An image built from ray-tenants' Dockerfile keeps only "
                    "the versions named by its KEEP_SCHEMAS build argument (default: the three "
                    'newest minors); rebuild with --build-arg KEEP_SCHEMAS="1.32.0 1.37.0" or "all"'
                )
            ]
        )
    return usable[-1]


@functools.cache
def _registry(version: str, strict: bool) -> Registry:
    from referencing import Registry, Resource

    definitions = json.loads(_schema_dir(version, strict).joinpath("_definitions.json").read_text())
    registry: Registry = Resource.from_contents(definitions) @ Registry()
    return registry


def _schema_dir(version: str, strict: bool) -> Any:
    return _schemas() / f"v{version}-local{'-strict' if strict else ''}"


_SCHEMA_FILE = re.compile(r"[a-z0-9][a-z0-9.-]{0,200}\.json")


@functools.cache
def _core_validator(version: str, strict: bool, filename: str) -> Validator | None:
    path = _schema_dir(version, strict).joinpath(filename)
    if not path.is_file():
        return None
    import jsonschema  # type: ignore[import-untyped]

    schema = json.loads(path.read_text())
    validator: Validator = jsonschema.Draft202012Validator(schema, registry=_registry(version, strict))
    return validator


def core_validator(version: str, strict: bool, api_version: str, kind: str) -> Validator | None:
    """The validator for a built-in kind, None where kubernetes-validate has no schema for it."""
    group, _, ver = api_version.rpartition("/")
    # kubernetes-validate's file naming: group's first label, then version (rbac.authorization.k8s.io/v1
    # -> rbac-v1); the group-version-kind inside the file says whether it really is that kind
    short = f"{group.split('.')[0]}-{ver}" if group else ver
    filename = f"{kind.lower()}-{short}.json"
    # built-in kinds and versions are short identifiers; any other name (thousands of characters,
    # a path separator) has no schema file and must not reach the file system as a path
    if not _SCHEMA_FILE.fullmatch(filename):
        return None
    validator = _core_validator(version, strict, filename)
    if validator is None:
        return None
    gvks = validator.schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("group") == group and g.get("version") == ver and g.get("kind") == kind for g in gvks):
        return None
    return validator


# --------------------------------------------------------------------------------------------
# CRDs: openAPIV3Schema as JSON schema


def _mark_pod_template(
    validator: Validator, value: object, instance: object, schema: object
) -> Iterator[Any]:
    import jsonschema

    if value and isinstance(instance, dict):
        yield jsonschema.ValidationError("pod template", validator=POD_TEMPLATE_MARK, instance=instance)


@functools.cache
def _crd_validator_class() -> Any:
    import jsonschema.validators  # type: ignore[import-untyped]

    # OpenAPI v3.0 schemas are JSON schema draft 4 in spirit (boolean exclusiveMinimum and so on)
    return jsonschema.validators.extend(jsonschema.Draft4Validator, {POD_TEMPLATE_MARK: _mark_pod_template})


def structural_to_jsonschema(schema: Any, top: bool = True) -> Any:
    """A CRD's structural schema as JSON schema with the API server's strict field validation.

    An object with `properties` and neither `additionalProperties` nor
    `x-kubernetes-preserve-unknown-fields` rejects unknown fields (`kubectl --validate=strict`);
    `x-kubernetes-int-or-string` accepts an integer or a string; `nullable` accepts null. Pod
    templates are marked and validated as core PodTemplateSpecs. `x-kubernetes-validations`
    (CEL) rules are evaluated by `crd_rules`, not here.
    """
    if isinstance(schema, list):
        return [structural_to_jsonschema(s, False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if not top and _looks_like_pod_template(schema):
        return {"type": "object", POD_TEMPLATE_MARK: True}
    out = {
        k: (
            {name: structural_to_jsonschema(s, False) for name, s in v.items()}
            if k in ("properties", "patternProperties") and isinstance(v, dict)
            else structural_to_jsonschema(v, False)
            if k in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not")
            else v
        )
        for k, v in schema.items()
    }
    if top:
        # the API server accepts these on every object, whether the CRD's schema lists them or not
        out["properties"] = {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            **(out.get("properties") or {}),
        }
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _looks_like_pod_template(schema: Mapping[str, Any]) -> bool:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or set(props) - {"metadata", "spec"} or "spec" not in props:
        return False
    spec = props["spec"]
    spec_props = spec.get("properties") if isinstance(spec, Mapping) else None
    return isinstance(spec_props, Mapping) and "containers" in spec_props


@dataclass
class CrdSchemas:
    """Custom resource schemas by (apiVersion, kind), from CRDs among the inputs or `--crd` files."""

    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    _raw: dict[tuple[str, str], Any] = field(default_factory=dict)
    _compiled: dict[tuple[str, str], Validator] = field(default_factory=dict)
    _rules: dict[tuple[str, str], crd_rules.CrdRules] = field(default_factory=dict)

    def add(self, crd: Mapping[str, Any], source: str) -> list[Finding]:
        """Register every served version of a CustomResourceDefinition; problems as findings."""
        spec = crd.get("spec")
        if not isinstance(spec, Mapping):
            return [(("spec",), f"expected a mapping, got {describe(spec)}")]
        group = spec.get("group")
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, Mapping) else None
        if not isinstance(group, str) or not isinstance(kind, str):
            return [(("spec",), "a CRD needs spec.group and spec.names.kind")]
        legacy = spec.get("validation")  # apiextensions v1beta1: one schema for every version
        found: list[Finding] = []
        for i, version in enumerate(spec.get("versions") or []):
            if not isinstance(version, Mapping) or version.get("served") is False:
                continue
            schema = (version.get("schema") or {}).get("openAPIV3Schema") or (legacy or {}).get(
                "openAPIV3Schema"
            )
            if not isinstance(schema, Mapping):
                found.append(
                    (
                        ("spec", "versions", i, "schema"),
                        "no openAPIV3Schema: custom resources of it are not validated",
                    )
                )
                continue
            key = (f"{group}/{version.get('name')}", kind)
            self._raw[key] = schema
            self.sources[key] = source
            self._compiled.pop(key, None)
            self._rules.pop(key, None)
        return found

    def validator(self, api_version: str, kind: str) -> Validator | None:
        """The compiled validator for a custom kind, None without its CRD."""
        key = (api_version, kind)
        if key not in self._compiled:
            raw = self._raw.get(key)
            if raw is None:
                return None
            self._compiled[key] = _crd_validator_class()(structural_to_jsonschema(raw))
        return self._compiled[key]

    def rules(self, api_version: str, kind: str) -> crd_rules.CrdRules | None:
        """The compiled CEL rules of a custom kind (once per CRD version), None without its CRD."""
        key = (api_version, kind)
        if key not in self._rules:
            raw = self._raw.get(key)
            if raw is None:
                return None
            self._rules[key] = crd_rules.compile_rules(raw, f"{kind} ({api_version})")
        return self._rules[key]


# --------------------------------------------------------------------------------------------
# Checking objects


@dataclass(frozen=True)
class SchemaVerdict:
    """Findings about one object, and why it was not (fully) validated where it was not."""

    findings: list[Finding]
    unchecked: str | None = None
    notes: list[Finding] = field(default_factory=list)  # informational: CEL rules not evaluated


class SchemaChecker:
    """Validates objects; remembers every distinct instance it validated (per validator)."""

    def __init__(self, version: str, crds: CrdSchemas, strict: bool = True) -> None:
        self.version = version
        self.strict = strict
        self.crds = crds
        self._memo: dict[tuple[int, bytes], list[tuple[FieldPath, str, Any]]] = {}
        self.validations = 0  # distinct instances validated, for the benchmark

    def check(self, obj: Mapping[str, Any]) -> SchemaVerdict:
        """Validate one Kubernetes object (its pod templates as PodTemplateSpecs)."""
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        core = core_validator(self.version, self.strict, api_version, kind)
        if core is not None:
            return SchemaVerdict([(p, m) for p, m, _ in self._validate(core, obj)])
        findings = self._metadata(obj)
        crd = self.crds.validator(api_version, kind)
        if crd is not None:
            body = {k: v for k, v in obj.items() if k != "metadata"}
            for path, message, instance in self._validate(crd, body):
                if message == POD_TEMPLATE_MARK:
                    findings.extend(self.pod_template(instance, path))
                else:
                    findings.append((path, message))
            rules = self.crds.rules(api_version, kind)
            if rules is None:
                return SchemaVerdict(findings)
            violated, notes = crd_rules.evaluate(rules, obj)
            return SchemaVerdict([*findings, *(f for f in violated if f not in findings)], notes=notes)
        if ray.is_ray_workload(obj):
            for path, template in pod_templates(obj):
                findings.extend(self.pod_template(template, path))
            return SchemaVerdict(findings, "pod templates and metadata only")
        return SchemaVerdict(findings, "metadata only")

    def pod_template(self, template: Any, path: FieldPath = ()) -> list[Finding]:
        """Validate a pod template as the core PodTemplateSpec it is; paths under `path`."""
        validator = _core_validator(self.version, self.strict, POD_TEMPLATE_SPEC)
        assert validator is not None, "kubernetes-validate always ships PodTemplateSpec"
        return [((*path, *p), m) for p, m, _ in self._validate(validator, template)]

    def _metadata(self, obj: Mapping[str, Any]) -> list[Finding]:
        # the API server validates every object's metadata as ObjectMeta, CRD or not
        if "metadata" not in obj:
            return []
        validator = _core_validator(self.version, self.strict, OBJECT_META)
        assert validator is not None, "kubernetes-validate always ships ObjectMeta"
        return [(("metadata", *p), m) for p, m, _ in self._validate(validator, obj["metadata"])]

    def _validate(self, validator: Validator, instance: Any) -> list[tuple[FieldPath, str, Any]]:
        text = json.dumps(instance, sort_keys=True, separators=(",", ":"), default=str)
        key = (id(validator), hashlib.blake2b(text.encode(), digest_size=16).digest())
        if key not in self._memo:
            self.validations += 1
            # the API server sees JSON: YAML timestamps and non-string keys become strings
            data = json.loads(text)
            found: dict[tuple[FieldPath, str], tuple[FieldPath, str, Any]] = {}
            for error in validator.iter_errors(data):
                for path, message, inner in _explain(error):
                    # int-or-string fails both its type and its anyOf: say it once
                    found.setdefault((path, message), (path, message, inner))
            self._memo[key] = list(found.values())
        return self._memo[key]


def pod_templates(obj: Mapping[str, Any]) -> list[tuple[FieldPath, Any]]:
    """The pod templates of a Ray workload: head, every worker group, the RayJob submitter."""
    out: list[tuple[FieldPath, Any]] = []
    path = ray.cluster_spec_path(obj)
    spec = ray.cluster_spec(obj)
    if path is not None and spec is not None:
        head = spec.get("headGroupSpec")
        if isinstance(head, Mapping) and "template" in head:
            out.append(((*path, "headGroupSpec", "template"), head["template"]))
        for gpath, group in ray.worker_groups(obj):
            if "template" in group:
                out.append(((*gpath, "template"), group["template"]))
    submitter_parent: FieldPath = {"RayJob": ("spec",), "RayCronJob": ("spec", "jobTemplate")}.get(
        str(obj.get("kind")), ()
    )
    if submitter_parent and ray.is_ray_workload(obj):
        node: Any = obj
        for key in submitter_parent:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and "submitterPodTemplate" in node:
            out.append(((*submitter_parent, "submitterPodTemplate"), node["submitterPodTemplate"]))
    return out


def _explain(error: Any) -> Iterator[tuple[FieldPath, str, Any]]:
    """Readable findings for one validation error (one per unknown field)."""
    path: FieldPath = tuple(error.absolute_path)
    instance = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == POD_TEMPLATE_MARK:
        yield path, POD_TEMPLATE_MARK, instance
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = list(schema.get("properties") or {})
        for key in instance:
            if key not in known and not _pattern_match(schema, key):
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                yield (*path, key), f"unknown field {key!r}{hint}", None
    elif error.validator == "required":
        yield path, error.message.replace("is a required property", "is required"), None
    elif error.validator == "type":
        yield path, f"expected {_types(schema.get('type'))}, got {describe(instance)}", None
    elif error.validator in ("oneOf", "anyOf") and all(
        isinstance(s, Mapping) and set(s) <= {"type", "description"} for s in error.validator_value
    ):
        wanted = [t for s in error.validator_value for t in _as_list(s.get("type")) if t != "null"]
        yield path, f"expected {_types(wanted)}, got {describe(instance)}", None
    else:
        message = error.message
        yield path, message if len(message) <= 200 else message[:197] + "...", None


def _pattern_match(schema: Mapping[str, Any], key: str) -> bool:
    return any(re.search(p, key) for p in schema.get("patternProperties") or {})


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []


def _types(value: object) -> str:
    names = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
    }
    wanted = [names.get(t, t) for t in _as_list(value) if t != "null"]
    return " or ".join(dict.fromkeys(wanted)) or "nothing"
