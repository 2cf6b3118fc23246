"""Properties of the KRM function over generated ResourceLists and tenant specs.

Whatever the items and the spec: exit 0 with no error result, or exit 1 with error results and the
input items unchanged; never a traceback, never an empty item list, never an item the function
does not own missing or changed. Where kpt runs it (items carry paths), a second run changes
nothing. Example counts are fixed here (CI: HYPOTHESIS_PROFILE=ci) so the suite's cost is known.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krm_fn import config, krm
from krm_fn.results import FnError
from tests.conftest import REPO
from tests.krm.test_hostile import assert_contract

LOCAL_CONFIG = "config.kubernetes.io/local-config"
CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
EXAMPLES = 400 if CI else 100
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NAMES = st.sampled_from(
    ["mlops", "research", "team-a", "a", "x" * 64, "Caps", "ml\u043eps", "kube-system", ""]
)
# names a tenant may have (README: a DNS-1123 label, not `default` or `kube-*`), drawn apart from
# the invalid ones so that a property about valid specs asserts on every example
VALID_NAMES = st.one_of(
    st.sampled_from(["mlops", "research", "team-a", "a", "x" * 63, "t0", "0t"]),
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z").filter(
        lambda n: n != "default" and not n.startswith("kube-")
    ),
)
# where the function keeps its own marks and what makes an object tool configuration, per README
MANAGED_BY = ("app.kubernetes.io/managed-by", "ray-tenants")
TOOL_GROUPS = {"kpt.dev", "kustomize.config.k8s.io", "config.kubernetes.io", "fn.ray-tenants.dev"}
CLUSTER_SCOPED_KINDS = {"Namespace"}  # the only cluster-scoped kind the generator makes
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["yes", "0.0.0.0", "2.52.0", "~", "null", "*x", "&a", "- a", "a: b", "#c", "'", '"']),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
API_KINDS = st.sampled_from(
    [
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("ray.io/v1", "RayCluster"),
        ("ray.io/v1", "RayJob"),
        ("ray.io/v1", "RayService"),
        ("networking.istio.io/v1", "VirtualService"),
        ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
        ("kpt.dev/v1", "Kptfile"),
        (config.API_VERSION, config.KIND),
    ]
)


@st.composite
def worker_groups(draw: st.DrawFn) -> list[Any]:
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {"groupName": st.sampled_from(["cpu", "gpu", "x"]), "template": st.just({"spec": {}})},
                optional={"replicas": st.integers(0, 3), "rayStartParams": VALUES},
            ),
            max_size=3,
        )
    )


@st.composite
def objects(draw: st.DrawFn, kpt: bool) -> Any:
    """A Kubernetes-looking object, sometimes broken in one place."""
    api, kind = draw(API_KINDS)
    meta: dict[str, Any] = {}
    if draw(st.booleans()):
        meta["name"] = draw(st.one_of(st.sampled_from(["raycluster", "ray-dashboard", "web"]), SCALARS))
    if draw(st.booleans()):
        meta["labels"] = draw(
            st.dictionaries(st.sampled_from(["app", "tier"]), st.text(max_size=5), max_size=2)
        )
    notes: dict[str, Any] = {}
    if kpt:
        notes["config.kubernetes.io/path"] = f"{draw(st.sampled_from(['base', 'other']))}/{kind.lower()}.yaml"
        notes["internal.config.kubernetes.io/id"] = str(draw(st.integers(0, 99)))
    if draw(st.booleans()):
        notes[LOCAL_CONFIG] = "true"
    if notes:
        meta["annotations"] = notes
    obj: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": meta}
    if kind.startswith("Ray"):
        obj["spec"] = {"headGroupSpec": {"template": {"spec": {}}}, "workerGroupSpecs": draw(worker_groups())}
    elif kind == "VirtualService":
        obj["spec"] = {
            "hosts": ["ray.example.com"],
            "gateways": ["asm-ingress/gw"],
            "http": [
                {"route": [{"destination": {"host": draw(st.sampled_from(["raycluster-head-svc", "x"]))}}]}
            ],
        }
    elif draw(st.booleans()):
        obj["data"] = draw(VALUES)
    breakage = draw(st.sampled_from([None] * 6 + ["apiVersion", "kind", "metadata", "spec", "not-an-object"]))
    if breakage == "not-an-object":
        return draw(SCALARS)
    if breakage is not None:
        obj[breakage] = draw(st.one_of(st.none(), SCALARS, st.lists(SCALARS, max_size=2)))
    return obj


@st.composite
def tenant_specs(draw: st.DrawFn) -> Any:
    """A RayTenants spec, the ConfigMap form, or something that is neither."""
    form = draw(st.sampled_from(["typed"] * 6 + ["configmap", "garbage", "none"]))
    if form == "none":
        return None
    if form == "garbage":
        return draw(VALUES)
    if form == "configmap":
        data = {"tenants": ",".join(draw(st.lists(NAMES, max_size=3)))}
        if draw(st.booleans()):
            data["nodePools"] = draw(st.sampled_from(["cpu=spot-cpu", "cpu", "=x"]))
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"}, "data": data}
    tenant = st.fixed_dictionaries(
        {"name": NAMES},
        optional={
            "pathPrefix": st.sampled_from(["/a/", "/a/b/", "/", "a", "/ml\u043eps/"]),
            "namespaceLabels": st.one_of(st.just({"istio-injection": "enabled"}), SCALARS),
            "spot": st.one_of(st.booleans(), SCALARS),
            "patches": st.one_of(
                st.just(
                    [
                        {
                            "target": {"kind": "RayCluster", "name": "raycluster"},
                            "patch": [
                                {"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}
                            ],
                        }
                    ]
                ),
                SCALARS,
            ),
        },
    )
    spec: dict[str, Any] = {"tenants": draw(st.one_of(st.lists(tenant, max_size=4), SCALARS))}
    if draw(st.booleans()):
        spec["routing"] = {"hosts": draw(st.one_of(st.just(["ray.example.com"]), SCALARS))}
    if draw(st.booleans()):
        spec["spot"] = draw(st.one_of(st.just({"provider": "gke", "nodePools": {"cpu": "spot-cpu"}}), VALUES))
    return {
        "apiVersion": config.API_VERSION,
        "kind": config.KIND,
        "metadata": {"name": "tenants", "annotations": {LOCAL_CONFIG: "true"}},
        "spec": spec,
    }


def _dump(doc: Any) -> bytes:
    return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True).encode()


def _run(raw: bytes) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(raw), out, err)
    return code, yaml.load(out.getvalue(), Loader=yaml.CSafeLoader), err.getvalue()


def _owned(obj: dict[str, Any]) -> bool:
    """Whether the object carries the function's own marks (README: managed-by and tenant)."""
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return isinstance(labels, dict) and labels.get(MANAGED_BY[0]) == MANAGED_BY[1]


def _is_base(obj: dict[str, Any]) -> bool:
    """README, "What counts as a base", decided here from the object alone."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    notes = metadata.get("annotations")
    notes = notes if isinstance(notes, dict) else {}
    api, kind, name = obj.get("apiVersion"), obj.get("kind"), metadata.get("name")
    return (
        isinstance(api, str)
        and isinstance(kind, str)
        and isinstance(name, str)
        and name != ""
        and kind not in CLUSTER_SCOPED_KINDS
        and str(notes.get(LOCAL_CONFIG, "")).lower() != "true"
        and not ("/" in api and api.split("/")[0] in TOOL_GROUPS)
        and not _owned(obj)
    )


def _kept(obj: Any, has_tenants: bool, kpt: bool) -> bool:
    """Whether an input item must come out exactly as it went in, on success."""
    if not isinstance(obj, dict) or _owned(obj):
        return False
    if kpt or not has_tenants:
        return not (not has_tenants and str(obj.get("kind")).startswith("Ray"))  # pinned in place
    return not _is_base(obj)


@SETTINGS
@given(data=st.data(), kpt=st.booleans())
def test_any_resource_list(data: st.DataObject, kpt: bool) -> None:
    items = data.draw(st.lists(objects(kpt), max_size=5))
    spec = data.draw(tenant_specs())
    doc: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if spec is not None:
        doc["functionConfig"] = spec
    raw = _dump(doc)
    code, out, stderr = _run(raw)
    assert_contract(raw, code, out, stderr)
    if code == 0:
        inputs = yaml.load(raw, Loader=yaml.CSafeLoader)["items"]
        if spec.get("kind") == config.KIND:
            tenants = bool(spec["spec"]["tenants"])
        else:  # the ConfigMap form: a comma list, where `tenants: ''` names none
            tenants = any(n.strip() for n in str((spec.get("data") or {}).get("tenants", "")).split(","))
        kept = [i for i in inputs if _kept(i, tenants, kpt)]
        for obj in kept:
            assert obj in out["items"], f"input item {obj} missing or changed"


# every example renders twice (it used to stop early on most): a quarter of the examples
@settings(SETTINGS, max_examples=EXAMPLES // 4)
@given(tenants=st.lists(VALID_NAMES, min_size=1, max_size=5, unique=True))
def test_second_kpt_run_changes_nothing(tenants: list[str]) -> None:
    """kpt fn render runs the pipeline on its own output: the result must be a fixed point.

    Every name is valid, so every example must render (a wrongly refused tenant fails here).
    """
    base = [
        yaml.safe_load((REPO / "base" / f).read_text()) for f in ("raycluster.yaml", "virtualservice.yaml")
    ]
    for index, obj in enumerate(base):
        obj["metadata"]["annotations"] = {"config.kubernetes.io/path": f"base/{index}.yaml"}
    spec = {
        "apiVersion": config.API_VERSION,
        "kind": config.KIND,
        "metadata": {"name": "tenants", "annotations": {"config.kubernetes.io/path": "tenants.yaml"}},
        "spec": {"tenants": [{"name": n} for n in tenants]},
    }
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [*base, spec],
        "functionConfig": spec,
    }
    code, first, stderr = _run(_dump(doc))
    assert code == 0, stderr
    namespaces = {o["metadata"]["name"] for o in first["items"] if o["kind"] == "Namespace"}
    assert namespaces == set(tenants)
    code, second, stderr = _run(_dump({**doc, "items": first["items"]}))
    assert code == 0, stderr
    assert second["items"] == first["items"]


@SETTINGS
@given(tenants=st.lists(NAMES, min_size=1, max_size=5, unique=True))
def test_an_invalid_tenant_name_is_refused_with_the_input_unchanged(tenants: list[str]) -> None:
    """The other side: a spec naming an invalid namespace is an error on that tenant's name."""
    valid = re.compile(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
    bad = [i for i, n in enumerate(tenants) if not valid.match(n) or n == "default" or n.startswith("kube-")]
    base = [
        yaml.safe_load((REPO / "base" / f).read_text()) for f in ("raycluster.yaml", "virtualservice.yaml")
    ]
    spec = {
        "apiVersion": config.API_VERSION,
        "kind": config.KIND,
        "metadata": {"name": "tenants"},
        "spec": {"tenants": [{"name": n} for n in tenants]},
    }
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": base,
        "functionConfig": spec,
    }
    code, out, _ = _run(_dump(doc))
    errors = {r["field"]["path"] for r in out.get("results") or [] if r["severity"] == "error"}
    if bad:
        assert code == 1
        assert {f"spec.tenants[{i}].name" for i in bad} <= errors
        assert out["items"] == base
    else:
        assert code == 0 and errors == set()


def _quadratic_overlaps(prefixes: list[str]) -> set[tuple[int, int, str]]:
    """The reference the linear overlap check replaced: every (earlier, later) pair compared."""
    return {
        (i, j, "is the same as" if a == b else "is nested in" if b.startswith(a) else "contains")
        for j, b in enumerate(prefixes)
        for i, a in enumerate(prefixes[:j])
        if a.startswith(b) or b.startswith(a)
    }


OVERLAP = re.compile(
    r"\A'(?P<b>[^']*)' (?P<how>is the same as|is nested in|contains) '(?P<a>[^']*)' of tenant "
    r"'t(?P<i>\d+)' \(spec\.tenants\[(?P=i)\]\): prefixes on one host must not overlap\Z"
)


@SETTINGS
@given(st.lists(st.lists(st.sampled_from(["a", "b", "ab", "a.b"]), min_size=1, max_size=3), max_size=8))
def test_prefix_overlaps_match_the_pairwise_reference(paths: list[list[str]]) -> None:
    prefixes = ["/" + "/".join(p) + "/" for p in paths]
    tenants = [{"name": f"t{i}", "pathPrefix": p} for i, p in enumerate(prefixes)]
    try:
        config.parse_config(
            {"apiVersion": config.API_VERSION, "kind": config.KIND, "spec": {"tenants": tenants}}
        )
        results = []
    except FnError as exc:
        results = exc.results
    found = set()
    for r in results:
        match = OVERLAP.match(r.message)
        assert match, r.message
        j = int(r.field.removeprefix("spec.tenants[").split("]")[0])
        assert r.field == f"spec.tenants[{j}].pathPrefix"
        i = int(match["i"])
        assert (match["a"], match["b"]) == (prefixes[i], prefixes[j])
        found.add((i, j, match["how"]))
    assert len(found) == len(results)  # each pair reported once
    assert found == _quadratic_overlaps(prefixes)
