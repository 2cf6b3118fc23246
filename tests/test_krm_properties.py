"""Properties of the KRM function over generated ResourceLists and tenant specs.

Whatever the items and the spec: exit 0 with no error result, or exit 1 with error results and the
input items unchanged; never a traceback, never an empty item list, never an item the function
does not own missing or changed. Where kpt runs it (items carry paths), a second run changes
nothing. Example counts are fixed here (CI: HYPOTHESIS_PROFILE=ci) so the suite's cost is known.
"""

from __future__ import annotations

import io
import os
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krm_fn import config, krm
from krm_fn.items import LOCAL_CONFIG, is_base, owner_tenant
from krm_fn.results import FnError
from tests.conftest import REPO
from tests.test_hostile import assert_contract

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


def _kept(obj: Any, has_tenants: bool, kpt: bool) -> bool:
    """Whether an input item must come out exactly as it went in, on success."""
    if not isinstance(obj, dict) or owner_tenant(obj) is not None:
        return False
    if kpt or not has_tenants:
        return not (not has_tenants and str(obj.get("kind")).startswith("Ray"))  # pinned in place
    return not is_base(obj)


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


@SETTINGS
@given(tenants=st.lists(NAMES, min_size=1, max_size=5, unique=True))
def test_second_kpt_run_changes_nothing(tenants: list[str]) -> None:
    """kpt fn render runs the pipeline on its own output: the result must be a fixed point."""
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
    code, first, _ = _run(_dump(doc))
    if code != 0:
        return  # an invalid name: the error cases are the other tests' concern
    code, second, _ = _run(_dump({**doc, "items": first["items"]}))
    assert code == 0
    assert second["items"] == first["items"]


def _quadratic_overlaps(prefixes: list[str]) -> list[tuple[int, int]]:
    """The reference the linear overlap check replaced: every (earlier, later) pair compared."""
    return [
        (i, j)
        for j, b in enumerate(prefixes)
        for i, a in enumerate(prefixes[:j])
        if a.startswith(b) or b.startswith(a)
    ]


@SETTINGS
@given(st.lists(st.lists(st.sampled_from(["a", "b", "ab", "a.b"]), min_size=1, max_size=3), max_size=8))
def test_prefix_overlaps_match_the_pairwise_reference(paths: list[list[str]]) -> None:
    prefixes = ["/" + "/".join(p) + "/" for p in paths]
    tenants = [{"name": f"t{i}", "pathPrefix": p} for i, p in enumerate(prefixes)]
    try:
        config.parse_config(
            {"apiVersion": config.API_VERSION, "kind": config.KIND, "spec": {"tenants": tenants}}
        )
        found = 0
    except FnError as exc:
        found = len(exc.results)
    assert found == len(_quadratic_overlaps(prefixes))
