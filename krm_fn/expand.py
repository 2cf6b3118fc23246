"""The expansion: base items and a tenant spec in, per-namespace copies out. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from krm_fn import ray, routing
from krm_fn.config import MANAGED_BY, TENANT_LABEL, Tenant, TenantsConfig
from krm_fn.isolation import generate as isolation
from krm_fn.items import (
    GATEWAY_FOLDER,
    MANAGER,
    clone,
    declared_scopes,
    generated_file_name,
    group_of,
    index_of,
    inside,
    is_copyable,
    is_list,
    is_own_base_kustomization,
    is_shared,
    owner_tenant,
    path_of,
    placed,
    same_object,
    scope_of,
    tenant_folder,
    without_placement,
)
from krm_fn.items import meta as metadata_of
from krm_fn.results import Record, ResourceRef, Result, describe
from krm_fn.spot import apply_spot, check_group_names

if TYPE_CHECKING:  # the overlay mode's module is imported only where it runs (it pulls in jsonpatch)
    from krm_fn.overlays.patches import Base


class Roles(Record):
    """What the items are where the front end says so (krm_fn.package, for a kpt package's files).

    Without roles the items are a stream: the function owns what carries its labels, a `v1/List`
    is its objects, and the copies replace the bases.
    """

    _fields = __slots__ = ("owned", "passed", "bases_stay", "results")

    def __init__(
        self,
        owned: frozenset[int],
        passed: Mapping[int, Result | None],
        bases_stay: bool,
        results: tuple[Result, ...] = (),
    ) -> None:
        # ids of the items the function generated before: dropped, as they are generated anew
        self.owned = owned
        # ids of objects that are never copied, whatever they are, each with the finding its place
        # makes (None: it passes through quietly)
        self.passed = passed
        # the items stay as they are, the bases and a `v1/List` whole (its objects are bases where
        # they are), and the copies are added beside them
        self.bases_stay = bases_stay
        # the front end's findings about the items, reported before the expansion's own
        self.results = results


class Outcome:
    """The output items and every finding; `items` is meaningless when a finding is an error."""

    __slots__ = ("generated", "items", "own", "results")

    def __init__(self, items: list[dict[str, Any]], results: list[Result] | None = None) -> None:
        self.items = items
        self.results: list[Result] = [] if results is None else results
        # the tenant each generated item (by id) is for: the front end places it in that tenant's folder
        self.generated: dict[int, str] = {}
        # the Ray workloads of a tenant's own that pass through (by the id of the input object),
        # each with its tenant (None: in a tenant folder but another namespace); see own_tenant
        self.own: dict[int, Tenant | None] = {}

    @property
    def failed(self) -> bool:
        return any(r.is_error for r in self.results)

    def add(self, obj: dict[str, Any], tenant: Tenant) -> None:
        """Append an item generated for `tenant`."""
        self.items.append(obj)
        self.generated[id(obj)] = tenant.name

    def add_shared(self, obj: dict[str, Any], folder: str = GATEWAY_FOLDER) -> None:
        """Append an item generated for several tenants, or one that lives outside its namespace."""
        self.items.append(obj)
        self.generated[id(obj)] = folder


def expand(
    items: Sequence[Any],
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None = None,
    sources: Sequence[str] | None = None,
    *,
    roles: Roles | None = None,
) -> Outcome:
    """Expand `items` for every tenant of `config` (or pin Ray workers in place without tenants).

    `roles` is the front end's say, never the items': what it owns, what passes through, whether
    the bases stay (see Roles); None for a stream (kustomize, render). The copies carry no files:
    `Outcome.generated` names each one's tenant, and the front end places them (krm_fn.package).
    `sources` names the file of each item where the caller knows it better than the item's own
    annotations (standalone render); findings carry it.
    """
    files = item_files(items, sources)
    problems = [r for i, obj in enumerate(items) if (r := _shape_problem(obj, i, files[i]))]
    problems.extend(
        r for i, obj in enumerate(items) if is_list(obj) for r in _list_problems(obj, i, files[i])
    )
    if problems:
        return Outcome(list(items), problems)
    objs: list[dict[str, Any]] = list(items)
    if roles is None or not roles.bases_stay:
        # a stream's v1/List is its items; a file written back that holds one is kept (see members)
        objs, files = _flatten(objs, files)
    if not config.tenants:
        out = _pin_in_place(objs, config, files)
        workloads = [m for m, _ in members(objs, files) if ray.is_ray_workload(m)]
    else:
        out, bases = _expand_tenants(objs, config, function_config, files, roles)
        workloads = [b for b in bases if ray.is_ray_workload(b)]
    # a node pool mapped for a group no workload has is most likely a typo in the spec
    config_file = path_of(function_config) if function_config else ""
    if config.spot.enabled and workloads:
        out.results.extend(r.at(config.ref, config_file) for r in check_group_names(config.spot, workloads))
    out.results[:0] = config.warnings
    # a finding about the spec (a tenant's patch) is in the spec's file, not the base's it was met on
    out.results = [r.replace(file=config_file) if r.resource == config.ref else r for r in out.results]
    # a base's problem found in every tenant's copy is one problem
    out.results = list(dict.fromkeys(out.results))
    return out


def item_files(items: Sequence[Any], sources: Sequence[str] | None) -> list[str]:
    """The file each item is from: the caller's `sources` where it names one, else its annotation."""
    return [
        (sources[i] if sources and i < len(sources) and sources[i] else "") or _path(obj)
        for i, obj in enumerate(items)
    ]


def _flatten(objs: list[Any], files: list[str]) -> tuple[list[Any], list[str]]:
    """Every `v1/List` replaced by its items, each from the List's file."""
    if not any(is_list(o) for o in objs):
        return objs, files
    out_objs: list[Any] = []
    out_files: list[str] = []
    for obj, file in zip(
        objs,
        files,
        strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
    ):
        objects = obj["items"] if is_list(obj) else [obj]
        out_objs.extend(objects)
        out_files.extend([file] * len(objects))
    return out_objs, out_files


def members(objs: Sequence[Any], files: Sequence[str]) -> list[tuple[dict[str, Any], str]]:
    """The objects of the items: an item itself, or the items of a `v1/List`.

    Where the items stay (a kpt package), a List's file is kept as it is: its items are bases read
    in place (the List passes through untouched); splitting it would rewrite the user's file.
    """
    return [
        (member, file)
        for obj, file in zip(
            objs,
            files,
            strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
        )
        for member in (obj["items"] if is_list(obj) else [obj])
    ]


def _list_problems(obj: Mapping[str, Any], index: int, file: str) -> list[Result]:
    """A List's items must be objects too; a List in a List is refused rather than guessed at."""
    out = []
    for j, member in enumerate(obj["items"]):
        where = f"items[{index}].items[{j}]"
        problem = _shape_problem(member, j, file, where)
        if problem is None and is_list(member):
            problem = Result(
                f"{where}: a List inside a List; make its objects items of the outer one",
                resource=ResourceRef.of(member),
                file=file,
            )
        if problem is not None:
            out.append(problem)
    return out


def _pin_in_place(objs: list[dict[str, Any]], config: TenantsConfig, files: list[str]) -> Outcome:
    out = Outcome([])
    for obj, file in zip(
        objs,
        files,
        strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
    ):
        if is_list(obj):
            # a kpt file holding a List: its workloads are pinned where they are
            pinned = _pin_in_place(obj["items"], config, [file] * len(obj["items"]))
            out.results.extend(pinned.results)
            obj = {**obj, "items": pinned.items}
        # an object without a name is not the function's business, here as in every mode
        elif ray.is_ray_workload(obj) and metadata_of(obj).get("name") and config.spot.enabled:
            obj, found = apply_spot(obj, config.spot)
            out.results.extend(r.at(file=file, index=index_of(obj)) for r in found)
        out.items.append(obj)
    return out


def _expand_tenants(
    objs: list[dict[str, Any]],
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None,
    files: list[str],
    roles: Roles | None,
) -> tuple[Outcome, list[dict[str, Any]]]:
    """The output items and the bases they were copied from."""
    out = Outcome([])  # pragma: no mutate (equivalent: out.items is set below before it is read)
    is_fn_config = [function_config is not None and same_object(o, function_config) for o in objs]
    fn_config_ids = {
        id(o)
        for o, fc in zip(
            objs,
            is_fn_config,
            strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
        )
        if fc
    }
    if roles is None:
        owned = [owner_tenant(o) is not None or is_shared(o) for o in objs]
    else:
        owned = [id(o) in roles.owned for o in objs]
        out.results.extend(roles.results)
    passed = roles.passed if roles is not None else {}
    declared = {**declared_scopes(m for m, _ in members(objs, files)), **config.kind_scopes}
    bases: list[tuple[dict[str, Any], str]] = []
    theirs: list[tuple[dict[str, Any], str]] = []  # the tenants' own objects (own_tenant)
    for obj, file in members(objs, files):
        if id(obj) in fn_config_ids or not is_copyable(obj) or routing.is_gateway(obj):
            continue  # a Gateway is the shared one the tenant routes attach to
        if id(obj) in passed:
            if (placement := passed[id(obj)]) is not None:
                out.results.append(placement)
            _note_own(out, obj, own_tenant(obj, config, file))
            continue
        if (tenant := own_tenant(obj, config)) is not None:
            # an object in a tenant's namespace is the tenant's own, never a template for the others
            _note_own(out, obj, tenant)
            theirs.append((obj, file))
            continue
        scope = scope_of(obj, declared)
        if scope is None:
            out.results.append(_unknown_scope(obj, file))
        elif scope:
            bases.append((obj, file))
    base_ids = {id(b) for b, _ in bases}
    out.results.extend(_clashes(theirs, bases))
    # a package keeps the bases in their files; a stream (kustomize, render) has the copies instead
    bases_stay = roles is not None and roles.bases_stay
    out.items = [
        _pin_own(o, out, config, file)
        for o, file, fc, mine in zip(objs, files, is_fn_config, owned, strict=True)
        if not mine and (bases_stay or fc or id(o) not in base_ids)
    ]
    workloads = [b for b, _ in bases if ray.is_ray_workload(b)]
    targets: dict[int, routing.HeadTarget] = {}
    for base, file in bases:
        if routing.is_route(base):
            target, found = routing.find_route_target(base, workloads)
            out.results.extend(r.at(file=file) for r in found)
            if target is not None:
                targets[id(base)] = target
    # keep going after errors: every problem is reported in one run (the items are then discarded)
    out.results.extend(_unmatched_patches(config, [b for b, _ in bases]))
    gateway_api = _gateway_api(objs, bases, config)
    if config.output == "overlays":
        overlays = _overlays(out, objs, files, bases, targets, config, function_config, gateway_api)
        return overlays, [b for b, _ in bases]
    routes: list[tuple[dict[str, Any], Tenant]] = []
    policies = []
    for tenant in config.tenants:
        namespace = _namespace(tenant, gateway_api)
        out.add(namespace, tenant)
        copies = []
        for base, file in bases:
            copy, found = _tenant_copy(base, tenant, config, targets.get(id(base)))
            out.results.extend(r.at(file=file) for r in found)
            out.results.extend(_admission(copy, namespace, gateway_api, file))
            out.add(copy, tenant)
            copies.append(copy)
            if id(base) in targets:
                routes.append((copy, tenant))
        policies.append(_isolate(out, tenant, config, function_config, copies, targets))
    out.results.extend(_route_overlaps(routes, config))
    _gateway_objects(out, config, policies)
    return out, [b for b, _ in bases]


class _GatewayApi(Record):
    """With HTTPRoute bases: the Namespace label listeners select, and the Gateways among the inputs."""

    _fields = __slots__ = ("label", "gateways")

    def __init__(self, label: tuple[str, str], gateways: list[dict[str, Any]]) -> None:
        self.label = label
        self.gateways = gateways


def _gateway_api(
    objs: list[dict[str, Any]], bases: list[tuple[dict[str, Any], str]], config: TenantsConfig
) -> _GatewayApi | None:
    if not any(routing.is_http_route(b) for b, _ in bases):
        return None
    return _GatewayApi(config.route_label, [o for o in objs if routing.is_gateway(o)])


def _admission(
    copy: Mapping[str, Any], namespace: Mapping[str, Any], gateway_api: _GatewayApi | None, file: str
) -> list[Result]:
    """A Gateway among the inputs must admit each tenant's HTTPRoute (a listener that selects it)."""
    if gateway_api is None or not gateway_api.gateways or not routing.is_http_route(copy):
        return []
    labels = namespace["metadata"]["labels"]
    return [
        Result(why, resource=ResourceRef.of(copy), field=f"spec.parentRefs[{i}]", file=file)
        for i, why in routing.listener_problems(copy, labels, gateway_api.gateways)
    ]


def own_tenant(obj: Mapping[str, Any], config: TenantsConfig, file: str = "") -> Tenant | None:
    """The tenant an object of a user's own belongs to, None for no tenant.

    The tenant whose namespace its `metadata.namespace` names; with no namespace, the tenant
    whose folder of the output folder (`<outputDir>/<tenant>/`, in a kpt package) holds `file`.
    """
    by_name = {t.name: t for t in config.tenants}
    namespace = metadata_of(obj).get("namespace")
    if namespace:
        return by_name.get(namespace) if isinstance(namespace, str) else None
    folder = tenant_folder(file, config.output_dir) if file and inside(file, config.output_dir) else None
    return by_name.get(folder) if folder is not None else None


def _clashes(
    theirs: Sequence[tuple[Mapping[str, Any], str]], bases: Sequence[tuple[Mapping[str, Any], str]]
) -> list[Result]:
    """A tenant's own object and the tenant's copy of a base would be two objects of one name."""
    files = {(group_of(b), b.get("kind"), metadata_of(b).get("name")): f for b, f in bases}
    out = []
    for obj, file in theirs:
        base_file = files.get((group_of(obj), obj.get("kind"), metadata_of(obj).get("name")))
        if base_file is not None:
            ref = ResourceRef.of(obj)
            out.append(
                Result(
                    f"{ref.label()}: tenant {ref.namespace!r} has this object of its own, and the copy of "
                    f"the base {ref.kind}/{ref.name} ({base_file or 'the inputs'}) would be a second "
                    "one of that name in its namespace; rename one of them",
                    resource=ref,
                    field="metadata.name",
                    file=file,
                )
            )
    return out


def _note_own(out: Outcome, obj: Mapping[str, Any], tenant: Tenant | None) -> None:
    """Remember a Ray workload that passes through: it is pinned with its tenant's placement."""
    if ray.is_ray_workload(obj) and metadata_of(obj).get("name"):
        out.own[id(obj)] = tenant


def _pin_own(obj: dict[str, Any], out: Outcome, config: TenantsConfig, file: str) -> dict[str, Any]:
    """The item with its tenant's Spot placement if it is a Ray workload passing through.

    Every worker group is pinned, bases and a user's own workloads alike; a tenant with `spot:
    false` keeps its own as they are. A kpt file holding a List stays whole, its members pinned.
    """
    if is_list(obj):
        if not any(id(m) in out.own for m in obj["items"]):
            return obj
        return {**obj, "items": [_pin_own(m, out, config, file) for m in obj["items"]]}
    if id(obj) not in out.own:
        return obj
    tenant = out.own[id(obj)]
    if not config.spot.enabled or (tenant is not None and not tenant.spot):
        return obj
    pinned, found = apply_spot(obj, config.spot)
    out.results.extend(r.at(file=file, index=index_of(obj)) for r in found)
    return pinned


def _isolate(
    out: Outcome,
    tenant: Tenant,
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None,
    copies: list[dict[str, Any]],
    targets: Mapping[int, routing.HeadTarget],
) -> tuple[dict[str, Any] | None, Tenant]:
    """Add the tenant's isolation objects (krm_fn.isolation) after its copies; its gateway policy."""
    marks = {MANAGED_BY: MANAGER, TENANT_LABEL: tenant.name}
    ports = {t.port for t in targets.values()}
    objs, found = isolation.tenant_objects(tenant, config.access, copies, ports, marks)
    for obj in objs:
        out.add(obj, tenant)
    config_file = path_of(function_config) if function_config else ""
    out.results.extend(r.at(config.ref, config_file) for r in found)
    return isolation.gateway_policy(tenant, config.access, copies, marks), tenant


def _gateway_objects(
    out: Outcome, config: TenantsConfig, policies: list[tuple[dict[str, Any] | None, Tenant]]
) -> list[dict[str, Any]]:
    """Add the objects of the gateway's namespace: the shared ones while a tenant needs them, then each tenant's."""
    mine = [(p, t) for p, t in policies if p is not None]
    objs = isolation.shared_gateway_objects(config.access, bool(mine), {MANAGED_BY: MANAGER})
    for obj in objs:
        out.add_shared(obj)
    for policy, _ in mine:
        out.add_shared(policy)
        objs.append(policy)
    return objs


def _unknown_scope(obj: Mapping[str, Any], file: str) -> Result:
    group, kind, name = group_of(obj), obj.get("kind"), metadata_of(obj).get("name")
    if not group:  # every core kind is known: this one is a typo or a kind Kubernetes does not have
        how = f"the core group has no kind {kind!r}"
    else:
        how = (
            f"the function does not know whether {obj.get('apiVersion')} {kind} is namespaced (copied "
            "into each tenant) or cluster-scoped (passed through); add its CustomResourceDefinition to "
            f"the inputs, or declare it in the tenant spec: spec.kindScopes: {{{group}/{kind}: Namespaced}} "
            "(or Cluster)"
        )
    return Result(f"{kind}/{name}: {how}", resource=ResourceRef.of(obj), field="kind", file=file)


def _overlays(
    out: Outcome,
    objs: list[dict[str, Any]],
    files: list[str],
    bases: list[tuple[dict[str, Any], str]],
    targets: dict[int, routing.HeadTarget],
    config: TenantsConfig,
    function_config: Mapping[str, Any] | None,
    gateway_api: _GatewayApi | None,
) -> Outcome:
    """Per tenant its Namespace and a kustomization patching the bases into its copies.

    The front end places them in `<outputDir>/<tenant>/` in kpt and standalone alike: the overlay
    refers to the bases by their files, relative to its own.
    """
    # the patch builder is this mode's own module (it pulls in jsonpatch)
    from krm_fn.overlays import is_kustomization_file, patches

    refs = [patches.Base(b, f) for b, f in bases]
    kustomizations = [
        patches.Base(o, f)
        for o, f in zip(
            objs,
            files,
            strict=True,  # pragma: no mutate (equivalent: the lists are of one length by construction)
        )
        if is_kustomization_file(f)
    ]
    kustomizations = _base_kustomizations(out, refs, kustomizations, config)
    out.results.extend(patches.check_bases(refs, kustomizations, config.output_dir))
    routes: list[tuple[dict[str, Any], Tenant]] = []
    policies = []
    for tenant in config.tenants:
        namespace = _namespace(tenant, gateway_api)
        out.add(namespace, tenant)
        pairs = []
        for ref in refs:
            copy, found = _tenant_copy(ref.obj, tenant, config, targets.get(id(ref.obj)))
            out.results.extend(r.at(file=ref.file) for r in found)
            out.results.extend(_admission(copy, namespace, gateway_api, ref.file))
            pairs.append((ref, copy))
            if id(ref.obj) in targets:
                routes.append((copy, tenant))
        before = len(out.items)
        policies.append(_isolate(out, tenant, config, function_config, [c for _, c in pairs], targets))
        if not out.failed:  # a patch is only computed from copies that are right
            added = [generated_file_name(o) for o in out.items[before:]]
            kust = patches.kustomization(tenant, pairs, config.output_dir, added)
            out.add(kust, tenant)
    out.results.extend(_route_overlaps(routes, config))
    gateway = _gateway_objects(out, config, policies)
    if gateway and not out.failed:
        # an overlay of its own: a tenant's `namespace:` would move these into the tenant namespace
        out.add_shared(patches.resources_kustomization([generated_file_name(o) for o in gateway]))
    return out


def _base_kustomizations(
    out: Outcome, refs: list[Base], kustomizations: list[Base], config: TenantsConfig
) -> list[Base]:
    """The bases' kustomizations: the user's as they are, the function's own written anew.

    A base folder with no kustomization of the user's gets one from the function, at
    `<folder>/kustomization.yaml`, listing exactly its base files; one it wrote before is
    replaced by it (or dropped, with nothing left to list).
    """
    from krm_fn.overlays import patches

    own = {id(k.obj) for k in kustomizations if is_own_base_kustomization(k.obj, k.file)}
    users = [k for k in kustomizations if id(k.obj) not in own]
    made = patches.missing_kustomizations(refs, users, config.output_dir)
    out.items = [o for o in out.items if id(o) not in own]
    out.items.extend(placed(clone(k.obj), k.file, 0) for k in made)
    return [*users, *made]


def _route_overlaps(routes: list[tuple[dict[str, Any], Tenant]], config: TenantsConfig) -> list[Result]:
    """The tenants' routes overlap nowhere, by the check's rule: the spec's prefixes do not, but a
    base match with `ignoreUriCase` makes `/Team/` and `/team/` take each other's traffic."""
    return [
        Result(
            f"the route of tenant {routes[o.index][1].name!r}: {o.finding.message}",
            resource=config.ref,
            field=f"{routes[o.index][1].field}.pathPrefix",
        )
        for o in routing.route_overlaps([r for r, _ in routes])
    ]


def _tenant_copy(
    base: Mapping[str, Any],
    tenant: Tenant,
    config: TenantsConfig,
    target: routing.HeadTarget | None,
) -> tuple[dict[str, Any], list[Result]]:
    """The tenant's copy of one base: patched, moved to its namespace, routed and pinned."""
    copy = without_placement(base)
    results: list[Result] = []
    by_patches: list[routing.RouteFinding] = []  # route findings already told as the patches'
    for patch in tenant.patches:
        if patch.kind == copy.get("kind") and patch.name == metadata_of(base).get("name"):
            # imported here: most specs have no patches, and every call pays for its imports
            from krm_fn.patching import apply_ops

            before = clone(copy) if target is not None else None
            copy, failed, why = apply_ops(copy, patch.ops)
            if failed is not None:
                return copy, [
                    Result(
                        f"patch for {patch.kind}/{patch.name} of tenant {tenant.name!r} does not apply: {why}",
                        field=f"{patch.field}.patch[{failed}]",
                        resource=config.ref,
                    )
                ]
            shape = _patched_shape_problem(copy, base, routing.is_route(base))
            if shape:
                # the copy cannot be read past this; keep the base so later steps see a whole object
                return without_placement(base), [
                    Result(
                        f"patch for {patch.kind}/{patch.name} of tenant {tenant.name!r}: {shape}",
                        field=f"{patch.field}.patch",
                        resource=config.ref,
                    )
                ]
            if before is not None and target is not None:
                # the tenant's route after this patch, by the rule the check verifies routes with
                made = routing.patch_findings(before, copy, base, target, tenant, config)
                by_patches.extend(made)
                results.extend(
                    Result(
                        f"patch for {patch.kind}/{patch.name} of tenant {tenant.name!r}: "
                        f"{ray.dotted(f.path)}: {f.message}",
                        field=f"{patch.field}.patch",
                        resource=config.ref,
                    )
                    for f in made
                )
    old = copy.get("metadata") or {}
    # name and namespace first, as people write them
    meta = copy["metadata"] = {"name": old.get("name"), "namespace": tenant.name, **old}
    meta["namespace"] = tenant.name
    meta["labels"] = {
        **(meta.get("labels") or {}),
        MANAGED_BY: MANAGER,
        TENANT_LABEL: tenant.name,
    }
    if target is not None:
        results.extend(routing.route_copy(copy, target, tenant, config))
        results.extend(
            Result(f.message, resource=ResourceRef.of(copy), field=ray.dotted(f.path))
            for f in routing.verify_copy(copy, base, target, tenant, config)
            if f not in by_patches
        )
    if ray.is_ray_workload(copy):
        problem = ray.name_problem(str(copy.get("kind")), str(meta.get("name")))
        if problem:  # a patch cannot rename the copy: the name is the base's
            results.append(Result(problem, resource=ResourceRef.of(base), field="metadata.name"))
        results.extend(r.at(ResourceRef.of(base)) for r in isolation.secure_workload(copy, config.access))
        if tenant.spot and config.spot.enabled:
            copy, found = apply_spot(copy, config.spot)
            results.extend(found)
    return copy, results


def _patched_shape_problem(copy: Any, base: Mapping[str, Any], routed: bool) -> str | None:
    """What a tenant's patch broke that the copy's next steps read, or None.

    The identity (apiVersion, kind, a name), metadata and its labels and annotations, the spec
    the route is written into, and the Ray workload's cluster spec and worker groups.
    """
    if not isinstance(copy, dict):
        return f"the result is {describe(copy)}, not a Kubernetes object (a mapping)"
    for key in ("apiVersion", "kind"):
        if not isinstance(copy.get(key), str) or not copy[key]:
            return f"{key} is {describe(copy.get(key))}; expected a string"
    meta = copy.get("metadata")
    if not isinstance(meta, dict):
        return (
            "the patch removed metadata"
            if meta is None
            else f"metadata is {describe(meta)}; expected a mapping"
        )
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        return f"metadata.name is {describe(meta.get('name'))}; expected a string"
    base_meta = metadata_of(base)
    for key in ("name", "namespace"):
        if meta.get(key) != base_meta.get(key):
            was = f"from {base_meta[key]!r} " if base_meta.get(key) is not None else ""
            return (
                f"metadata.{key}: changed {was}to {meta.get(key)!r}; a tenant's copy keeps its "
                "base's name, in the tenant's namespace (a patch cannot rename or move it)"
            )
    for key in ("labels", "annotations"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            return f"metadata.{key} is {describe(meta[key])}; expected a mapping"
    if routed and copy.get("spec") is not None and not isinstance(copy["spec"], dict):
        return f"spec is {describe(copy['spec'])}; expected a mapping"
    if ray.is_ray_workload(copy):
        before = {path for path, _ in ray.shape_problems(base)}
        for path, message in ray.shape_problems(copy):
            if path not in before:
                return f"{ray.dotted(path)}: {message}"
    return None


def _namespace(tenant: Tenant, gateway_api: _GatewayApi | None = None) -> dict[str, Any]:
    access = dict([gateway_api.label]) if gateway_api is not None else {}
    ns: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": tenant.name,
            "labels": {
                **tenant.namespace_labels,
                **access,
                MANAGED_BY: MANAGER,
                TENANT_LABEL: tenant.name,
            },
        },
    }
    return ns


def _unmatched_patches(config: TenantsConfig, bases: list[dict[str, Any]]) -> list[Result]:
    known = {(b.get("kind"), metadata_of(b).get("name")) for b in bases}
    return [
        Result(
            f"target {p.kind}/{p.name} matches no base object "
            f"(bases: {', '.join(sorted(f'{k}/{n}' for k, n in known)) or 'none'})",
            resource=config.ref,
            field=f"{p.field}.target",
        )
        for t in config.tenants
        for p in t.patches
        if (p.kind, p.name) not in known
    ]


def _shape_problem(obj: Any, index: int, file: str, where: str = "") -> Result | None:
    """Items must be mappings; metadata must be usable where the function would read it.

    An object with no apiVersion, kind or name (a kustomization.yaml kpt read as an item) is not
    the function's business: it passes through untouched. A named object without apiVersion or
    kind is a broken manifest: it is reported, not passed on to fail at apply time.
    """
    where = where or f"items[{index}]"
    if not isinstance(obj, dict):
        return Result(f"{where}: expected a Kubernetes object (a mapping), got {describe(obj)}", file=file)
    meta = obj.get("metadata")
    missing = [k for k in ("apiVersion", "kind") if not isinstance(obj.get(k), str) or not obj.get(k)]
    if missing and isinstance(meta, dict) and meta.get("name"):
        return Result(
            f"{where}: missing {' and '.join(missing)}",
            resource=ResourceRef.of(obj),
            field=missing[0],
            file=file,
        )
    if meta is None or missing:
        return None
    if not isinstance(meta, dict):
        return Result(
            f"{where}: metadata must be a mapping", resource=ResourceRef.of(obj), field="metadata", file=file
        )
    for key in ("labels", "annotations"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            return Result(
                f"{where}: metadata.{key} must be a mapping",
                resource=ResourceRef.of(obj),
                field=f"metadata.{key}",
                file=file,
            )
    return None


def _path(obj: Any) -> str:
    return path_of(obj) if isinstance(obj, Mapping) else ""
