"""The check itself: documents in, findings out. No I/O except reading generated files for drift."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from krm_fn import items as it
from krm_fn import ray, routing
from krm_fn.check import CHECKS, policy, schema
from krm_fn.check import drift as drift_mod
from krm_fn.check.loader import Doc
from krm_fn.config import API_GROUP, KIND, TenantsConfig, parse_config
from krm_fn.expand import expand
from krm_fn.results import FnError, ResourceRef, Result

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


def is_tenant_spec(obj: object) -> bool:
    """A RayTenants object (the tenant spec)."""
    if not isinstance(obj, Mapping):
        return False
    api = obj.get("apiVersion")
    return isinstance(api, str) and api.split("/")[0] == API_GROUP and obj.get("kind") == KIND


def check(docs: Sequence[Doc], options: Options) -> Report:
    """Run the selected checks over `docs`; a problem anywhere is a finding, never an exception."""
    report = Report()
    objects = [d for d in docs if d.is_object]
    report.results.extend(_not_objects(docs))
    try:
        version = schema.resolve_version(options.kubernetes_version)
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
    generated: list[policy.Target] = []
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
        specs = [d for d in objects if is_tenant_spec(d.data)]
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


def _expand(
    inputs: Sequence[Doc], spec_doc: Doc, config: TenantsConfig, report: Report
) -> list[policy.Target]:
    """The tenant copies (or, without tenants, the pinned objects), located at their bases."""
    outcome = expand([it.clone(d.data) for d in inputs], config, spec_doc.data, [d.file for d in inputs])
    report.results.extend(_locate(r, [*inputs, spec_doc]) for r in outcome.results)
    if outcome.failed:
        return []
    by_name = {(d.data.get("kind"), it.meta(d.data).get("name")): d for d in inputs}
    out = []
    for obj in outcome.items:
        if config.tenants and it.owner_tenant(obj) is None:
            continue
        if not config.tenants and not (ray.is_ray_workload(obj) or routing.is_virtual_service(obj)):
            continue
        doc = by_name.get((obj.get("kind"), it.meta(obj).get("name")), spec_doc)
        out.append(policy.Target(obj, doc, ResourceRef.of(obj)))
    return out


def _check_schemas(
    objects: Sequence[Doc],
    generated: Sequence[policy.Target],
    version: str,
    options: Options,
    report: Report,
) -> int:
    crds = schema.CrdSchemas()
    for doc in [*options.crds, *objects]:
        api = str(doc.data.get("apiVersion")) if doc.is_object else ""
        if doc.is_object and doc.data.get("kind") == "CustomResourceDefinition" and api.startswith(CRD_GROUP):
            report.results.extend(doc.result(m, p) for p, m in crds.add(doc.data, doc.file))
    checker = schema.SchemaChecker(version, crds, options.strict)
    unchecked: dict[tuple[str, str], tuple[Doc, str, int]] = {}
    own: dict[int, set[tuple[Any, ...]]] = {}
    for doc in objects:
        if it.is_tool_config(doc.data):
            continue  # kpt, kustomize and ray-tenants configuration: checked by their own tools
        verdict = checker.check(doc.data)
        own[id(doc)] = {(p, m) for p, m in verdict.findings}
        report.results.extend(doc.result(m, p) for p, m in verdict.findings)
        if verdict.unchecked:
            _note_unchecked(unchecked, doc, doc.data, verdict.unchecked)
    for target in generated:
        # a finding the base already has is reported once, on the base, not once per tenant
        verdict = checker.check(target.obj)
        seen = own.get(id(target.doc), set())
        report.results.extend(target.result(m, p) for p, m in verdict.findings if (p, m) not in seen)
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


def _note_unchecked(
    unchecked: dict[tuple[str, str], tuple[Doc, str, int]], doc: Doc, obj: Mapping[str, Any], what: str
) -> None:
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    first, _, count = unchecked.get(key, (doc, what, 0))
    unchecked[key] = (first, what, count + 1)


def _check_policy(
    objects: Sequence[Doc],
    generated: Sequence[policy.Target],
    spec_doc: Doc | None,
    config: TenantsConfig | None,
    report: Report,
) -> None:
    if spec_doc is not None:
        # bases are templates: what they expand to is checked, not the bases themselves
        targets = list(generated)
    else:
        targets = [policy.Target(d.data, d, d.ref) for d in objects if not it.is_tool_config(d.data)]
    heads: dict[str, set[str]] = {}
    for t in targets:
        name = ray.head_service_name(t.obj)
        if name:
            heads.setdefault(str(it.meta(t.obj).get("namespace") or ""), set()).add(name)
    opted_out = {t.name for t in config.tenants if not t.spot} if config else set()
    routes = []
    for t in targets:
        if ray.is_ray_workload(t.obj):
            if config is None:
                report.results.extend(policy.check_spot(t, None))
            elif config.spot.enabled and it.owner_tenant(t.obj) not in opted_out:
                report.results.extend(policy.check_spot(t, config.spot))
            report.results.extend(policy.check_head(t))
            report.results.extend(policy.check_name(t))
        elif (config is not None and routing.is_virtual_service(t.obj)) or policy.is_tenant_route(
            t.obj, heads
        ):
            routes.append(t)
            report.results.extend(policy.check_route(t, heads))
    report.results.extend(policy.check_overlaps(routes))


def _check_drift(
    docs: Sequence[Doc],
    inputs: Sequence[Doc],
    spec_doc: Doc,
    config: TenantsConfig,
    options: Options,
    report: Report,
) -> None:
    if config.output != "resources":
        report.results.append(
            spec_doc.result(
                f"drift of `output: {config.output}` is not checked by this version",
                ("spec", "output"),
                "info",
            )
        )
        return
    root = options.root
    have = (
        drift_mod.generated_on_disk(docs, config, root)
        if root is not None
        else [d for d in docs if d.is_object and it.owner_tenant(d.data) is not None]
    )
    kpt = any(d.is_object and d.data.get("kind") == "Kptfile" for d in docs) or (
        root is not None and (root / "Kptfile").is_file()
    )
    if not have and not kpt:
        return  # nothing generated on disk (a kustomize transformer setup): nothing to drift
    want = drift_mod.expected(inputs, spec_doc.data, config, root)
    found = drift_mod.compare(want, have, options.regenerate, spec_doc)
    if options.fix and root is not None and found.results:
        report.written = drift_mod.write(found, root, have)
        if report.written:
            report.results.append(
                Result(f"regenerated {len(report.written)} file(s): {', '.join(report.written)}")
            )
            return
    report.results.extend(found.results)


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
