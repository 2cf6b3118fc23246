"""Policy: Spot placement of Ray workers, the head off Spot, tenant routes, Ray names.

These are the rules the function itself follows when it generates a tenant; here they are checked
on whatever reaches the cluster: the function's output, or manifests written by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from krm_fn import items as it
from krm_fn import ray, routing, spot
from krm_fn.check.loader import Doc
from krm_fn.results import ResourceRef, Result
from krm_fn.spot import SpotSpec

Path = tuple[str | int, ...]
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


@dataclass(frozen=True)
class Target:
    """An object to check, the document its findings point at, and the identity they name."""

    obj: Mapping[str, Any]
    doc: Doc
    ref: ResourceRef

    def result(self, message: str, path: Path = (), severity: str = "error") -> Result:
        return self.doc.result(message, path, severity, self.ref)


# --------------------------------------------------------------------------------------------
# Provider presets. The Spot engine (krm_fn.spot) owns these; until it exports its helpers this
# local table mirrors its presets, and the getattr lookups below switch to the engine's own
# functions as soon as they exist, so the check and the injection can never disagree for long.


def _in(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "operator": "In", "values": [value]}


def _taint(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}


# provider -> (spot requirement, node pool label, tolerations the provider's spot nodes need)
LOCAL_PRESETS: Mapping[str, tuple[dict[str, Any], str, tuple[dict[str, Any], ...]]] = {
    "gke": (
        _in("cloud.google.com/gke-spot", "true"),
        "cloud.google.com/gke-nodepool",
        (_taint("cloud.google.com/gke-spot", "true"),),
    ),
    "eks": (_in("eks.amazonaws.com/capacityType", "SPOT"), "eks.amazonaws.com/nodegroup", ()),
    "karpenter": (_in("karpenter.sh/capacity-type", "spot"), "karpenter.sh/nodepool", ()),
    "aks": (
        _in("kubernetes.azure.com/scalesetpriority", "spot"),
        "kubernetes.azure.com/agentpool",
        (_taint("kubernetes.azure.com/scalesetpriority", "spot"),),
    ),
}
LOCAL_KNOWN_SPOT_REQUIREMENTS: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    name: (preset[0],) for name, preset in LOCAL_PRESETS.items()
}


def _local_requirements(spec: SpotSpec, group_name: str | None) -> list[dict[str, Any]]:
    preset = LOCAL_PRESETS.get(spec.provider)
    if preset is None:
        return []
    pool = spec.node_pools.get(group_name) if group_name is not None else None
    return [dict(preset[0]), *([_in(preset[1], pool)] if pool else [])]


def _local_tolerations(spec: SpotSpec, group_name: str | None) -> list[dict[str, Any]]:
    preset = LOCAL_PRESETS.get(spec.provider)
    pool = spec.node_pools.get(group_name) if group_name is not None else None
    return [
        *(dict(t) for t in (preset[2] if preset else ())),
        *([_taint(spec.taint_key, pool)] if pool and spec.taint_key else []),
    ]


spot_requirements: Callable[[SpotSpec, str | None], list[dict[str, Any]]] = getattr(
    spot, "spot_requirements", _local_requirements
)
spot_tolerations: Callable[[SpotSpec, str | None], list[dict[str, Any]]] = getattr(
    spot, "spot_tolerations", _local_tolerations
)
KNOWN_SPOT_REQUIREMENTS: Mapping[str, Sequence[Mapping[str, Any]]] = getattr(
    spot, "KNOWN_SPOT_REQUIREMENTS", LOCAL_KNOWN_SPOT_REQUIREMENTS
)
# node label -> the value that marks Spot (or preemptible: as short-lived) capacity
SPOT_LABELS: Mapping[str, str] = {
    **{str(r["key"]): str(r["values"][0]) for rs in KNOWN_SPOT_REQUIREMENTS.values() for r in rs},
    "cloud.google.com/gke-preemptible": "true",
}


def _targets(spec: SpotSpec, group_name: object) -> bool:
    targets = getattr(spec, "targets", None)
    return bool(targets(group_name)) if callable(targets) else spec.enabled


# --------------------------------------------------------------------------------------------
# Spot


def check_spot(target: Target, spec: SpotSpec | None) -> list[Result]:
    """Every worker group pinned to Spot as `spec` asks (any known provider without a spec)."""
    results: list[Result] = []
    for gpath, group in ray.worker_groups(target.obj):
        name = group.get("groupName")
        gname = name if isinstance(name, str) else None
        pod = _pod_spec(group)
        ppath: Path = (*gpath, "template", "spec")
        label = f"worker group {gname!r}" if gname else "a worker group"
        if spec is None:
            results.extend(_check_any_spot(target, pod, ppath, label))
            continue
        if not _targets(spec, gname):
            continue
        wanted = spot_requirements(spec, gname)
        if wanted:
            results.extend(_check_requirements(target, pod, ppath, label, wanted, spec.mode))
        for tol in spot_tolerations(spec, gname):
            if not any(_tolerates(have, tol) for have in _list(pod.get("tolerations"))):
                results.append(
                    target.result(
                        f"{label} lacks the toleration {_show_toleration(tol)}: its pods cannot "
                        "schedule on the tainted Spot nodes",
                        (*ppath, "tolerations"),
                    )
                )
    return results


def _check_requirements(
    target: Target,
    pod: Mapping[str, Any],
    ppath: Path,
    label: str,
    wanted: Sequence[Mapping[str, Any]],
    mode: str,
) -> list[Result]:
    selector = _mapping(pod.get("nodeSelector"))
    missing = [r for r in wanted if not _selector_satisfies(selector, r)]
    if not missing:
        return []
    affinity = _mapping(_mapping(pod.get("affinity")).get("nodeAffinity"))
    if mode == "preferred":
        prefs = _list(affinity.get(PREFERRED))
        if any(
            all(_term_has(_mapping(p.get("preference")), r) for r in missing)
            for p in prefs
            if isinstance(p, Mapping)
        ):
            return []
        return [
            target.result(
                f"{label} does not prefer Spot nodes: no preferred term holds {_show(missing)}",
                (*ppath, "affinity", "nodeAffinity", PREFERRED),
            )
        ]
    terms_path: Path = (*ppath, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms")
    terms = _list(_mapping(affinity.get(REQUIRED)).get("nodeSelectorTerms"))
    if not terms:
        return [
            target.result(
                f"{label} is not pinned to Spot: no required node affinity holds {_show(missing)}",
                (*ppath, "affinity"),
            )
        ]
    out = []
    for i, term in enumerate(terms):
        lacking = [r for r in missing if not _term_has(_mapping(term), r)]
        if lacking:
            out.append(
                target.result(
                    f"{label} is not pinned to Spot: required term {i} lacks {_show(lacking)} "
                    "(terms are ORed: through this one a pod can run on other nodes)",
                    (*terms_path, i),
                )
            )
    return out


def _check_any_spot(target: Target, pod: Mapping[str, Any], ppath: Path, label: str) -> list[Result]:
    if _selector_spot(_mapping(pod.get("nodeSelector"))):
        return []
    affinity = _mapping(_mapping(pod.get("affinity")).get("nodeAffinity"))
    terms = _list(_mapping(affinity.get(REQUIRED)).get("nodeSelectorTerms"))
    known = ", ".join(f"{k} In [{v}]" for k, v in SPOT_LABELS.items())
    if not terms:
        return [
            target.result(
                f"{label} is not pinned to Spot: no required node affinity on a Spot label ({known})",
                (*ppath, "affinity"),
            )
        ]
    terms_path: Path = (*ppath, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms")
    return [
        target.result(
            f"{label} is not pinned to Spot: required term {i} holds no Spot requirement ({known}); "
            "terms are ORed, so through this one a pod can run on on-demand nodes",
            (*terms_path, i),
        )
        for i, term in enumerate(terms)
        if not any(_is_spot(e) for e in _list(_mapping(term).get("matchExpressions")))
    ]


def check_head(target: Target) -> list[Result]:
    """The head must survive preemption: it must not be pinned to Spot nodes."""
    spec = ray.cluster_spec(target.obj)
    path = ray.cluster_spec_path(target.obj)
    head = _mapping(spec.get("headGroupSpec")) if spec else {}
    pod = _pod_spec(head)
    if path is None or not pod:
        return []
    ppath: Path = (*path, "headGroupSpec", "template", "spec")
    message = "the head is pinned to Spot nodes; a preemption would take the whole cluster down"
    if _selector_spot(_mapping(pod.get("nodeSelector"))):
        return [target.result(message, (*ppath, "nodeSelector"))]
    affinity = _mapping(_mapping(pod.get("affinity")).get("nodeAffinity"))
    terms = _list(_mapping(affinity.get(REQUIRED)).get("nodeSelectorTerms"))
    return [
        target.result(message, (*ppath, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms", i))
        for i, term in enumerate(terms)
        if any(_is_spot(e) for e in _list(_mapping(term).get("matchExpressions")))
    ]


def check_name(target: Target) -> list[Result]:
    """Ray workload names within KubeRay's limits."""
    name = it.meta(target.obj).get("name")
    problem = ray.name_problem(str(target.obj.get("kind")), str(name)) if isinstance(name, str) else None
    return [target.result(problem, ("metadata", "name"))] if problem else []


def _is_spot(expr: object) -> bool:
    if not isinstance(expr, Mapping):
        return False
    value = SPOT_LABELS.get(str(expr.get("key")))
    values = expr.get("values")
    return (
        value is not None
        and expr.get("operator") == "In"
        and isinstance(values, list)
        and bool(values)
        and all(str(v) == value for v in values)
    )


def _selector_spot(selector: Mapping[str, Any]) -> bool:
    return any(SPOT_LABELS.get(str(k)) == str(v) for k, v in selector.items())


def _selector_satisfies(selector: Mapping[str, Any], req: Mapping[str, Any]) -> bool:
    key = str(req.get("key"))
    if key not in selector:
        return False
    values = [str(v) for v in _list(req.get("values"))]
    return req.get("operator") == "Exists" or (req.get("operator") == "In" and str(selector[key]) in values)


def _term_has(term: Mapping[str, Any], req: Mapping[str, Any]) -> bool:
    """True when the term holds `req` or something narrower (In a subset of its values)."""
    for expr in _list(term.get("matchExpressions")):
        if not isinstance(expr, Mapping) or expr.get("key") != req.get("key"):
            continue
        op, want = expr.get("operator"), req.get("operator")
        have_values = {str(v) for v in _list(expr.get("values"))}
        want_values = {str(v) for v in _list(req.get("values"))}
        if want == "In" and op == "In" and have_values and have_values <= want_values:
            return True
        if want == op and have_values == want_values:
            return True
    return False


def _tolerates(have: object, want: Mapping[str, Any]) -> bool:
    if not isinstance(have, Mapping):
        return False
    if have.get("effect") not in (None, "", want.get("effect")):
        return False
    if have.get("operator") == "Exists":
        return have.get("key") in (None, "", want.get("key"))
    return have.get("key") == want.get("key") and str(have.get("value", "")) == str(want.get("value", ""))


def _show(exprs: Iterable[Mapping[str, Any]]) -> str:
    return " and ".join(
        f"{e.get('key')} {e.get('operator')} [{', '.join(str(v) for v in _list(e.get('values')))}]"
        for e in exprs
    )


def _show_toleration(tol: Mapping[str, Any]) -> str:
    value = f"={tol['value']}" if tol.get("value") else ""
    return f"{tol.get('key')}{value}:{tol.get('effect') or '*'}"


# --------------------------------------------------------------------------------------------
# Routing


def is_tenant_route(vs: Mapping[str, Any], heads: Mapping[str, set[str]]) -> bool:
    """A VirtualService that serves a Ray dashboard: generated by us, or routing to a head service."""
    if not routing.is_virtual_service(vs):
        return False
    if it.owner_tenant(vs) is not None:
        return True
    namespace = str(it.meta(vs).get("namespace") or "")
    for _, dest in _destinations(vs):
        service, ns = _service_of(dest.get("host"), namespace)
        if service and (service in heads.get(ns, set()) or service.endswith("-head-svc")):
            return True
    return False


def check_route(target: Target, heads: Mapping[str, set[str]]) -> list[Result]:
    """The two rules of a tenant's prefix: exact redirect, `/`-ended prefix rewritten to `/`."""
    vs = target.obj
    namespace = str(it.meta(vs).get("namespace") or "")
    http = _list(_mapping(vs.get("spec")).get("http"))
    out: list[Result] = []
    redirects = {
        (str(_mapping(m.get("uri")).get("exact")), str(_mapping(r.get("redirect")).get("uri")))
        for r in http
        if isinstance(r, Mapping)
        for m in _list(r.get("match"))
        if isinstance(m, Mapping) and "exact" in _mapping(m.get("uri"))
    }
    for i, rule in enumerate(http):
        if not isinstance(rule, Mapping):
            continue
        rpath: Path = ("spec", "http", i)
        matches = [m for m in _list(rule.get("match")) if isinstance(m, Mapping)]
        if "route" in rule and not any(_mapping(m.get("uri")) for m in matches):
            out.append(
                target.result(
                    "this rule matches every path on its hosts; a tenant owns only its prefix "
                    "(Istio orders VirtualServices on one host arbitrarily)",
                    (*rpath, "match"),
                )
            )
            continue
        for j, match in enumerate(matches):
            prefix = _mapping(match.get("uri")).get("prefix")
            if not isinstance(prefix, str):
                continue
            mpath: Path = (*rpath, "match", j, "uri", "prefix")
            if prefix == "/":
                out.append(target.result("prefix '/' catches every other tenant's traffic", mpath))
                continue
            if not prefix.endswith("/"):
                out.append(
                    target.result(
                        f"prefix {prefix!r} does not end in '/': it also matches {prefix + '-2/'!r} "
                        f"and sends '//api' upstream; use {prefix + '/'!r} with an exact redirect from {prefix!r}",
                        mpath,
                    )
                )
                continue
            exact = prefix.rstrip("/")
            if (exact, prefix) not in redirects:
                out.append(
                    target.result(
                        f"no redirect from {exact!r} to {prefix!r}: add a rule with "
                        f"`match: [{{uri: {{exact: {exact}}}}}]` and `redirect: {{uri: {prefix}}}` "
                        "(without it the dashboard at the bare path is a 404)",
                        rpath,
                    )
                )
            rewrite = _mapping(rule.get("rewrite")).get("uri")
            if rewrite != "/":
                out.append(
                    target.result(
                        f"expected `rewrite: {{uri: /}}` on prefix {prefix!r}, got {rewrite!r}: "
                        "the Ray dashboard and Jobs API answer at '/'",
                        (*rpath, "rewrite", "uri") if rewrite is not None else rpath,
                    )
                )
            out.extend(_check_destinations(target, rule, rpath, namespace, heads))
    return out


def _check_destinations(
    target: Target, rule: Mapping[str, Any], rpath: Path, namespace: str, heads: Mapping[str, set[str]]
) -> list[Result]:
    out = []
    for k, entry in enumerate(_list(rule.get("route"))):
        dest = _mapping(_mapping(entry).get("destination"))
        dpath: Path = (*rpath, "route", k, "destination")
        host = dest.get("host")
        service, ns = _service_of(host, namespace)
        if namespace and ns != namespace:
            out.append(
                target.result(
                    f"routes to {host!r} in namespace {ns!r}; a tenant's route must stay in its own "
                    f"namespace {namespace!r}",
                    (*dpath, "host"),
                )
            )
            continue
        known = heads.get(ns, set())
        if not service or (service not in known if known else not service.endswith("-head-svc")):
            what = f"one of {', '.join(sorted(known))}" if known else "a `<raycluster>-head-svc`"
            out.append(
                target.result(
                    f"routes to {host!r}, which is not the head service of a Ray workload in "
                    f"{namespace or 'its namespace'!s}; expected {what}",
                    (*dpath, "host"),
                )
            )
        port = _mapping(dest.get("port")).get("number")
        if port != ray.DASHBOARD_PORT:
            out.append(
                target.result(
                    f"expected the dashboard port {ray.DASHBOARD_PORT}, got {port!r}",
                    (*dpath, "port", "number") if port is not None else dpath,
                )
            )
    return out


def check_overlaps(routes: Sequence[Target]) -> list[Result]:
    """No two tenants' prefixes overlap on one host and gateway (merge order is undefined)."""
    by_key: dict[tuple[str, str], list[tuple[str, Target, Path]]] = {}
    for target in routes:
        spec = _mapping(target.obj.get("spec"))
        namespace = str(it.meta(target.obj).get("namespace") or "")
        gateways = [g for g in _list(spec.get("gateways")) if isinstance(g, str)] or ["mesh"]
        for i, rule in enumerate(_list(spec.get("http"))):
            for j, match in enumerate(_list(_mapping(rule).get("match"))):
                prefix = _mapping(_mapping(match).get("uri")).get("prefix")
                if not isinstance(prefix, str):
                    continue
                for host in _list(spec.get("hosts")):
                    for gateway in gateways:
                        full = gateway if "/" in gateway or gateway == "mesh" else f"{namespace}/{gateway}"
                        by_key.setdefault((str(host), full), []).append(
                            (prefix, target, ("spec", "http", i, "match", j, "uri", "prefix"))
                        )
    out: list[Result] = []
    seen: set[tuple[int, int]] = set()
    for (host, gateway), entries in sorted(by_key.items()):
        # sorted, every prefix directly follows the prefixes it extends: a stack finds nesting in n log n
        stack: list[tuple[str, Target, Path]] = []
        for prefix, target, path in sorted(entries, key=lambda e: e[0]):
            while stack and not prefix.startswith(stack[-1][0]):
                stack.pop()
            if stack and stack[-1][1] is not target and (id(stack[-1][1]), id(target)) not in seen:
                other_prefix, other, _ = stack[-1]
                seen.add((id(other), id(target)))
                how = "is the same as" if other_prefix == prefix else "is nested in"
                out.append(
                    target.result(
                        f"prefix {prefix!r} {how} {other_prefix!r} of {other.ref.label()} on host "
                        f"{host!r} and gateway {gateway!r}: Istio merges them in an undefined order",
                        path,
                    )
                )
            stack.append((prefix, target, path))
    return out


def _destinations(vs: Mapping[str, Any]) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for i, rule in enumerate(_list(_mapping(vs.get("spec")).get("http"))):
        for entry in _list(_mapping(rule).get("route")):
            yield i, _mapping(_mapping(entry).get("destination"))


def _service_of(host: object, namespace: str) -> tuple[str, str]:
    """(service, namespace) of a destination host; short names resolve in the VirtualService's."""
    if not isinstance(host, str) or not host:
        return "", namespace
    parts = host.split(".")
    return parts[0], parts[1] if len(parts) > 1 else namespace


def _pod_spec(group: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(group.get("template")).get("spec"))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
