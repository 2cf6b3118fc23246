"""The tenant spec's findings, whole: each problem is one error on its field, with its message,
on the spec object and its file; the ConfigMap form points at the `data.<key>` it came from.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import API_VERSION, KIND, parse_config
from krm_fn.results import FnError, ResourceRef, Result

FILE = "tenants.yaml"
REF = ResourceRef(API_VERSION, KIND, "tenants")
CM_REF = ResourceRef("v1", "ConfigMap", "fn")
LONG_KEY = f"{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 62}/k"  # a prefix of 254 characters: one too many


def typed(spec: Any, **top: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "tenants"}, "spec": spec, **top}


def problems(obj: Any) -> list[Result]:
    with pytest.raises(FnError) as caught:
        parse_config(obj, FILE)
    return list(caught.value.results)


def located(pairs: list[tuple[str, str]], ref: ResourceRef = REF) -> list[Result]:
    return [Result(message, resource=ref, field=field, file=FILE) for field, message in pairs]


@pytest.mark.parametrize("obj", [None, {}, [], "x"])
def test_missing_function_config(obj: Any) -> None:
    assert problems(obj) == [
        Result(f"missing functionConfig: expect {KIND} ({API_VERSION}) or ConfigMap (v1)", file=FILE)
    ]


def test_unsupported_version_of_the_spec() -> None:
    obj = {**typed({}), "apiVersion": "fn.ray-tenants.dev/v9"}
    ref = ResourceRef("fn.ray-tenants.dev/v9", KIND, "tenants")
    assert problems(obj) == located(
        [("apiVersion", f"unsupported apiVersion 'fn.ray-tenants.dev/v9'; expect {API_VERSION}")], ref
    )


@pytest.mark.parametrize(
    ("api", "kind"),
    [("example.com/v1", KIND), (API_VERSION, "Tenants"), (None, KIND), ("v1", "Secret"), ("v2", "ConfigMap")],
)
def test_unknown_function_config(api: Any, kind: str) -> None:
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "tenants"}}
    ref = ResourceRef(api if isinstance(api, str) else "", kind, "tenants")
    assert problems(obj) == located(
        [("kind", f"unknown functionConfig {kind}.{api}: expect {KIND}.{API_VERSION} or ConfigMap.v1")], ref
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("x", [("spec", "expected a mapping, got a string")]),
        (
            {"extra": 1},
            [
                (
                    "spec.extra",
                    "unknown field 'extra'; expected one of: tenants, routing, spot, output, outputDir, kindScopes, access, quota",
                )
            ],
        ),
        ({"routing": []}, [("spec.routing", "expected a mapping, got a list")]),
        (
            {"routing": {"host": "x"}},
            [
                (
                    "spec.routing.host",
                    "unknown field 'host'; expected one of: hosts, gateways, clusterDomain, parentRefs, namespaceLabel, hostTemplate",
                )
            ],
        ),
        ({"routing": {"hosts": "a"}}, [("spec.routing.hosts", "expected a list of strings, got a string")]),
        (
            {"routing": {"hosts": ["a", ""]}},
            [("spec.routing.hosts[1]", "expected a non-empty string, got a string")],
        ),
        (
            {"routing": {"gateways": [None]}},
            [("spec.routing.gateways[0]", "expected a non-empty string, got nothing")],
        ),
        (
            {"routing": {"clusterDomain": 5}},
            [("spec.routing.clusterDomain", "expected a string, got a number")],
        ),
        (
            {"routing": {"clusterDomain": "Not_DNS"}},
            [("spec.routing.clusterDomain", "'Not_DNS' is not a DNS name")],
        ),
        ({"routing": {"clusterDomain": ""}}, [("spec.routing.clusterDomain", "'' is not a DNS name")]),
        ({"output": "files"}, [("spec.output", "expected one of resources, overlays, got 'files'")]),
        ({"output": True}, [("spec.output", "expected a string, got a boolean")]),
        ({"outputDir": 5}, [("spec.outputDir", "expected a string, got a number")]),
        (
            {
                "tenants": [
                    {
                        "name": "a",
                        "patches": [
                            {"target": {"kind": "K", "name": 5}, "patch": [{"op": "remove", "path": "/a"}]}
                        ],
                    }
                ]
            },
            [
                ("spec.tenants[0].patches[0].target.name", "expected a string, got a number"),
                ("spec.tenants[0].patches[0].target", "required: kind and name of the base object to patch"),
            ],
        ),
        (
            {"tenants": [{"name": "a"}, {"name": "a"}, {"name": "Bad"}]},
            [
                ("spec.tenants[1].name", "duplicate tenant 'a' (also spec.tenants[0].name)"),
                (
                    "spec.tenants[2].name",
                    "'Bad' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
                ),
            ],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": {LONG_KEY: "v"}}]},
            [(f"spec.tenants[0].namespaceLabels.{LONG_KEY}", f"{LONG_KEY!r} is not a valid label name")],
        ),
        (
            {"tenants": [{"name": "ml\u043e\u0435\ue000"}]},
            [
                (
                    "spec.tenants[0].name",
                    "'ml\u043e\u0435\\ue000' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)"
                    "; it contains non-ASCII characters: '\u043e' U+043E CYRILLIC SMALL LETTER O, '\u0435' U+0435 "
                    "CYRILLIC SMALL LETTER IE, '\\ue000' U+E000 unnamed",
                ),
                (
                    "spec.tenants[0].pathPrefix",
                    "'/ml\u043e\u0435\\ue000/' must start and end with '/' and hold only ASCII letters, digits and '.', "
                    "'_', '~', '-' between slashes; it contains non-ASCII characters: '\u043e' U+043E CYRILLIC "
                    "SMALL LETTER O, '\u0435' U+0435 CYRILLIC SMALL LETTER IE, '\\ue000' U+E000 unnamed",
                ),
            ],
        ),
        (
            {"outputDir": "/abs"},
            [("spec.outputDir", "expected a relative folder inside the package, got '/abs'")],
        ),
        (
            {"outputDir": "a/../.."},
            [("spec.outputDir", "expected a relative folder inside the package, got 'a/../..'")],
        ),
        ({"outputDir": ""}, [("spec.outputDir", "expected a relative folder inside the package, got ''")]),
        (
            {"spot": {"provider": "gce"}},
            [("spec.spot.provider", "expected one of gke, eks, karpenter, aks, custom, none; got 'gce'")],
        ),
        ({"tenants": "a"}, [("spec.tenants", "expected a list of tenants, got a string")]),
        ({"tenants": ["a"]}, [("spec.tenants[0]", "expected a mapping, got a string")]),
        ({"tenants": [{}]}, [("spec.tenants[0].name", "required: the tenant's namespace name")]),
        ({"tenants": [{"name": 5}]}, [("spec.tenants[0].name", "expected a string, got a number")]),
        (
            {"tenants": [{"name": "a", "color": "red"}]},
            [
                (
                    "spec.tenants[0].color",
                    "unknown field 'color'; expected one of: name, pathPrefix, namespaceLabels, patches, spot, groups, quota, host",
                )
            ],
        ),
        (
            {"tenants": [{"name": "Team"}]},
            [
                (
                    "spec.tenants[0].name",
                    "'Team' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
                )
            ],
        ),
        (
            {"tenants": [{"name": "ml\u043eps"}]},
            [
                (
                    "spec.tenants[0].name",
                    "'ml\u043eps' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)"
                    "; it contains non-ASCII characters: '\u043e' U+043E CYRILLIC SMALL LETTER O",
                ),
                (  # the default prefix /<name>/ inherits the look-alike, and says so
                    "spec.tenants[0].pathPrefix",
                    "'/ml\u043eps/' must start and end with '/' and hold only ASCII letters, digits and '.', "
                    "'_', '~', '-' between slashes; it contains non-ASCII characters: '\u043e' U+043E "
                    "CYRILLIC SMALL LETTER O",
                ),
            ],
        ),
        (
            {"tenants": [{"name": "a" * 64}]},
            [
                (
                    "spec.tenants[0].name",
                    f"{'a' * 64!r} is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
                )
            ],
        ),
        (
            {"tenants": [{"name": "default"}]},
            [("spec.tenants[0].name", "'default' is a system namespace; a tenant needs its own")],
        ),
        (
            {"tenants": [{"name": "kube-x"}]},
            [("spec.tenants[0].name", "'kube-x' is a system namespace; a tenant needs its own")],
        ),
        (
            {"tenants": [{"name": "a"}, {"name": "b"}, {"name": "a"}]},
            [("spec.tenants[2].name", "duplicate tenant 'a' (also spec.tenants[0].name)")],
        ),
        (
            {"tenants": [{"name": "a", "pathPrefix": "/"}]},
            [
                (
                    "spec.tenants[0].pathPrefix",
                    "'/' is a catch-all: it would take every other tenant's traffic",
                )
            ],
        ),
        (
            {"tenants": [{"name": "a", "pathPrefix": "/a"}]},
            [
                (
                    "spec.tenants[0].pathPrefix",
                    "'/a' must start and end with '/' and hold only ASCII letters, digits and '.', '_', '~', '-' between slashes",
                )
            ],
        ),
        (
            {"tenants": [{"name": "a", "pathPrefix": 1}]},
            [("spec.tenants[0].pathPrefix", "expected a string, got a number")],
        ),
        (
            {"tenants": [{"name": "a", "spot": "no"}]},
            [("spec.tenants[0].spot", "expected true or false, got a string")],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": ["x"]}]},
            [("spec.tenants[0].namespaceLabels", "expected a mapping of label names to values, got a list")],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": {"bad key": "v"}}]},
            [("spec.tenants[0].namespaceLabels.bad key", "'bad key' is not a valid label name")],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": {"/k": "v"}}]},
            [("spec.tenants[0].namespaceLabels./k", "'/k' is not a valid label name")],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": {"Bad.example/k": "v"}}]},
            [("spec.tenants[0].namespaceLabels.Bad.example/k", "'Bad.example/k' is not a valid label name")],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": {"app.kubernetes.io/managed-by": "me"}}]},
            [
                (
                    "spec.tenants[0].namespaceLabels.app.kubernetes.io/managed-by",
                    "'app.kubernetes.io/managed-by' is set by ray-tenants itself",
                )
            ],
        ),
        (
            {"tenants": [{"name": "a", "namespaceLabels": {"k": "a b"}}]},
            [
                (
                    "spec.tenants[0].namespaceLabels.k",
                    "'a b' is not a valid label value (a string of up to 63 characters)",
                )
            ],
        ),
        (
            {"tenants": [{"name": "a", "patches": {}}]},
            [("spec.tenants[0].patches", "expected a list of {target, patch}, got a mapping")],
        ),
        (
            {"tenants": [{"name": "a", "patches": ["x"]}]},
            [("spec.tenants[0].patches[0]", "expected a mapping, got a string")],
        ),
        (
            {
                "tenants": [
                    {
                        "name": "a",
                        "patches": [
                            {"target": {"kind": "RayCluster"}, "patch": [{"op": "remove", "path": "/a"}]}
                        ],
                    }
                ]
            },
            [("spec.tenants[0].patches[0].target", "required: kind and name of the base object to patch")],
        ),
        (
            {
                "tenants": [
                    {
                        "name": "a",
                        "patches": [
                            {"target": {"kind": 1, "name": "x"}, "patch": [{"op": "remove", "path": "/a"}]}
                        ],
                    }
                ]
            },
            [
                ("spec.tenants[0].patches[0].target.kind", "expected a string, got a number"),
                ("spec.tenants[0].patches[0].target", "required: kind and name of the base object to patch"),
            ],
        ),
        (
            {
                "tenants": [
                    {"name": "a", "patches": [{"target": {"kind": "K", "name": "x", "ns": "y"}, "patch": []}]}
                ]
            },
            [
                ("spec.tenants[0].patches[0].target.ns", "unknown field 'ns'; expected one of: kind, name"),
                (
                    "spec.tenants[0].patches[0].patch",
                    "expected a non-empty list of RFC 6902 operations, got an empty list",
                ),
            ],
        ),
        (
            {"tenants": [{"name": "a", "patches": [{"target": {"kind": "K", "name": "x"}, "patch": "op"}]}]},
            [
                (
                    "spec.tenants[0].patches[0].patch",
                    "expected a non-empty list of RFC 6902 operations, got a string",
                )
            ],
        ),
    ],
)
def test_each_problem_is_one_error_on_its_field(spec: Any, expected: list[tuple[str, str]]) -> None:
    assert problems(typed(spec)) == located(expected)


def test_an_unknown_top_level_field_is_named_by_itself() -> None:
    assert problems(typed({}, status={})) == located(
        [("status", "unknown field 'status'; expected one of: apiVersion, kind, metadata, spec")]
    )


P0 = "spec.tenants[0].patches[0].patch[0]"


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ("x", "expected an operation {op, path, ...}, got a string"),
        (
            {"op": "merge", "path": "/a"},
            "op must be one of add, remove, replace, move, copy, test, got 'merge'",
        ),
        ({"op": "remove"}, "path must be a JSON pointer such as /spec/replicas, got None"),
        ({"op": "remove", "path": "spec"}, "path must be a JSON pointer such as /spec/replicas, got 'spec'"),
        ({"op": "move", "path": "/a"}, "from must be a JSON pointer such as /spec/replicas, got None"),
        (
            {"op": "copy", "path": "/a", "from": "b"},
            "from must be a JSON pointer such as /spec/replicas, got 'b'",
        ),
        ({"op": "add", "path": "/a"}, "add needs a value"),
        ({"op": "replace", "path": "/a"}, "replace needs a value"),
        ({"op": "test", "path": "/a"}, "test needs a value"),
    ],
)
def test_bad_patch_operations(op: Any, message: str) -> None:
    patches = [{"target": {"kind": "RayCluster", "name": "rc"}, "patch": [op]}]
    assert problems(typed({"tenants": [{"name": "a", "patches": patches}]})) == located([(P0, message)])


@pytest.mark.parametrize(
    "op",
    [
        {"op": "remove", "path": "/a"},
        {"op": "remove", "path": ""},  # the whole document: a pointer too
        {"op": "move", "path": "/a", "from": "/b"},
        {"op": "copy", "path": "/a", "from": ""},
        {"op": "add", "path": "/a", "value": None},
        {"op": "test", "path": "/a", "value": 1},
    ],
)
def test_good_patch_operations_are_kept(op: dict[str, Any]) -> None:
    patches = [{"target": {"kind": "RayCluster", "name": "rc"}, "patch": [op]}]
    config = parse_config(typed({"tenants": [{"name": "a", "patches": patches}]}), FILE)
    (patch,) = config.tenants[0].patches
    assert (patch.kind, patch.name, patch.ops, patch.field) == (
        "RayCluster",
        "rc",
        (op,),
        "spec.tenants[0].patches[0]",
    )


def test_accepted_spec_and_its_defaults() -> None:
    config = parse_config(
        typed(
            {
                "tenants": [
                    {"name": "a"},
                    {"name": "b", "pathPrefix": "/x/b/", "spot": False, "namespaceLabels": {"k": ""}},
                ],
                "routing": {"hosts": ["h"], "gateways": ["ns/gw"], "clusterDomain": "example.org"},
                "outputDir": "./gen/",
                "output": "overlays",
            }
        ),
        FILE,
    )
    a, b = config.tenants
    assert (a.name, a.path_prefix, a.spot, a.field, dict(a.namespace_labels)) == (
        "a",
        "/a/",
        True,
        "spec.tenants[0]",
        {},
    )
    assert (b.name, b.path_prefix, b.spot, b.field, dict(b.namespace_labels)) == (
        "b",
        "/x/b/",
        False,
        "spec.tenants[1]",
        {"k": ""},
    )
    assert (config.hosts, config.gateways, config.cluster_domain) == (("h",), ("ns/gw",), "example.org")
    assert (config.output, config.output_dir, config.ref) == ("overlays", "gen", REF)
    defaults = parse_config(typed({}), FILE)
    assert (defaults.hosts, defaults.gateways, defaults.cluster_domain) == (None, None, "cluster.local")
    assert (defaults.output, defaults.output_dir, defaults.tenants) == ("resources", "overlays", ())
    assert parse_config(typed({"outputDir": "."}), FILE).output_dir == "."
    assert parse_config(typed({"outputDir": "X/"}), FILE).output_dir == "X"
    assert parse_config(typed({"output": ""}), FILE).output == "resources"
    long_prefix = f"{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 61}"  # 253 characters: the limit
    labelled = parse_config(
        typed({"tenants": [{"name": "x" * 63, "namespaceLabels": {f"{long_prefix}/k": "v"}}]}), FILE
    )
    assert labelled.tenants[0].name == "x" * 63
    assert dict(labelled.tenants[0].namespace_labels) == {f"{long_prefix}/k": "v"}


@pytest.mark.parametrize(
    ("prefixes", "expected"),
    [
        (["/a/", "/a/"], [(1, "'/a/' is the same as '/a/' of tenant 't0' (spec.tenants[0])")]),
        (["/a/", "/a/b/"], [(1, "'/a/b/' is nested in '/a/' of tenant 't0' (spec.tenants[0])")]),
        (["/a/b/c/", "/a/"], [(1, "'/a/' contains '/a/b/c/' of tenant 't0' (spec.tenants[0])")]),
        (
            ["/a/b/", "/a/c/", "/a/"],
            [
                (2, "'/a/' contains '/a/b/' of tenant 't0' (spec.tenants[0])"),
                (2, "'/a/' contains '/a/c/' of tenant 't1' (spec.tenants[1])"),
            ],
        ),
        (["/ab/", "/a/", "/a.b/"], []),
        (["/a/b/c/", "/a/b/"], [(1, "'/a/b/' contains '/a/b/c/' of tenant 't0' (spec.tenants[0])")]),
    ],
)
def test_overlapping_prefixes_name_both_tenants(prefixes: list[str], expected: list[tuple[int, str]]) -> None:
    spec = {"tenants": [{"name": f"t{i}", "pathPrefix": p} for i, p in enumerate(prefixes)]}
    want = located(
        [
            (f"spec.tenants[{j}].pathPrefix", f"{m}: prefixes on one host must not overlap")
            for j, m in expected
        ]
    )
    if want:
        assert problems(typed(spec)) == want
    else:
        assert [t.path_prefix for t in parse_config(typed(spec), FILE).tenants] == prefixes


# --- the ConfigMap form ---------------------------------------------------------------------


def configmap(data: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"}, "data": data}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("x", [("data", "expected a mapping, got a string")]),
        (
            {"tenants": "a", "color": "red"},
            [
                (
                    "data.color",
                    "unknown field 'color'; expected one of: tenants, provider, mode, nodePools, taintKey, hosts, gateways, hostTemplate, output, outputDir, rayAuth, networkPolicy",
                )
            ],
        ),
        ({"tenants": ["a"]}, [("data.tenants", "expected a string, got a list")]),
        (
            {"tenants": "a,Bad"},
            [
                (
                    "data.tenants",
                    "'Bad' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
                )
            ],
        ),
        (
            {"nodePools": "cpu"},
            [("data.nodePools", "expected group=pool pairs separated by commas, got 'cpu'")],
        ),
        (
            {"nodePools": "=x, y="},
            [
                ("data.nodePools", "expected group=pool pairs separated by commas, got '=x'"),
                ("data.nodePools", "expected group=pool pairs separated by commas, got 'y='"),
            ],
        ),
        (
            {"nodePools": "cpu=-bad"},
            [("data.nodePools", "expected a node pool name (a label value), got '-bad'")],
        ),
        (
            {"provider": "gce"},
            [("data.provider", "expected one of gke, eks, karpenter, aks, custom, none; got 'gce'")],
        ),
        ({"mode": "maybe"}, [("data.mode", "expected one of required, preferred; got 'maybe'")]),
        (
            {"taintKey": "bad key"},
            [("data.taintKey", "expected a taint key such as `dedicated` or '' for none, got 'bad key'")],
        ),
        ({"hosts": "a,,"}, []),
        ({"output": "files"}, [("data.output", "expected one of resources, overlays, got 'files'")]),
        (
            {"outputDir": "/abs"},
            [("data.outputDir", "expected a relative folder inside the package, got '/abs'")],
        ),
        ({"gateways": 5}, [("data.gateways", "expected a string, got a number")]),
        (
            {"tenants": ["a"], "provider": "gce"},
            [
                ("data.tenants", "expected a string, got a list"),
                ("data.provider", "expected one of gke, eks, karpenter, aks, custom, none; got 'gce'"),
            ],
        ),
        (
            {"color": "red", "tenants": "Bad"},
            [
                (
                    "data.color",
                    "unknown field 'color'; expected one of: tenants, provider, mode, nodePools, taintKey, hosts, gateways, hostTemplate, output, outputDir, rayAuth, networkPolicy",
                ),
                (
                    "data.tenants",
                    "'Bad' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
                ),
            ],
        ),
        (
            {"nodePools": "cpu=a=b"},
            [("data.nodePools", "expected a node pool name (a label value), got 'a=b'")],
        ),
        # a problem on a field the ConfigMap form has no key for points at `data` itself
        (
            {"provider": "custom", "nodePools": "cpu=a"},
            [("data", "provider 'custom' has no node pool label: set poolLabel to use nodePools")],
        ),
    ],
)
def test_configmap_problems_point_at_their_data_key(data: Any, expected: list[tuple[str, str]]) -> None:
    if expected:
        assert problems(configmap(data)) == located(expected, CM_REF)
    else:
        parse_config(configmap(data), FILE)


def test_configmap_values_become_the_typed_spec() -> None:
    config = parse_config(
        configmap(
            {
                "tenants": " a , b ,",
                "provider": " eks ",
                "mode": "preferred",
                "nodePools": "cpu = spot-cpu , gpu=spot-gpu",
                "taintKey": "pool",
                "hosts": "h1, h2",
                "gateways": "ns/gw",
                "output": "overlays",
                "outputDir": "gen",
            }
        ),
        FILE,
    )
    assert [t.name for t in config.tenants] == ["a", "b"]
    assert (config.spot.provider, config.spot.mode, config.spot.taint_key) == ("eks", "preferred", "pool")
    assert dict(config.spot.node_pools) == {"cpu": "spot-cpu", "gpu": "spot-gpu"}
    assert (config.hosts, config.gateways, config.output, config.output_dir) == (
        ("h1", "h2"),
        ("ns/gw",),
        "overlays",
        "gen",
    )
    assert config.ref == CM_REF
    empty = parse_config(configmap({}), FILE)
    assert (empty.tenants, empty.hosts, empty.spot.provider) == ((), None, "gke")
