"""The tenant spec's router settings, finding by finding: hosts, parentRefs and namespaceLabel.

Every finding is written out whole (field and message), and every accepted value is shown by what
the parsed spec holds, so a rule that is dropped, loosened or worded wrongly fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.config import Tenant, TenantsConfig, parse_config
from krm_fn.isolation.settings import TenantAccess
from krm_fn.results import FnError, ResourceRef
from tests.routing.test_gateway_api import spec

REF = ResourceRef("fn.ray-tenants.dev/v1alpha1", "RayTenants", "t")
DNS = (
    "is not a DNS name (lowercase letters, digits, '-' and '.', at most 253; "
    "one exact host per tenant, no wildcard)"
)
TEMPLATE = "expected a hostname holding {tenant} (e.g. {tenant}.ray.example.com), got "


def findings(tenants: list[Any], **routing: Any) -> list[tuple[str, str]]:
    with pytest.raises(FnError) as raised:
        parse_config(spec(tenants, **routing))
    for r in raised.value.results:
        assert (r.resource, r.is_error) == (REF, True), r
    return [(r.field, r.message) for r in raised.value.results]


def configmap(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t"}, "data": data}


# --- the records' defaults are the spec's --------------------------------------------------------


def test_a_tenant_record_by_default_is_what_a_bare_tenant_entry_parses_to() -> None:
    """Code that builds a Tenant or TenantsConfig directly gets what an empty spec would give."""
    config = parse_config(spec([{"name": "team"}]))
    assert config.tenants == (Tenant("team", "/team/"),)
    assert config.tenants[0].access == TenantAccess(groups=("team",))
    assert config.tenants[0].spot is True
    assert config._replace(tenants=()) == TenantsConfig(ref=REF)
    assert (config.output, config.output_dir) == ("resources", "overlays")


def test_a_second_tenant_has_its_own_field_and_a_non_boolean_spot_is_an_error() -> None:
    config = parse_config(spec([{"name": "a"}, {"name": "b", "spot": False}]))
    assert [(t.field, t.spot) for t in config.tenants] == [
        ("spec.tenants[0]", True),
        ("spec.tenants[1]", False),
    ]
    assert findings([{"name": "a", "spot": "no"}]) == [
        ("spec.tenants[0].spot", "expected true or false, got a string")
    ]


def test_every_tenant_is_checked_after_one_without_a_usable_name() -> None:
    assert findings([{"name": 5}, {"name": "Bad"}, {"name": "ok", "pathPrefix": ""}]) == [
        ("spec.tenants[0].name", "expected a string, got a number"),
        (
            "spec.tenants[1].name",
            "'Bad' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
        ),
        (
            "spec.tenants[2].pathPrefix",
            "'' must start and end with '/' and hold only ASCII letters, digits and "
            "'.', '_', '~', '-' between slashes",
        ),
    ]


@pytest.mark.parametrize(
    ("output_dir", "kept"), [("./tenants/", "tenants"), ("./", "."), (".", "."), ("a//b/", "a//b")]
)
def test_the_output_folder_is_kept_relative_without_its_outer_slashes(output_dir: str, kept: str) -> None:
    config = parse_config({**spec([]), "spec": {"output": "overlays", "outputDir": output_dir}})
    assert (config.output, config.output_dir) == ("overlays", kept)


# --- host per tenant -------------------------------------------------------------------------------


def test_a_host_template_gives_each_tenant_its_host_served_at_the_root() -> None:
    config = parse_config(spec([{"name": "a"}, {"name": "b"}], hostTemplate="{tenant}.ray.example.com"))
    assert [(t.name, t.host, t.path_prefix) for t in config.tenants] == [
        ("a", "a.ray.example.com", "/"),
        ("b", "b.ray.example.com", "/"),
    ]
    assert config.warnings == ()


def test_a_tenants_own_host_wins_over_the_template_and_null_means_path_mode() -> None:
    config = parse_config(
        spec(
            [{"name": "a", "host": "dash.example.com"}, {"name": "b"}, {"name": "c", "host": None}],
            hostTemplate="{tenant}.r.example.com",
        )
    )
    assert [(t.host, t.path_prefix) for t in config.tenants] == [
        ("dash.example.com", "/"),
        ("b.r.example.com", "/"),
        (None, "/c/"),
    ]


@pytest.mark.parametrize("template", ["ray.example.com", "*.{tenant}.example.com", "{tenant}.*.example.com"])
def test_a_host_template_needs_the_placeholder_and_no_wildcard(template: str) -> None:
    # one finding: the template is dropped, so no tenant is judged by a host it would give
    assert findings([{"name": "a"}], hostTemplate=template) == [
        ("spec.routing.hostTemplate", f"{TEMPLATE}{template!r}")
    ]


def test_a_host_template_that_is_not_a_string_is_an_error() -> None:
    assert findings([{"name": "a"}], hostTemplate=["{tenant}.x"]) == [
        ("spec.routing.hostTemplate", "expected a string, got a list")
    ]


def test_a_host_too_long_or_not_a_dns_name_is_an_error_on_the_field_it_came_from() -> None:
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters
    assert len(longest) == 253
    assert parse_config(spec([{"name": "a", "host": longest}])).tenants[0].host == longest
    too_long = longest + "c"
    assert findings([{"name": "a", "host": too_long}, {"name": "b", "host": "B.example.com"}]) == [
        ("spec.tenants[0].host", f"{too_long!r} {DNS}"),
        ("spec.tenants[1].host", f"'B.example.com' {DNS}"),
    ]
    assert findings([{"name": "a"}, {"name": "b"}], hostTemplate="{tenant}._x.com") == [
        ("spec.routing.hostTemplate", f"'a._x.com' for tenant 'a' {DNS}"),
        ("spec.routing.hostTemplate", f"'b._x.com' for tenant 'b' {DNS}"),
    ]
    assert findings([{"name": "a", "host": "\u0430.example.com"}]) == [
        (
            "spec.tenants[0].host",
            f"'\u0430.example.com' {DNS}; it contains non-ASCII characters: "
            "'\u0430' U+0430 CYRILLIC SMALL LETTER A",
        )
    ]


def test_a_host_does_not_go_with_a_path_prefix() -> None:
    phrase = "served at '/': a path prefix does not apply"
    assert findings(
        [{"name": "a", "host": "a.example.com", "pathPrefix": "/a/"}, {"name": "b", "pathPrefix": "/b/"}],
        hostTemplate="{tenant}.r.example.com",
    ) == [
        (
            "spec.tenants[0].pathPrefix",
            f"tenant 'a' has a host of its own ('a.example.com', from spec.tenants[0].host), {phrase}",
        ),
        (
            "spec.tenants[1].pathPrefix",
            f"tenant 'b' has a host of its own ('b.r.example.com', from spec.routing.hostTemplate), {phrase}",
        ),
    ]


def test_hosts_are_compared_without_case_and_a_shared_host_is_nobodys_own() -> None:
    also = "host 'x.example.com' is also tenant 'a''s (spec.tenants[0]): each tenant needs its own"
    assert findings(
        [
            {"name": "a", "host": "x.example.com"},
            {"name": "b", "host": "x.example.com"},
            {"name": "c", "host": "Y.example.com"},
            {"name": "d", "host": "y.example.com"},
            {"name": "e", "host": "ray.example.com"},
        ],
        hosts=["other.example.com", "RAY.example.com"],
    ) == [
        ("spec.tenants[2].host", f"'Y.example.com' {DNS}"),
        ("spec.tenants[1].host", also),
        (
            "spec.tenants[3].host",
            "host 'y.example.com' is also tenant 'c''s (spec.tenants[2]): each tenant needs its own",
        ),
        (
            "spec.tenants[4].host",
            "host 'ray.example.com' is a shared host (spec.routing.hosts) where tenants are path prefixes",
        ),
    ]
    # a host taken twice that is also shared: one finding, the first
    assert findings(
        [{"name": "a", "host": "x.example.com"}, {"name": "b", "host": "x.example.com"}],
        hosts=["x.example.com"],
    ) == [
        (
            "spec.tenants[0].host",
            "host 'x.example.com' is a shared host (spec.routing.hosts) where tenants are path prefixes",
        ),
        ("spec.tenants[1].host", also),
    ]


def test_path_tenants_may_share_hosts_and_host_tenants_skip_the_prefix_comparison() -> None:
    config = parse_config(
        spec(
            [{"name": "a"}, {"name": "b", "host": "b.example.com"}, {"name": "c", "host": "c.example.com"}],
            hosts=["ray.example.com"],
        )
    )
    assert [(t.host, t.path_prefix) for t in config.tenants] == [
        (None, "/a/"),
        ("b.example.com", "/"),
        ("c.example.com", "/"),
    ]


def test_the_configmap_form_reads_the_host_template_and_the_network_policy_switch() -> None:
    config = parse_config(
        configmap(tenants="a", hostTemplate=" {tenant}.ray.example.com ", networkPolicy="TRUE")
    )
    assert config.tenants[0].host == "a.ray.example.com"
    assert config.access.network.enabled is True
    off = parse_config(configmap(tenants="a", networkPolicy=" false"))
    assert off.access.network.enabled is False
    assert parse_config(configmap(tenants="a", networkPolicy="true")).access.network.enabled is True


# --- Gateway API: parentRefs ---------------------------------------------------------------------

GW = {"name": "gw", "namespace": "infra"}
NAME = "required: the Gateway's name"
NAMESPACE = (
    "required: the Gateway's namespace (without it each tenant's copy would look for the Gateway in its "
    "own namespace)"
)


def test_parent_refs_are_kept_as_given() -> None:
    refs = [
        {**GW, "sectionName": "https", "port": 443},
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "b", "namespace": "x", "port": 1},
        {**GW, "port": 65535},
    ]
    assert parse_config(spec([{"name": "a"}], parentRefs=refs)).parent_refs == tuple(refs)
    assert parse_config(spec([{"name": "a"}])).parent_refs is None


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        (
            [],
            [
                (
                    "spec.routing.parentRefs",
                    "expected a non-empty list of parent references {namespace, name}, got a list",
                )
            ],
        ),
        (
            GW,
            [
                (
                    "spec.routing.parentRefs",
                    "expected a non-empty list of parent references {namespace, name}, got a mapping",
                )
            ],
        ),
        (["gw"], [("spec.routing.parentRefs[0]", "expected a mapping, got a string")]),
        (
            [{"namespace": "infra"}, {"name": "gw"}],
            [("spec.routing.parentRefs[0].name", NAME), ("spec.routing.parentRefs[1].namespace", NAMESPACE)],
        ),
        (
            [{"name": "", "namespace": 3}],
            [("spec.routing.parentRefs[0].name", NAME), ("spec.routing.parentRefs[0].namespace", NAMESPACE)],
        ),
        (
            [{**GW, "group": 1, "kind": [], "sectionName": True}],
            [
                ("spec.routing.parentRefs[0].group", "expected a string, got a number"),
                ("spec.routing.parentRefs[0].kind", "expected a string, got a list"),
                ("spec.routing.parentRefs[0].sectionName", "expected a string, got a boolean"),
            ],
        ),
        (
            [{**GW, "port": p} for p in (0, 65536, True, "80")],
            [
                ("spec.routing.parentRefs[0].port", "expected a port number, got a number"),
                ("spec.routing.parentRefs[1].port", "expected a port number, got a number"),
                ("spec.routing.parentRefs[2].port", "expected a port number, got a boolean"),
                ("spec.routing.parentRefs[3].port", "expected a port number, got a string"),
            ],
        ),
        (
            [{**GW, "listener": "x"}],
            [
                (
                    "spec.routing.parentRefs[0].listener",
                    "unknown field 'listener'; expected one of: group, kind, namespace, name, sectionName, port",
                )
            ],
        ),
    ],
)
def test_a_bad_parent_ref_is_an_error_on_its_field(refs: Any, expected: list[tuple[str, str]]) -> None:
    assert findings([{"name": "a"}], parentRefs=refs) == expected


# --- Gateway API: the namespace label listeners select -----------------------------------------------


def test_the_namespace_label_defaults_and_can_be_changed() -> None:
    default = parse_config(spec([{"name": "a"}]))
    assert default.route_label == ("fn.ray-tenants.dev/gateway-access", "true")
    mine = parse_config(
        spec(
            [{"name": "a", "namespaceLabels": {"example.com/ray": "yes"}}],
            namespaceLabel={"key": "example.com/ray", "value": "yes"},
        )
    )
    assert mine.route_label == ("example.com/ray", "yes")
    assert parse_config(spec([{"name": "a"}], namespaceLabel={"value": ""})).route_label == (
        "fn.ray-tenants.dev/gateway-access",
        "",
    )
    assert parse_config(spec([{"name": "a"}], namespaceLabel={"key": "team"})).route_label == ("team", "true")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("x", [("spec.routing.namespaceLabel", "expected a mapping, got a string")]),
        (
            {"key": "app.kubernetes.io/managed-by"},
            [
                (
                    "spec.routing.namespaceLabel.key",
                    "'app.kubernetes.io/managed-by' is not a label name of your own",
                )
            ],
        ),
        (
            {"key": "fn.ray-tenants.dev/tenant"},
            [
                (
                    "spec.routing.namespaceLabel.key",
                    "'fn.ray-tenants.dev/tenant' is not a label name of your own",
                )
            ],
        ),
        (
            {"key": "no way", "value": "no way"},
            [
                ("spec.routing.namespaceLabel.key", "'no way' is not a label name of your own"),
                ("spec.routing.namespaceLabel.value", "'no way' is not a valid label value"),
            ],
        ),
        (
            {"key": "", "value": 5},
            [
                ("spec.routing.namespaceLabel.value", "expected a string, got a number"),
                ("spec.routing.namespaceLabel.key", "'' is not a label name of your own"),
            ],
        ),
        (
            {"key": 5, "value": "x" * 64},
            [
                ("spec.routing.namespaceLabel.key", "expected a string, got a number"),
                ("spec.routing.namespaceLabel.value", f"{'x' * 64!r} is not a valid label value"),
            ],
        ),
        (
            {"colour": "red"},
            [("spec.routing.namespaceLabel.colour", "unknown field 'colour'; expected one of: key, value")],
        ),
    ],
)
def test_a_bad_namespace_label_is_an_error_on_its_field(label: Any, expected: list[tuple[str, str]]) -> None:
    assert findings([{"name": "a"}], namespaceLabel=label) == expected


def test_a_tenant_may_repeat_the_namespace_label_but_not_give_it_another_value() -> None:
    key = "fn.ray-tenants.dev/gateway-access"
    parse_config(spec([{"name": "a", "namespaceLabels": {key: "true"}}]))
    assert findings(
        [{"name": "a", "namespaceLabels": {key: "false"}}, {"name": "b", "namespaceLabels": {"team": "b"}}]
    ) == [
        (
            f"spec.tenants[0].namespaceLabels.{key}",
            f"{key!r} is the label Gateway listeners select tenant namespaces by "
            "(spec.routing.namespaceLabel), with the value 'true'",
        )
    ]


def test_entries_after_one_of_another_type_are_still_checked() -> None:
    assert findings(["a", {"name": "Bad"}]) == [
        ("spec.tenants[0]", "expected a mapping, got a string"),
        (
            "spec.tenants[1].name",
            "'Bad' is not a namespace name (a DNS-1123 label: lowercase letters, digits, '-', at most 63)",
        ),
    ]
    assert findings([{"name": "a"}], parentRefs=["gw", {"name": "gw"}]) == [
        ("spec.routing.parentRefs[0]", "expected a mapping, got a string"),
        ("spec.routing.parentRefs[1].namespace", NAMESPACE),
    ]
    # a path tenant before them does not stop the hosts being compared
    assert findings(
        [{"name": "a"}, {"name": "b", "host": "x.example.com"}, {"name": "c", "host": "x.example.com"}]
    ) == [
        (
            "spec.tenants[2].host",
            "host 'x.example.com' is also tenant 'b''s (spec.tenants[1]): each tenant needs its own",
        )
    ]
