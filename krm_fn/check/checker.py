"""The check: manifests in, findings out; orchestration only.

Every rule belongs to the module that applies it: Spot placement to `krm_fn.spot`, routes and
prefix overlap to `krm_fn.routing`, KubeRay names to `krm_fn.ray`, schemas to
`krm_fn.check.schemas`, drift to `krm_fn.check.drift`. Here they are run over the inputs (or,
with a tenant spec, over what the inputs expand to) and their findings located in files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from krm_fn import ray, routing, spot
from krm_fn.check.drift import check_drift
from krm_fn.check.options import Options
from krm_fn.check.report import Report, findings
from krm_fn.check.schemas import CrdSchemas, FieldPath, Finding, SchemaChecker, resolve_version
from krm_fn.config import KIND, TenantsConfig, parse_config
from krm_fn.expand import Outcome, own_tenant
from krm_fn.inputs.function_config import tenant_specs
from krm_fn.inputs.objects import Manifest, locate
from krm_fn.isolation import verify as isolation
from krm_fn.items import (
    CRD_GROUP,
    clone,
    declared_scopes,
    is_base,
    is_copyable,
    is_tool_config,
    meta,
    owner_tenant,
    placed,
    same_object,
)
from krm_fn.overlays import is_kustomization_file
from krm_fn.package import all_placed, expand_placed
from krm_fn.results import FnError, ResourceRef, Result
from krm_fn.spot import SpotSpec


@dataclass(frozen=True)
class Target:
    """An object to check, the document its findings point at, and the identity they name."""

    obj: Mapping[str, Any]
    doc: Manifest
    ref: ResourceRef
    # a user's own Ray workload that passes through the expansion, and its tenant (see own_targets)
    own: bool = False
    tenant: str | None = None

    @property
    def tenant_name(self) -> str | None:
        """The tenant whose placement the object must carry: its own, or the one it was generated for."""
        return self.tenant if self.own else owner_tenant(self.obj)

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
    name = meta(target.obj).get("name")
    problem = ray.name_problem(str(target.obj.get("kind")), str(name)) if isinstance(name, str) else None
    return [target.result(problem, ("metadata", "name"))] if problem else []


def check(docs: Sequence[Manifest], options: Options) -> Report:
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
        and not (spec_doc is not None and same_object(d.data, spec_doc.data))
        and owner_tenant(d.data) is None
    ]
    generated: list[Target] = []
    if config is not None and spec_doc is not None:
        hydrated = hydrated_stream(inputs, objects, config)
        generated = (
            hydrated
            if hydrated is not None
            else _expand([*inputs, *kustomizations(docs)], spec_doc, config, report, options.root)
        )

    if "schema" in options.select:
        _check_schemas(objects, generated, version, options, report)
    if "policy" in options.select:
        _check_policy(objects, generated, spec_doc, config, report)
        if spec_doc is None or config is not None:  # a broken spec is reported, not guessed at
            _check_isolation(objects, generated, config, report)
    if "drift" in options.select and config is not None and spec_doc is not None and not report.failed:
        check_drift(docs, inputs, spec_doc, config, options, report)
    report.results = findings(report.results)
    return report


def _not_objects(docs: Sequence[Manifest]) -> list[Result]:
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
            out.append(doc.skipped())
    return out


def _tenant_spec(
    objects: Sequence[Manifest], options: Options, report: Report
) -> tuple[Manifest | None, TenantsConfig | None]:
    if options.config is not None:
        spec_doc: Manifest | None = options.config
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
        report.results.extend(locate(exc.results, [spec_doc]))
        return spec_doc, None


def _expand(
    inputs: Sequence[Manifest],
    spec_doc: Manifest,
    config: TenantsConfig,
    report: Report,
    root: Path | None = None,
) -> list[Target]:
    """The tenant copies (or, without tenants, the pinned objects), located at their bases."""
    items = [clone(d.data) for d in inputs]
    given = as_package(items, inputs, root)
    sources = None if given else [d.file for d in inputs]
    outcome = expand_placed(items, config, spec_doc.data, sources, kpt=all_placed(items))
    # a finding about the spec carries the file the expansion knows it by (none for a file given
    # with --config): here it is the spec's; a package path is the file as it was given
    found = [r.replace(file=given.get(r.file, r.file)) for r in outcome.results]
    found = [r.at(file=spec_doc.file) if r.resource == config.ref else r for r in found]
    report.results.extend(locate(found, [*inputs, spec_doc]))
    if outcome.failed:
        return []
    # an object whose kind or name is not a string (passed through, never copied) names no base
    by_name = {
        (kind, name): d
        for d in inputs
        if isinstance(kind := d.data.get("kind"), str) and isinstance(name := meta(d.data).get("name"), str)
    }
    out = []
    for obj in outcome.items:
        if config.tenants and owner_tenant(obj) is None:
            continue
        if not config.tenants and not (ray.is_ray_workload(obj) or routing.is_route(obj)):
            continue
        kind, name = obj.get("kind"), meta(obj).get("name")
        doc = (
            by_name.get((kind, name), spec_doc)
            if isinstance(kind, str) and isinstance(name, str)
            else spec_doc
        )
        out.append(Target(obj, doc, ResourceRef.of(obj)))
    return [*out, *own_targets(inputs, items, outcome)]


def as_package(
    items: Sequence[dict[str, Any]], inputs: Sequence[Manifest], root: Path | None
) -> dict[str, str]:
    """Give the items their kpt paths when they are the files of the kpt package at `root`.

    kpt runs the function on such a package, so the check expands it as kpt does (a user's own
    files in `<outputDir>/<tenant>/` pass through, never copied). Returns each package path with
    the file as it was given; empty, the items untouched, for anything else.
    """
    if root is None or not (root / "Kptfile").is_file():
        return {}
    paths = {}
    for doc in inputs:
        path = Path(os.path.abspath(doc.file)) if doc.file and doc.file != "-" else None
        if path is None or root.resolve() not in path.resolve().parents:
            return {}
        paths[doc.file] = path.resolve().relative_to(root.resolve()).as_posix()
    for item, doc in zip(items, inputs, strict=True):
        placed(item, paths[doc.file], doc.index or 0)
    return {rel: file for file, rel in paths.items()}


def own_targets(inputs: Sequence[Manifest], items: Sequence[Any], outcome: Outcome) -> list[Target]:
    """The Ray workloads of a tenant's own that the expansion passes through, as they are on disk.

    The expansion pins them with their tenant's placement (krm_fn.expand.own_tenant says whose
    they are), so one that lacks it is what `render` would change: the policy judges it as it is.
    """
    docs = {id(item): doc for item, doc in zip(items, inputs, strict=True)}
    return [
        Target(doc.data, doc, doc.ref, own=True, tenant=tenant.name if tenant else None)
        for key, tenant in outcome.own.items()
        if (doc := docs.get(key)) is not None
    ]


def kustomizations(docs: Sequence[Manifest]) -> list[Manifest]:
    """The kustomization files written without apiVersion and kind, as kustomize accepts them.

    They are no objects to check, but the overlays mode reads the bases' folders through them,
    as `render` does.
    """
    return [d for d in docs if not d.is_object and isinstance(d.data, dict) and is_kustomization_file(d.file)]


def hydrated_stream(
    inputs: Sequence[Manifest], objects: Sequence[Manifest], config: TenantsConfig
) -> list[Target] | None:
    """The Ray workloads of tenants' own when the objects are a hydrated stream, else None.

    A stream of generated objects (`ray-tenants render ... | ray-tenants check --config spec -`)
    holds no base: nothing is expanded, and every object is judged as it is (with_hydrated).
    """
    if not any(owner_tenant(d.data) is not None for d in objects):
        return None
    declared = {**declared_scopes(d.data for d in inputs), **config.kind_scopes}
    if any(is_base(d.data, declared) and own_tenant(d.data, config) is None for d in inputs):
        return None
    return [
        Target(d.data, d, d.ref, own=True, tenant=t.name if (t := own_tenant(d.data, config)) else None)
        for d in inputs
        if ray.is_ray_workload(d.data) and is_copyable(d.data)
    ]


def with_hydrated(
    generated: Sequence[Target], objects: Sequence[Manifest], config: TenantsConfig
) -> list[Target]:
    """The targets, where generated objects are among the inputs (a hydrated stream) those instead.

    What is on disk or in the stream is what a cluster gets: the policy holds on it, whether or
    not the bases that generate it are given. An expanded copy of the same object is left out, so
    no route is compared with its own copy. Objects of a tenant the spec no longer has are stale,
    and a second copy of one object is a duplicate: drift's to report.
    """
    tenants = {t.name for t in config.tenants}
    found: dict[tuple[object, object, object], Target] = {}
    for d in objects:
        if owner_tenant(d.data) in tenants:
            found.setdefault(_identity(d.data), Target(d.data, d, d.ref))
    return [*(t for t in generated if t.own or _identity(t.obj) not in found), *found.values()]


def _check_schemas(
    objects: Sequence[Manifest],
    generated: Sequence[Target],
    version: str,
    options: Options,
    report: Report,
) -> None:
    crds = CrdSchemas()
    for doc in [*options.crds, *objects]:
        api = str(doc.data.get("apiVersion")) if doc.is_object else ""
        if doc.is_object and doc.data.get("kind") == "CustomResourceDefinition" and api.startswith(CRD_GROUP):
            report.results.extend(doc.result(m, p) for p, m in crds.add(doc.data, doc.file))
    checker = SchemaChecker(version, crds, options.strict)
    unchecked: dict[tuple[str, str], tuple[Manifest, str, int]] = {}
    own: dict[int, set[tuple[Any, ...]]] = {}
    noted: set[str] = set()  # a CEL rule not evaluated is said once, where it first applies
    for doc in objects:
        if is_tool_config(doc.data):
            continue  # kpt, kustomize and ray-tenants configuration: checked by their own tools
        verdict = checker.check(doc.data)
        own[id(doc)] = {(p, m) for p, m in verdict.findings}
        report.results.extend(doc.result(m, p) for p, m in verdict.findings)
        report.results.extend(_notes(doc.result, verdict.notes, noted))
        if verdict.unchecked:
            _note_unchecked(unchecked, doc, doc.data, verdict.unchecked)
    for target in (t for t in generated if not t.own):  # a user's own object is checked as itself
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
                f"{what}; {options.add_crd} to validate the rest",
                severity="info",
            )
        )


def _notes(result: Any, notes: Sequence[Finding], noted: set[str]) -> list[Result]:
    """Informational findings for the notes not yet said (each once per run)."""
    out = []
    for path, message in notes:
        if message not in noted:
            noted.add(message)
            out.append(result(message, path, severity="info"))
    return out


def _note_unchecked(
    unchecked: dict[tuple[str, str], tuple[Manifest, str, int]],
    doc: Manifest,
    obj: Mapping[str, Any],
    what: str,
) -> None:
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    first, _, count = unchecked.get(key, (doc, what, 0))
    unchecked[key] = (first, what, count + 1)


def _check_policy(
    objects: Sequence[Manifest],
    generated: Sequence[Target],
    spec_doc: Manifest | None,
    config: TenantsConfig | None,
    report: Report,
) -> None:
    if spec_doc is not None and not (config is not None and not config.tenants):
        # bases are templates: what they expand to is checked, not the bases themselves
        targets = with_hydrated(generated, objects, config) if config else list(generated)
    else:
        # without tenants (Spot only) the inputs are the manifests themselves, not templates:
        # what render would change in them is a finding
        targets = [Target(d.data, d, d.ref) for d in objects if not is_tool_config(d.data)]
    # generated routes carry the port their base routes the dashboard on, as the expansion reads it
    bases = list({id(t.doc): t.doc.data for t in generated if not t.own}.values())
    ports = routing.dashboard_ports(
        [b for b in bases if routing.is_route(b)], [b for b in bases if ray.is_ray_workload(b)]
    )
    heads: dict[str, dict[str, set[int]]] = {}
    for t in targets:
        name = ray.head_service_name(t.obj)
        if name:
            namespace = str(meta(t.obj).get("namespace") or "")
            heads.setdefault(namespace, {})[name] = ports.get(name, {ray.DASHBOARD_PORT})
    opted_out = {t.name for t in config.tenants if not t.spot} if config else set()
    routes: list[Target] = []
    tenant_routes: list[bool] = []
    for t in targets:
        if ray.is_ray_workload(t.obj):
            if config is None:
                report.results.extend(check_spot(t, None))
            elif config.spot.enabled and t.tenant_name not in opted_out:
                report.results.extend(check_spot(t, config.spot))
            if not (config is not None and config.spot.enabled and t.tenant_name not in opted_out):
                # where the Spot engine ran, the expansion already gave its head warning
                report.results.extend(check_head(t, config.spot if config else None))
            report.results.extend(check_name(t))
        elif routing.route_of(t.obj) is not None:
            # every route takes part in the overlap check; a tenant's is checked against its rules too
            routes.append(t)
            tenant_routes.append(
                config is not None
                or routing.is_tenant_route(t.obj, heads, generated=owner_tenant(t.obj) is not None)
            )
    for issue in routing.check_routes([t.obj for t in routes], heads, tenant_routes):
        finding = issue.finding
        report.results.append(routes[issue.index].result(finding.message, finding.path, finding.severity))
    if config is None:  # with a spec, the expansion has checked its routes against the Gateways
        report.results.extend(_admission(targets))


def _admission(targets: Sequence[Target]) -> list[Result]:
    """Each HTTPRoute is admitted by the Gateways among the inputs it names (where its Namespace is too)."""
    gateways = [t.obj for t in targets if routing.is_gateway(t.obj)]
    labels = {
        meta(t.obj).get("name"): meta(t.obj).get("labels") or {}
        for t in targets
        if t.obj.get("kind") == "Namespace"
    }
    return [
        t.result(why, ("spec", "parentRefs", i))
        for t in targets
        if gateways and routing.is_http_route(t.obj) and meta(t.obj).get("namespace") in labels
        for i, why in routing.listener_problems(t.obj, labels[meta(t.obj).get("namespace")], gateways)
    ]


def _check_isolation(
    objects: Sequence[Manifest], generated: Sequence[Target], config: TenantsConfig | None, report: Report
) -> None:
    """Each tenant's isolation as the spec asks (without tenants: Ray heads routed to anyone).

    The layers are judged on the stream as it would be applied: the expansion, and every input
    it does not replace (hydrated output, policies of the user's own).
    """
    replaced = {_identity(t.obj) for t in generated}
    world = [
        *generated,
        *(
            Target(d.data, d, d.ref)
            for d in objects
            if not is_tool_config(d.data) and _identity(d.data) not in replaced
        ),
    ]
    items = [t.obj for t in world]
    if config is not None and config.tenants:
        views = [isolation.TenantView(t.name, t.access.groups) for t in config.tenants]
        expanded = {owner_tenant(t.obj) or "" for t in generated if ray.is_ray_workload(t.obj)}
        findings = isolation.verify_tenants(items, config.access, views, expanded)
    else:
        findings = isolation.verify_open_routes(items)
    report.results.extend(world[f.index].result(f.message, f.path, f.severity) for f in findings)


def _identity(obj: Mapping[str, Any]) -> tuple[object, object, object]:
    return obj.get("kind"), meta(obj).get("namespace"), meta(obj).get("name")
