"""Manifest check: schema, policy and drift findings for a tenant setup, before it reaches a cluster.

The sections follow the pipeline: loader (files or KRM items to documents with their origin) ->
schemas (kubernetes-validate and CRDs), policy (Spot placement, routing, names) and drift
(generated files against what the function generates now) -> the checker that runs them ->
report (one line per finding, or KRM results). Front ends: `ray-tenants check PATH...` and the
kpt validator (a `RayTenantsCheck` functionConfig).

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
import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from krm_fn import crd_rules, ray, routing, spot, standalone, writer, yamlio
from krm_fn import items as it
from krm_fn.config import API_VERSION, KIND, TenantsConfig, parse_config
from krm_fn.expand import Outcome
from krm_fn.inputs.function_config import find_tenant_spec, is_tenant_spec, tenant_specs
from krm_fn.inputs.loader import from_items, load_files, load_paths
from krm_fn.inputs.objects import Manifest
from krm_fn.overlays.files import dump_file, write_folder
from krm_fn.package import all_placed, expand_placed
from krm_fn.results import FnError, ResourceRef, Result, describe
from krm_fn.spot import SpotSpec

if TYPE_CHECKING:
    from referencing import Registry

# a jsonschema validator (jsonschema ships no type information; imported on first use)
Validator = Any
CHECKS = ("schema", "policy", "drift")
FieldPath = tuple[str | int, ...]


# ==================================================================================================
# Loader: krm_fn.inputs (a Doc is a manifest: the object with its file, line, index and node)

Doc = Manifest


# ==================================================================================================
# Schemas: core kinds from kubernetes-validate's files, custom resources from their CRDs

Finding = tuple[FieldPath, str]


@functools.cache
def _schemas() -> Any:
    """kubernetes-validate's schema folder; looked up on first use, since finding it imports the
    package (and jsonschema), which every other command can do without."""
    return importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"


SCHEMA_BASE = "https://kubernetes.io/api/"
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
                    f"no schemas for Kubernetes {requested}: this kubernetes-validate ships "
                    f"{shipped[0]} to {shipped[-1]}"
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


# ==================================================================================================
# Policy: Spot placement of Ray workers, the head off Spot, tenant routes, Ray names


@dataclass(frozen=True)
class Target:
    """An object to check, the document its findings point at, and the identity they name."""

    obj: Mapping[str, Any]
    doc: Doc
    ref: ResourceRef

    def result(self, message: str, path: FieldPath = (), severity: str = "error") -> Result:
        return self.doc.result(message, path, severity, self.ref)


# --------------------------------------------------------------------------------------------
# Spot: the rules and their verdicts are the Spot package's; here they are located in files


def check_spot(target: Target, spec: SpotSpec | None) -> list[Result]:
    """Every worker group pinned to Spot as `spec` asks (any known provider without a spec)."""
    return [target.result(f.message, f.path, f.severity) for f in spot.verify_workers(target.obj, spec)]


def check_head(target: Target, spec: SpotSpec | None = None) -> list[Result]:
    """The head must survive preemption: a warning when it can only run on Spot nodes."""
    return [target.result(f.message, f.path, f.severity) for f in spot.verify_head(target.obj, spec)]


def check_name(target: Target) -> list[Result]:
    """Ray workload names within KubeRay's limits."""
    name = it.meta(target.obj).get("name")
    problem = ray.name_problem(str(target.obj.get("kind")), str(name)) if isinstance(name, str) else None
    return [target.result(problem, ("metadata", "name"))] if problem else []


# ==================================================================================================
# Drift: generated resources on disk against what the function generates from the spec now

Key = tuple[str, str, str]


@dataclass
class Drift:
    """Findings, and the files that regenerating would write (relative path -> objects).

    Stale files are not listed: the writer prunes what it owns and no longer writes.
    """

    results: list[Result] = field(default_factory=list)
    rewrite: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def generated_on_disk(docs: Sequence[Doc], config: TenantsConfig, root: Path) -> list[Doc]:
    """Generated objects in the function's own files under `<root>/<outputDir>`, loaded or not.

    A file is the function's where the standalone writer says so (krm_fn.writer): at
    `<outputDir>/<tenant>/<name>`, every object in it labelled for that tenant and named for that
    file. Labelled objects anywhere else are the user's, passed through like any other.
    """
    folder = root / config.output_dir
    found = list(docs)
    if folder.is_dir():
        loaded = {os.path.abspath(d.file) for d in docs}
        extra, _ = load_paths([str(folder)])
        found.extend(d for d in extra if os.path.abspath(d.file) not in loaded)
    by_file: dict[str, list[Doc]] = {}
    for doc in found:
        if doc.file != "-":
            by_file.setdefault(os.path.abspath(doc.file), []).append(doc)
    owned = []
    for file, group in by_file.items():
        tenant = writer.tenant_folder_of(folder, file)
        if tenant is not None and writer.is_generated([d.data for d in group], tenant, Path(file).name):
            owned.extend(group)
    return owned


def expected_generated(
    inputs: Sequence[Doc], spec: Mapping[str, Any], config: TenantsConfig, root: Path | None
) -> list[dict[str, Any]]:
    """What the function generates now, each object placed at its file (kpt's path annotation).

    The inputs run through the expansion as kpt gives them (with their paths), so the files
    generated objects go to are the function's own choice, not a second copy of its naming rule.
    """
    items = []
    for doc in inputs:
        obj = it.clone(doc.data)
        if root is not None and not it.path_of(obj):
            rel = os.path.relpath(os.path.abspath(doc.file), root) if doc.file != "-" else "stdin.yaml"
            notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
            notes["config.kubernetes.io/path"] = rel
        items.append(obj)
    outcome = expand_placed(items, config, spec, kpt=all_placed(items))
    if outcome.failed:
        return []  # the expansion's own findings are reported by the checker
    return [o for o in outcome.items if it.owner_tenant(o) is not None]


def compare_generated(
    want: Sequence[Mapping[str, Any]],
    have: Sequence[Doc],
    regenerate: str,
    spec_doc: Doc,
) -> Drift:
    """Stale, changed and missing generated objects, and the files regenerating would write."""
    drift = Drift()
    wanted: dict[Key, Mapping[str, Any]] = {_key(o): o for o in want}
    found: dict[Key, Doc] = {}
    for doc in have:
        key = _key(doc.data)
        found[key] = doc
        if key not in wanted:
            drift.results.append(
                doc.result(
                    f"generated for tenant {it.owner_tenant(doc.data)!r} but the spec no longer "
                    f"generates it; regenerate with `{regenerate}` (or delete it)"
                )
            )
            continue
        diff = first_difference(it.without_placement(doc.data), it.without_placement(wanted[key]))
        if diff is not None:
            path, on_disk, now = diff
            drift.results.append(
                doc.result(
                    f"out of date: on disk {_short(on_disk)}, the spec generates {_short(now)}; "
                    f"regenerate with `{regenerate}`",
                    path,
                )
            )
    for key, obj in wanted.items():
        if key not in found:
            drift.results.append(
                spec_doc.result(
                    f"{ResourceRef.of(obj).label()} is not generated yet (expected in "
                    f"{it.path_of(obj)}); regenerate with `{regenerate}`",
                    ("spec", "tenants"),
                )
            )
    if drift.results:
        for obj in sorted(want, key=lambda o: it.index_of(o) or 0):
            drift.rewrite.setdefault(it.path_of(obj), []).append(it.without_placement(obj))
    return drift


def write_generated(drift: Drift, root: Path, output_dir: str) -> list[str]:
    """Regenerate through the standalone writer: the generated files, and prune the stale ones.

    Raises FnError, having changed nothing, where a file to replace is not the function's.
    """
    out = Path(os.path.relpath(root / output_dir))
    files = {Path(os.path.relpath(root / rel)): yamlio.dump_all(objs) for rel, objs in drift.rewrite.items()}
    return writer.write_files(out, files)


def first_difference(
    a: Any, b: Any, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], Any, Any] | None:
    """The first path where `a` and `b` differ, with both values there; None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return (*path, key), a.get(key, _MISSING), b.get(key, _MISSING)
            found = first_difference(a[key], b[key], (*path, key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        # a length difference is reported below, after the common entries
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, (*path, i))
            if found:
                return found
        if len(a) != len(b):
            return path, f"{len(a)} entries", f"{len(b)} entries"
        return None
    return None if a == b and type(a) is type(b) else (path, a, b)


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


_MISSING = _Missing()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) and value.endswith("entries") else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(obj: Mapping[str, Any]) -> Key:
    meta = it.meta(obj)
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


# ==================================================================================================
# The check: documents in, findings out

CRD_GROUP = "apiextensions.k8s.io"
_FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Options:
    """How to check: Kubernetes version, which checks, extra CRDs, the tenant spec, drift setup."""

    kubernetes_version: str | None = None
    strict: bool = True
    select: frozenset[str] = frozenset(CHECKS)
    crds: Sequence[Doc] = ()
    config: Doc | None = None
    # folder that generated paths are relative to (standalone); None when items carry kpt paths
    root: Path | None = None
    # the command line's paths and --config: `output: overlays` drift renders them as `render` does
    paths: Sequence[str] = ()
    config_file: str | None = None
    regenerate: str = "kpt fn render"
    fix: bool = False


@dataclass
class Report:
    """Every finding of a run, sorted by file and line, and what regenerating wrote."""

    results: list[Result] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    validations: int = 0

    @property
    def failed(self) -> bool:
        return any(r.is_error for r in self.results)


def check(docs: Sequence[Doc], options: Options) -> Report:
    """Run the selected checks over `docs`; a problem anywhere is a finding, never an exception."""
    report = Report()
    objects = [d for d in docs if d.is_object]
    report.results.extend(_not_objects(docs))
    try:
        version = resolve_version(options.kubernetes_version)
    except FnError as exc:
        report.results.extend(exc.results)
        return report

    spec_doc, config = _tenant_spec(objects, options, report)
    inputs = [
        d
        for d in objects
        if d is not spec_doc
        and not (spec_doc is not None and it.same_object(d.data, spec_doc.data))
        and it.owner_tenant(d.data) is None
    ]
    generated: list[Target] = []
    if config is not None and spec_doc is not None:
        generated = _expand(inputs, spec_doc, config, report)

    if "schema" in options.select:
        report.validations = _check_schemas(objects, generated, version, options, report)
    if "policy" in options.select:
        _check_policy(objects, generated, spec_doc, config, report)
    if "drift" in options.select and config is not None and spec_doc is not None and not report.failed:
        _check_drift(docs, inputs, spec_doc, config, options, report)
    report.results.sort(key=lambda r: (r.file, r.line or 0))
    return report


def _not_objects(docs: Sequence[Doc]) -> list[Result]:
    out = []
    for doc in docs:
        if doc.is_object:
            continue
        data = doc.data
        if isinstance(data, Mapping) and ("apiVersion" in data) != ("kind" in data):
            missing = "kind" if "apiVersion" in data else "apiVersion"
            out.append(
                doc.result(
                    f"has {'apiVersion' if missing == 'kind' else 'kind'} but no {missing}: not checked",
                    severity="warning",
                )
            )
        else:
            out.append(
                doc.result("not a Kubernetes object (no apiVersion and kind): skipped", severity="info")
            )
    return out


def _tenant_spec(
    objects: Sequence[Doc], options: Options, report: Report
) -> tuple[Doc | None, TenantsConfig | None]:
    if options.config is not None:
        spec_doc: Doc | None = options.config
    else:
        specs = tenant_specs(objects)
        for extra in specs[1:]:
            report.results.append(
                extra.result(
                    f"a second tenant spec ({KIND}; first in {specs[0].file}): check each with --config FILE",
                )
            )
        spec_doc = specs[0] if specs else None
    if spec_doc is None:
        return None, None
    try:
        return spec_doc, parse_config(spec_doc.data, spec_doc.file)
    except FnError as exc:
        report.results.extend(_locate(r, [spec_doc]) for r in exc.results)
        return spec_doc, None


def _expand(inputs: Sequence[Doc], spec_doc: Doc, config: TenantsConfig, report: Report) -> list[Target]:
    """The tenant copies (or, without tenants, the pinned objects), located at their bases."""
    items = [it.clone(d.data) for d in inputs]
    outcome = expand_placed(items, config, spec_doc.data, [d.file for d in inputs], kpt=all_placed(items))
    for result in outcome.results:
        if result.resource is not None and is_tenant_spec(result.resource.to_krm()):
            # a finding about the spec (a tenant's patch) belongs in the spec's file, not the base's
            result = replace(result, file=spec_doc.file, line=None)
        report.results.append(_locate(result, [*inputs, spec_doc]))
    if outcome.failed:
        return []
    # an object whose kind or name is not a string (passed through, never copied) names no base
    by_name = {
        (kind, name): d
        for d in inputs
        if isinstance(kind := d.data.get("kind"), str)
        and isinstance(name := it.meta(d.data).get("name"), str)
    }
    out = []
    for obj in outcome.items:
        if config.tenants and it.owner_tenant(obj) is None:
            continue
        if not config.tenants and not (ray.is_ray_workload(obj) or routing.is_virtual_service(obj)):
            continue
        kind, name = obj.get("kind"), it.meta(obj).get("name")
        doc = (
            by_name.get((kind, name), spec_doc)
            if isinstance(kind, str) and isinstance(name, str)
            else spec_doc
        )
        out.append(Target(obj, doc, ResourceRef.of(obj)))
    return out


def _check_schemas(
    objects: Sequence[Doc],
    generated: Sequence[Target],
    version: str,
    options: Options,
    report: Report,
) -> int:
    crds = CrdSchemas()
    for doc in [*options.crds, *objects]:
        api = str(doc.data.get("apiVersion")) if doc.is_object else ""
        if doc.is_object and doc.data.get("kind") == "CustomResourceDefinition" and api.startswith(CRD_GROUP):
            report.results.extend(doc.result(m, p) for p, m in crds.add(doc.data, doc.file))
    checker = SchemaChecker(version, crds, options.strict)
    unchecked: dict[tuple[str, str], tuple[Doc, str, int]] = {}
    own: dict[int, set[tuple[Any, ...]]] = {}
    noted: set[str] = set()  # a CEL rule not evaluated is said once, where it first applies
    for doc in objects:
        if it.is_tool_config(doc.data):
            continue  # kpt, kustomize and ray-tenants configuration: checked by their own tools
        verdict = checker.check(doc.data)
        own[id(doc)] = {(p, m) for p, m in verdict.findings}
        report.results.extend(doc.result(m, p) for p, m in verdict.findings)
        report.results.extend(_notes(doc.result, verdict.notes, noted))
        if verdict.unchecked:
            _note_unchecked(unchecked, doc, doc.data, verdict.unchecked)
    for target in generated:
        # a finding the base already has is reported once, on the base, not once per tenant
        verdict = checker.check(target.obj)
        seen = own.get(id(target.doc), set())
        report.results.extend(target.result(m, p) for p, m in verdict.findings if (p, m) not in seen)
        report.results.extend(_notes(target.result, verdict.notes, noted))
        if verdict.unchecked:
            _note_unchecked(unchecked, target.doc, target.obj, verdict.unchecked)
    for (api, kind), (doc, what, count) in unchecked.items():
        report.results.append(
            doc.result(
                f"no CRD for {kind} ({api}) among the inputs: {count} object(s) validated for "
                f"{what}; pass the CRD with --crd FILE to validate the rest",
                severity="info",
            )
        )
    return checker.validations


def _notes(result: Any, notes: Sequence[Finding], noted: set[str]) -> list[Result]:
    """Informational findings for the notes not yet said (each once per run)."""
    out = []
    for path, message in notes:
        if message not in noted:
            noted.add(message)
            out.append(result(message, path, severity="info"))
    return out


def _note_unchecked(
    unchecked: dict[tuple[str, str], tuple[Doc, str, int]], doc: Doc, obj: Mapping[str, Any], what: str
) -> None:
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    first, _, count = unchecked.get(key, (doc, what, 0))
    unchecked[key] = (first, what, count + 1)


def _check_policy(
    objects: Sequence[Doc],
    generated: Sequence[Target],
    spec_doc: Doc | None,
    config: TenantsConfig | None,
    report: Report,
) -> None:
    if spec_doc is not None and not (config is not None and not config.tenants):
        # bases are templates: what they expand to is checked, not the bases themselves
        targets = list(generated)
    else:
        # without tenants (Spot only) the inputs are the manifests themselves, not templates:
        # what render would change in them is a finding
        targets = [Target(d.data, d, d.ref) for d in objects if not it.is_tool_config(d.data)]
    # generated routes carry the port their base routes the dashboard on, as the expansion reads it
    bases = list({id(t.doc): t.doc.data for t in generated}.values())
    ports = routing.dashboard_ports(
        [b for b in bases if routing.is_virtual_service(b)], [b for b in bases if ray.is_ray_workload(b)]
    )
    heads: dict[str, dict[str, set[int]]] = {}
    for t in targets:
        name = ray.head_service_name(t.obj)
        if name:
            namespace = str(it.meta(t.obj).get("namespace") or "")
            heads.setdefault(namespace, {})[name] = ports.get(name, {ray.DASHBOARD_PORT})
    opted_out = {t.name for t in config.tenants if not t.spot} if config else set()
    routes = []
    for t in targets:
        if ray.is_ray_workload(t.obj):
            if config is None:
                report.results.extend(check_spot(t, None))
            elif config.spot.enabled and it.owner_tenant(t.obj) not in opted_out:
                report.results.extend(check_spot(t, config.spot))
            if not (config is not None and config.spot.enabled and it.owner_tenant(t.obj) not in opted_out):
                # where the Spot engine ran, the expansion already gave its head warning
                report.results.extend(check_head(t, config.spot if config else None))
            report.results.extend(check_name(t))
        elif (config is not None and routing.is_virtual_service(t.obj)) or routing.is_tenant_route(
            t.obj, heads, generated=it.owner_tenant(t.obj) is not None
        ):
            routes.append(t)
            report.results.extend(t.result(f.message, f.path) for f in routing.check_route(t.obj, heads))
    for overlap in routing.route_overlaps([t.obj for t in routes]):
        report.results.append(routes[overlap.index].result(overlap.finding.message, overlap.finding.path))


def _check_drift(
    docs: Sequence[Doc],
    inputs: Sequence[Doc],
    spec_doc: Doc,
    config: TenantsConfig,
    options: Options,
    report: Report,
) -> None:
    root = options.root
    have = (
        generated_on_disk(docs, config, root)
        if root is not None
        else [d for d in docs if d.is_object and _generated_item(d.data, config)]
    )
    # overlay folders on disk (generated kustomizations) are drift-checked as overlays, whatever
    # the spec's default output: `ray-tenants render --output overlays` writes them
    if config.output == "overlays" or any(d.data.get("kind") == "Kustomization" for d in have):
        if root is None:
            report.results.append(
                spec_doc.result(
                    "overlay folders are checked by `ray-tenants check`, not in kpt", severity="info"
                )
            )
        else:
            _check_overlay_drift(have, spec_doc, config, options, root, report)
        return
    kpt = any(d.is_object and d.data.get("kind") == "Kptfile" for d in docs) or (
        root is not None and (root / "Kptfile").is_file()
    )
    if not have and not kpt:
        return  # nothing generated on disk (a kustomize transformer setup): nothing to drift
    want = expected_generated(inputs, spec_doc.data, config, root)
    found = compare_generated(want, have, options.regenerate, spec_doc)
    if options.fix and root is not None and found.results:
        try:
            report.written = write_generated(found, root, config.output_dir)
        except FnError as exc:  # nothing was written: the drift stands as found
            report.results.extend(exc.results)
        if report.written:
            report.results.append(
                Result(f"regenerated {len(report.written)} file(s): {', '.join(report.written)}")
            )
            return
    report.results.extend(found.results)


def _generated_item(obj: Mapping[str, Any], config: TenantsConfig) -> bool:
    """A generated item of a ResourceList: in a package (it has a path) only in its tenant's folder."""
    if it.path_of(obj):
        return it.owner_in_package(obj, config.output_dir) is not None
    return it.owner_tenant(obj) is not None


def _check_overlay_drift(
    have: Sequence[Doc], spec_doc: Doc, config: TenantsConfig, options: Options, root: Path, report: Report
) -> None:
    """Overlay folders on disk against the files `ray-tenants render --output overlays` writes now."""
    out_dir = os.path.relpath(root / config.output_dir)
    words = ["ray-tenants", "render", "--output", "overlays", "--out", out_dir]
    command = shlex.join(
        [*words, *(["--config", options.config_file] if options.config_file else []), *options.paths]
    )
    try:
        outcome, _ = standalone.run(list(options.paths), options.config_file, "overlays", out_dir)
    except FnError as exc:
        report.results.extend(exc.results)
        return
    if outcome.failed:
        report.results.extend(r for r in outcome.results if r.is_error)
        return
    if options.fix:
        try:
            changes = write_folder(outcome.items, out_dir)
        except FnError as exc:  # nothing was written
            report.results.extend(exc.results)
            return
        if changes:
            report.written = changes
            report.results.append(Result(f"regenerated overlays: {'; '.join(changes)}"))
        return
    wanted = {
        os.path.abspath(it.path_of(o)): (it.path_of(o), dump_file(o)) for o in outcome.items if it.path_of(o)
    }
    for file, (shown, text) in sorted(wanted.items()):
        path = Path(file)
        if not path.is_file():
            report.results.append(
                spec_doc.result(
                    f"{shown} is not generated yet; regenerate with `{command}`", ("spec", "tenants")
                )
            )
            continue
        old = path.read_text(encoding="utf-8").splitlines()
        new = text.splitlines()
        if old != new:
            line = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False), 1) if a != b),
                min(len(old), len(new)) + 1,
            )
            report.results.append(
                Result(
                    f"out of date: differs from what the spec generates now from this line on; regenerate with `{command}`",
                    file=os.path.relpath(file),
                    line=line,
                )
            )
    for file in sorted({os.path.abspath(p) for p in writer.stale_files(out_dir, {Path(f) for f in wanted})}):
        report.results.append(
            Result(
                f"generated for a tenant the spec no longer has; regenerate with `{command}` (removes it)",
                file=os.path.relpath(file),
            )
        )


def _locate(result: Result, docs: Sequence[Doc]) -> Result:
    """Add the line of the finding's field, where its file and object are among `docs`."""
    if result.line is not None:
        return result
    ref = result.resource
    for doc in docs:
        if doc.file == result.file and (ref is None or (doc.ref.kind, doc.ref.name) == (ref.kind, ref.name)):
            return replace(result, line=doc.line_of(parse_field(result.field)))
    return result


def parse_field(text: str) -> tuple[str | int, ...]:
    """`spec.tenants[0].name` as a path."""
    return tuple(int(i) if i else k for k, i in _FIELD_PART.findall(text))


# ==================================================================================================
# Report: one line per finding for people and pre-commit


def write_lines(results: Sequence[Result], out: IO[str], verbose: bool = False) -> None:
    """`path:line: Kind/namespace/name field.path: message`, one per finding (info only if verbose)."""
    for result in results:
        if verbose or result.severity != "info":
            out.write(result.one_line() + "\n")


def summary(results: Sequence[Result], files: int) -> str:
    """`2 errors, 1 warning in 5 files`."""
    errors = sum(r.severity == "error" for r in results)
    warnings = sum(r.severity == "warning" for r in results)
    return f"{_count(errors, 'error')}, {_count(warnings, 'warning')} in {_count(files, 'file')}"


def exit_code(results: Sequence[Result]) -> int:
    """1 when any finding is an error, 0 when there are only warnings or nothing."""
    return 1 if any(r.is_error for r in results) else 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ==================================================================================================
# `ray-tenants check PATH...`: the check for people, pre-commit and CI


def main(
    paths: Sequence[str],
    stdout: IO[str],
    stderr: IO[str],
    *,
    config: str | None = None,
    crds: Sequence[str] = (),
    kubernetes_version: str | None = None,
    strict: bool = True,
    select: str = ",".join(CHECKS),
    fix: bool = False,
    verbose: bool = False,
) -> int:
    """`ray-tenants check PATH...`: print one line per finding; return the exit code."""
    selected = frozenset(s.strip() for s in select.split(",") if s.strip())
    unknown = selected - set(CHECKS)
    if unknown or not selected:
        stderr.write(f"ray-tenants check: --select takes {', '.join(CHECKS)}; got {select!r}\n")
        return 2
    docs, problems = load_paths(paths)
    crd_docs, crd_problems = load_paths(crds)
    problems.extend(crd_problems)
    config_doc = _config(config, problems)
    root = _root(config, docs, paths)
    options = Options(
        kubernetes_version=kubernetes_version,
        strict=strict,
        select=selected,
        crds=crd_docs,
        config=config_doc,
        root=root,
        regenerate=_regenerate(config, paths, root),
        fix=fix,
        paths=paths,
        config_file=config,
    )
    outcome = check(docs, options)
    results = [*problems, *outcome.results]
    write_lines(results, stdout, verbose)
    if any(r.severity != "info" for r in results):
        stderr.write(
            f"ray-tenants check: {summary(results, len({d.file for d in docs} | {r.file for r in problems if r.file}))}\n"
        )
    return exit_code(results)


def _config(file: str | None, problems: list[Result]) -> Doc | None:
    if file is None:
        return None
    docs, bad = load_files([file])
    problems.extend(bad)
    if bad:
        return None
    try:
        return find_tenant_spec(docs, file)
    except FnError as exc:
        problems.extend(exc.results)
        return None


def _root(config_file: str | None, docs: Sequence[Doc], paths: Sequence[str]) -> Path:
    """The folder the spec's outputDir is relative to.

    The Kptfile's folder above the spec; else the current folder (where pre-commit and `render
    --out` work) when every path is inside it; else the folder the paths have in common.
    """
    spec_file = config_file or next((d.file for d in docs if is_tenant_spec(d.data)), None)
    if spec_file and spec_file != "-":
        for folder in Path(spec_file).resolve().parents:
            if (folder / "Kptfile").is_file():
                return folder
    cwd = Path.cwd().resolve()
    given = [Path(p).resolve() for p in [*paths, *([config_file] if config_file else [])] if p != "-"]
    if all(p == cwd or cwd in p.parents for p in given):
        return cwd
    common = Path(os.path.commonpath([str(p if p.is_dir() else p.parent) for p in given]))
    return common


def _regenerate(config: str | None, paths: Sequence[str], root: Path) -> str:
    if (root / "Kptfile").is_file():
        return f"kpt fn render {shlex.quote(str(root))}"
    words = ["ray-tenants", "check", "--select", "drift", "--fix"]
    if config:
        words += ["--config", config]
    return shlex.join([*words, *paths])


# ==================================================================================================
# The kpt validator: a ResourceList in, the same items and the findings out

CHECK_FIELDS = ("kubernetesVersion", "strict", "select")


def parse_options(fn_config: Mapping[str, Any], file: str = "") -> Options:
    """Options from the functionConfig's spec; every problem in it reported together."""
    ref = ResourceRef.of(fn_config)
    problems: list[Result] = []
    if fn_config.get("apiVersion") != API_VERSION:
        problems.append(
            Result(
                f"unsupported apiVersion {fn_config.get('apiVersion')!r}; expect {API_VERSION}",
                field="apiVersion",
            )
        )
    spec = fn_config.get("spec") or {}
    if not isinstance(spec, Mapping):
        spec = {}
        problems.append(Result(f"expected a mapping, got {describe(fn_config.get('spec'))}", field="spec"))
    problems.extend(
        Result(f"unknown field {k!r}; expected one of: {', '.join(CHECK_FIELDS)}", field=f"spec.{k}")
        for k in spec
        if k not in CHECK_FIELDS
    )
    version = spec.get("kubernetesVersion")
    if version is not None and not isinstance(version, str):
        problems.append(
            Result(
                f"expected a string such as '1.32', got {describe(version)}", field="spec.kubernetesVersion"
            )
        )
        version = None
    strict = spec.get("strict", True)
    if not isinstance(strict, bool):
        problems.append(Result(f"expected true or false, got {describe(strict)}", field="spec.strict"))
        strict = True
    select = spec.get("select", list(CHECKS))
    if not isinstance(select, list) or not select or any(s not in CHECKS for s in select):
        problems.append(
            Result(f"expected a list of {', '.join(CHECKS)}, got {select!r}", field="spec.select")
        )
        select = list(CHECKS)
    if problems:
        raise FnError(r.at(ref, file) for r in problems)
    return Options(kubernetes_version=version, strict=strict, select=frozenset(select))


def validate_items(items: Sequence[Any], fn_config: Mapping[str, Any], file: str = "") -> Outcome:
    """Check the items; the outcome holds them unchanged, with the findings as results."""
    options = parse_options(fn_config, file)
    found = check(from_items(items), options)
    return Outcome(list(items), found.results)
