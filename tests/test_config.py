"""The tenant spec: typed and ConfigMap forms, defaults, and every problem reported together."""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import parse_config
from krm_fn.results import FnError


def spec(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fn.ray-tenants.dev/v1alpha1",
        "kind": "RayTenants",
        "metadata": {"name": "t"},
        "spec": fields,
    }


def errors(obj: Any) -> dict[str, str]:
    with pytest.raises(FnError) as info:
        parse_config(obj, "tenants.yaml")
    assert all(r.file == "tenants.yaml" for r in info.value.results)
    return {r.field: r.message for r in info.value.results}


def test_defaults() -> None:
    config = parse_config(spec(tenants=[{"name": "ml"}]))
    (tenant,) = config.tenants
    assert (tenant.path_prefix, tenant.exact_path, tenant.spot) == ("/ml/", "/ml", True)
    assert (config.output, config.output_dir, config.hosts, config.gateways) == (
        "resources",
        "overlays",
        None,
        None,
    )
    assert config.cluster_domain == "cluster.local"
    assert config.spot.provider == "gke"


def test_configmap_form_as_kpt_eval_sends_it() -> None:
    config = parse_config(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "function-input"},
            "data": {
                "tenants": "a, b",
                "hosts": "ray.example.com",
                "gateways": "gw/one,gw/two",
                "output": "overlays",
                "outputDir": "tenants",
            },
        }
    )
    assert [t.name for t in config.tenants] == ["a", "b"]
    assert config.hosts == ("ray.example.com",)
    assert config.gateways == ("gw/one", "gw/two")
    assert (config.output, config.output_dir) == ("overlays", "tenants")


def test_configmap_problems_point_at_data_keys() -> None:
    found = errors(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "function-input"},
            "data": {"tenants": "a,A", "nodePools": "cpu", "output": "files", "extra": "x"},
        }
    )
    assert set(found) == {"data.tenants", "data.nodePools", "data.output", "data.extra"}
    assert "group=pool" in found["data.nodePools"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ml\u043eps", "not a namespace name"),  # a Cyrillic o
        ("a" * 64, "not a namespace name"),
        ("-a", "not a namespace name"),
        ("default", "system namespace"),
        ("kube-flow", "system namespace"),
    ],
)
def test_bad_tenant_names(name: str, why: str) -> None:
    assert why in errors(spec(tenants=[{"name": name}]))["spec.tenants[0].name"]


@pytest.mark.parametrize(
    "prefix", ["/", "mlops/", "/mlops", "/ml ops/", "/ml\u043eps/", "/a//", "/a/*/", "/a/?x=1/"]
)
def test_bad_prefixes(prefix: str) -> None:
    assert "spec.tenants[0].pathPrefix" in errors(spec(tenants=[{"name": "a", "pathPrefix": prefix}]))


def test_overlapping_prefixes_name_both_tenants() -> None:
    found = errors(
        spec(tenants=[{"name": "a", "pathPrefix": "/team/"}, {"name": "b", "pathPrefix": "/team/b/"}])
    )
    message = found["spec.tenants[1].pathPrefix"]
    assert "'/team/b/' is nested in '/team/'" in message and "spec.tenants[0]" in message


def test_sibling_prefixes_sharing_a_string_prefix_are_fine() -> None:
    """`/mlops/` and `/mlops-2/` do not overlap: prefixes end in a slash, so segments are whole."""
    config = parse_config(spec(tenants=[{"name": "mlops"}, {"name": "mlops-2"}]))
    assert [t.path_prefix for t in config.tenants] == ["/mlops/", "/mlops-2/"]


def test_wrong_types_everywhere_reported_together() -> None:
    found = errors(
        spec(
            tenants={"name": "a"},
            routing={"hosts": "ray.example.com", "gateways": [1]},
            output=3,
            outputDir="/abs",
            colour="red",
        )
    )
    assert set(found) == {
        "spec.tenants",
        "spec.routing.hosts",
        "spec.routing.gateways[0]",
        "spec.output",
        "spec.outputDir",
        "spec.colour",
    }


def test_patches_are_validated_as_rfc6902() -> None:
    found = errors(
        spec(
            tenants=[
                {
                    "name": "a",
                    "patches": [
                        {
                            "target": {"kind": "RayCluster", "name": "r"},
                            "patch": [{"op": "add", "path": "/x"}],
                        },
                        {
                            "target": {"kind": "RayCluster", "name": "r"},
                            "patch": [{"op": "move", "path": "/x"}],
                        },
                        {
                            "target": {"kind": "RayCluster", "name": "r"},
                            "patch": [{"op": "replace", "path": "x", "value": 1}],
                        },
                        {"target": {"kind": "RayCluster"}, "patch": "not a list"},
                    ],
                }
            ]
        )
    )
    assert found["spec.tenants[0].patches[0].patch[0]"] == "add needs a value"
    assert "from must be a JSON pointer" in found["spec.tenants[0].patches[1].patch[0]"]
    assert "path must be a JSON pointer" in found["spec.tenants[0].patches[2].patch[0]"]
    assert "spec.tenants[0].patches[3].target" in found and "spec.tenants[0].patches[3].patch" in found


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (None, "missing functionConfig"),
        (
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}},
            "unknown functionConfig Secret.v1",
        ),
        (
            {"apiVersion": "fn.ray-tenants.dev/v2", "kind": "RayTenants", "metadata": {"name": "x"}},
            "unsupported apiVersion",
        ),
    ],
)
def test_unusable_function_configs(obj: Any, message: str) -> None:
    with pytest.raises(FnError) as info:
        parse_config(obj)
    assert message in info.value.results[0].message


def test_labels_and_reserved_labels() -> None:
    found = errors(
        spec(
            tenants=[
                {
                    "name": "a",
                    "namespaceLabels": {
                        "fn.ray-tenants.dev/tenant": "b",
                        "bad key!": "x",
                        "ok": "not ok value!",
                        "istio-injection": "enabled",
                    },
                }
            ]
        )
    )
    assert set(found) == {
        "spec.tenants[0].namespaceLabels.fn.ray-tenants.dev/tenant",
        "spec.tenants[0].namespaceLabels.bad key!",
        "spec.tenants[0].namespaceLabels.ok",
    }
