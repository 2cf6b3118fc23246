"""The evaluator of NetworkPolicy and Istio AuthorizationPolicy meaning, rule by rule, on small objects.

Each expectation is written out from the documented semantics, not from the code:
- Kubernetes label selectors (`matchLabels`, `In`, `NotIn`, `Exists`, `DoesNotExist`; an unknown
  operator selects nothing), a namespaceSelector naming namespaces only by
  `kubernetes.io/metadata.name`, NetworkPolicy `policyTypes`, ingress peers and ports (named ports,
  `endPort` ranges, no `ports` or no `port` for every port);
- Istio string matches (exact, `prefix*`, `*suffix`, `*`; hosts case-insensitive, paths
  case-sensitive; `notX` fields; `{...}` path templates unknown), request principals, `when`
  conditions on `request.auth.claims[...]`, a rule's `from`/`to`/`when` and a DENY policy's scope;
- the three values: True, False, None for "cannot tell from the manifests".
"""

from __future__ import annotations

from typing import Any

import pytest

from krm_fn.isolation.semantics import (
    ANY,
    UNNAMED,
    Admission,
    Pod,
    Ports,
    Request,
    Strings,
    Tri,
    action,
    admissions,
    all3,
    any3,
    applies_to,
    denied,
    namespace_of,
    not3,
    policy_matches,
    policy_selects,
    ports_within,
    rule_matches,
    rule_ports,
    selected_namespaces,
    selector_matches,
    show_ports,
    strings_match,
)

NAME = "kubernetes.io/metadata.name"
LABELS = {"app": "ray", "tier": "1"}
CLUSTER = "ray.io/cluster"  # a label whose value the manifests do not tell

# --- three-valued logic -------------------------------------------------------------------------


def test_three_valued_and_lets_false_win_then_unknown() -> None:
    assert all3([]) is True
    assert all3([True, True]) is True
    assert all3([True, None]) is None
    assert all3([None, False, True]) is False


def test_three_valued_or_lets_true_win_then_unknown() -> None:
    assert any3([]) is False
    assert any3([False, False]) is False
    assert any3([False, None]) is None
    assert any3([None, True, False]) is True


def test_three_valued_not_keeps_unknown_unknown() -> None:
    assert not3(True) is False
    assert not3(False) is True
    assert not3(None) is None


# --- label selectors ----------------------------------------------------------------------------


def _expr(key: str, op: str, *values: object) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"app": "ray"}}, True),
        ({"matchLabels": {"app": "web"}}, False),
        ({"matchLabels": {"app": "ray", "tier": 1}}, True),  # a YAML number is compared as its text
        ({"matchLabels": {"app": "ray", "zone": "a"}}, False),
        ({"matchLabels": {CLUSTER: "c"}}, None),
        ({"matchLabels": {CLUSTER: "c", "app": "web"}}, False),
        ({"matchExpressions": [_expr("app", "Exists")]}, True),
        ({"matchExpressions": [_expr("zone", "Exists")]}, False),
        ({"matchExpressions": [_expr(CLUSTER, "Exists")]}, True),  # KubeRay always sets it
        ({"matchExpressions": [_expr("zone", "DoesNotExist")]}, True),
        ({"matchExpressions": [_expr("app", "DoesNotExist")]}, False),
        ({"matchExpressions": [_expr(CLUSTER, "DoesNotExist")]}, False),
        ({"matchExpressions": [_expr("app", "In", "web", "ray")]}, True),
        ({"matchExpressions": [_expr("app", "In", "web")]}, False),
        ({"matchExpressions": [_expr("zone", "In", "a")]}, False),
        ({"matchExpressions": [_expr("tier", "In", 1)]}, True),
        ({"matchExpressions": [_expr(CLUSTER, "In", "c")]}, None),
        ({"matchExpressions": [_expr("app", "NotIn", "web")]}, True),
        ({"matchExpressions": [_expr("app", "NotIn", "ray")]}, False),
        ({"matchExpressions": [_expr("zone", "NotIn", "a")]}, True),
        ({"matchExpressions": [_expr(CLUSTER, "NotIn", "c")]}, None),
        ({"matchExpressions": [_expr("app", "Gt", "1")]}, False),
        ({"matchExpressions": [_expr("app", "in", "ray")]}, False),  # operators are case-sensitive
        ({"matchExpressions": [_expr("app", "Exists"), _expr("app", "NotIn", "ray")]}, False),
        ({"matchLabels": {"app": "ray"}, "matchExpressions": [_expr(CLUSTER, "In", "c")]}, None),
    ],
)
def test_a_label_selector_matches_as_kubernetes_matches_it(selector: dict[str, Any], expected: Tri) -> None:
    assert selector_matches(selector, LABELS, frozenset({CLUSTER})) is expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, None),
        ({"matchLabels": {"team": "x"}}, None),  # anyone who labels namespaces may set it
        ({"matchLabels": {NAME: "gw"}}, {"gw"}),
        ({"matchLabels": {NAME: "gw", "team": "x"}}, {"gw"}),
        ({"matchExpressions": [_expr(NAME, "In", "gw", "ops")]}, {"gw", "ops"}),
        ({"matchLabels": {NAME: "gw"}, "matchExpressions": [_expr(NAME, "In", "gw", "ops")]}, {"gw"}),
        ({"matchExpressions": [_expr(NAME, "In", "a", "b"), _expr(NAME, "In", "b", "c")]}, {"b"}),
        ({"matchExpressions": [_expr("team", "Exists"), _expr(NAME, "In", "gw")]}, {"gw"}),
        ({"matchExpressions": [_expr(NAME, "DoesNotExist")]}, set()),  # every namespace has it
        ({"matchExpressions": [_expr(NAME, "In", "gw"), _expr(NAME, "DoesNotExist")]}, set()),
        ({"matchExpressions": [_expr(NAME, "NotIn", "gw")]}, None),
        ({"matchExpressions": [_expr(NAME, "Exists")]}, None),
    ],
)
def test_a_namespace_selector_pins_namespaces_only_by_their_name_label(
    selector: dict[str, Any], expected: set[str] | None
) -> None:
    assert selected_namespaces(selector) == (None if expected is None else frozenset(expected))


# --- NetworkPolicy ------------------------------------------------------------------------------


def netpol(
    namespace: str = "t", selector: object = None, types: object = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"podSelector": {} if selector is None else selector, **spec}
    if types is not None:
        body["policyTypes"] = types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": body,
    }


HEAD = Pod("t", {"ray.io/node-type": "head"}, frozenset({CLUSTER}), {"dashboard": 8265, "gcs-server": 6379})


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (netpol(), True),
        (netpol(namespace="other"), False),
        (netpol(types=["Ingress"]), True),
        (netpol(types=["Ingress", "Egress"]), True),
        (netpol(types=["Egress"]), False),
        (netpol(types=[]), False),
        (netpol(selector={"matchLabels": {"ray.io/node-type": "worker"}}), False),
        (netpol(selector={"matchLabels": {CLUSTER: "raycluster"}}), None),
    ],
)
def test_a_network_policy_isolates_the_pods_it_selects_in_its_namespace_for_ingress(
    policy: dict[str, Any], expected: Tri
) -> None:
    assert policy_selects(policy, HEAD) is expected


def test_each_ingress_rule_and_peer_is_one_admission_with_its_field_and_source() -> None:
    policy = netpol(
        ingress=[
            {},
            {"ports": [{"port": 6379}]},
            {
                "from": [
                    {"podSelector": {}},
                    {"namespaceSelector": {}},
                    {"ipBlock": {"cidr": "10.0.0.0/8"}},
                    {"namespaceSelector": {"matchLabels": {NAME: "gw"}}, "podSelector": {}},
                    {"namespaceSelector": {"matchLabels": {"team": "x"}}},
                    {},
                ],
                "ports": [{"port": "dashboard"}],
            },
        ]
    )
    labelled = (
        "pods of every namespace that carries or gets those labels (a namespace is named only by "
        "kubernetes.io/metadata.name)"
    )
    rule = ("spec", "ingress", 2, "from")
    dash = ((8265, 8265),)
    found = list(admissions(policy, HEAD))
    assert [a.selects for a in found] == [True] * 8
    assert found == [
        Admission(None, None, ("spec", "ingress", 0), True, "every source (no `from`)"),
        Admission(None, ((6379, 6379),), ("spec", "ingress", 1), True, "every source (no `from`)"),
        Admission(frozenset({"t"}), dash, (*rule, 0), True, ""),
        Admission(None, dash, (*rule, 1), True, "pods of every namespace"),
        Admission(None, dash, (*rule, 2), True, "addresses in 10.0.0.0/8 (pods of any namespace among them)"),
        Admission(frozenset({"gw"}), dash, (*rule, 3), True, labelled),
        Admission(None, dash, (*rule, 4), True, labelled),
        Admission(None, dash, (*rule, 5), True, "every source (a peer without selectors)"),
    ]


def test_admissions_of_a_policy_that_may_select_the_pod_say_so() -> None:
    policy = netpol(selector={"matchLabels": {CLUSTER: "c"}}, ingress=[{"from": [{"podSelector": {}}]}])
    assert list(admissions(policy, HEAD)) == [
        Admission(frozenset({"t"}), None, ("spec", "ingress", 0, "from", 0), None, "")
    ]


def test_a_policy_that_does_not_select_the_pod_admits_nothing_to_it() -> None:
    assert list(admissions(netpol(namespace="other", ingress=[{}]), HEAD)) == []
    assert list(admissions(netpol(types=["Egress"], ingress=[{}]), HEAD)) == []
    assert list(admissions(netpol(), HEAD)) == []  # selected, isolated, nothing admitted


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        (None, None),
        ([], None),
        ([{"port": 8265}], ((8265, 8265),)),
        ([{"port": "8265"}], ((8265, 8265),)),
        ([{"port": "dashboard"}], ((8265, 8265),)),
        ([{"port": "metrics"}], (UNNAMED,)),
        (
            [{"port": "dashboard"}, {"port": "gcs-server"}, {"port": 10001}],
            ((8265, 8265), (6379, 6379), (10001, 10001)),
        ),
        ([{"protocol": "TCP"}], None),  # no port: every port of the protocol
        ([{"port": 8265}, {"protocol": "UDP"}], None),
        ([{"port": 8000, "endPort": 8999}], ((8000, 8999),)),
        ([{"port": 8000, "endPort": 8000}], ((8000, 8000),)),
        ([{"port": 8000, "endPort": 7000}], ((8000, 8000),)),  # the API server refuses it
        ([{"port": 8000, "endPort": "9000"}], ((8000, 8000),)),
        ([{"port": True}], None),  # not a port: may be any
        ([{"port": 80.5}], None),
        ([{"port": [80]}], None),
    ],
)
def test_the_ports_a_rule_admits(ports: object, expected: object) -> None:
    rule = {} if ports is None else {"ports": ports}
    assert rule_ports(rule, HEAD) == expected


@pytest.mark.parametrize(
    ("ports", "allowed", "expected"),
    [
        (None, {8265}, False),
        (((8265, 8265),), {8265}, True),
        (((8265, 8265), (8080, 8080)), {8265}, False),
        (((8265, 8265), (8080, 8080)), {8265, 8080}, True),
        (((8265, 8266),), {8265, 8266}, True),
        (((8265, 8267),), {8265, 8266}, False),
        (((8000, 8999),), {8265}, False),
        (((8264, 8265),), {8265}, False),
        ((UNNAMED,), {8265}, False),
    ],
)
def test_ports_are_within_the_allowed_ones_only_when_every_port_is(
    ports: Ports, allowed: set[int], expected: bool
) -> None:
    assert ports_within(ports, allowed) is expected


def test_ports_are_shown_as_numbers_ranges_and_names_the_template_lacks() -> None:
    assert show_ports(None) == "every port"
    assert show_ports(()) == "no port"
    assert show_ports(((8265, 8265),)) == "8265"
    assert show_ports(((8000, 8999), UNNAMED, (6379, 6379))) == (
        "8000-8999, a port its pod template does not name, 6379"
    )


# --- Istio string matches -----------------------------------------------------------------------


def test_a_probe_set_is_shown_as_istio_writes_the_pattern() -> None:
    assert str(Strings.exact("/t")) == "/t"
    assert str(Strings.prefix("/t/")) == "/t/*"
    assert str(Strings.suffix(".example.com")) == "*.example.com"
    assert str(ANY) == "*"


@pytest.mark.parametrize(
    ("values", "nots", "probe", "expected"),
    [
        # a field not written matches every request
        (None, None, Strings.exact("/t/x"), True),
        # exact
        (["/t/"], None, Strings.exact("/t/"), True),
        (["/t/"], None, Strings.exact("/t/x"), False),
        (["/t/"], None, Strings.exact("/T/"), False),  # paths are case-sensitive
        (["/t/"], None, Strings.prefix("/t/"), None),  # one path of the set, not all
        (["/t/"], None, Strings.prefix("/u/"), False),
        # prefix
        (["/t/*"], None, Strings.exact("/t/x"), True),
        (["/t/*"], None, Strings.exact("/t"), False),
        (["/t/*"], None, Strings.prefix("/t/x/"), True),
        (["/t/*"], None, Strings.prefix("/t"), None),  # /t/x yes, /tx no
        (["/t/*"], None, Strings.prefix("/u"), False),
        (["/t/*"], None, Strings.suffix("/jobs"), None),
        # suffix
        (["*/jobs"], None, Strings.exact("/t/jobs"), True),
        (["*/jobs"], None, Strings.exact("/t/jobs/"), False),
        (["*/jobs"], None, Strings.exact("/tjobs"), False),
        (["*/jobs"], None, Strings.suffix("/t/jobs"), True),
        (["*/jobs"], None, Strings.suffix("s"), None),
        (["*/jobs"], None, Strings.suffix("/job"), False),
        (["*/jobs"], None, Strings.prefix("/t/"), None),
        # presence
        (["*"], None, ANY, True),
        (["*"], None, Strings.prefix("/t/"), True),
        (["*"], None, Strings.exact("/t"), True),
        # a list matches when any entry does
        (["/a", "/t/*"], None, Strings.exact("/t/x"), True),
        (["/a", "/b*"], None, Strings.exact("/t/x"), False),
        (["/t/a*", "/t/*"], None, Strings.prefix("/t/"), True),
        (["/t/a*", "/t/b*"], None, Strings.prefix("/t/"), None),
        # the `not` field
        (None, ["/t/public/*"], Strings.exact("/t/public/a"), False),
        (None, ["/t/public/*"], Strings.exact("/t/x"), True),
        (None, ["/t/public/*"], Strings.prefix("/t/"), None),
        (None, ["/t/*"], Strings.prefix("/t/x/"), False),
        (None, ["*"], ANY, False),
        (["/t/*"], ["/t/*"], Strings.exact("/t/x"), False),
        (["/t/*"], ["/t/a"], Strings.exact("/t/x"), True),
        # path templates (`{*}`, `{**}`): not evaluated here
        (["/t/{*}/jobs"], None, Strings.exact("/t/a/jobs"), None),
        (["/t/{**}"], None, Strings.exact("/u"), None),
        (None, ["/t/{**}"], Strings.exact("/t/a"), None),
    ],
)
def test_an_istio_string_field_over_a_probe_set(
    values: object, nots: object, probe: Strings, expected: Tri
) -> None:
    assert strings_match(values, nots, probe) is expected


def test_hosts_are_compared_without_case_paths_with_it() -> None:
    assert strings_match(["RAY.example.com"], None, Strings.exact("ray.EXAMPLE.com"), fold=True) is True
    assert strings_match(["RAY.example.com"], None, Strings.exact("ray.EXAMPLE.com")) is False
    assert strings_match(["*.Example.COM"], None, Strings.exact("Ray.example.com"), fold=True) is True
    assert strings_match(None, ["RAY.example.com"], Strings.prefix("ray.example.COM:"), fold=True) is True
    assert strings_match(None, ["RAY.example.com:443"], Strings.prefix("ray.example.COM:"), fold=True) is None
    assert strings_match(None, ["Ray.Example.com:*"], Strings.prefix("ray.example.COM:"), fold=True) is False


# --- AuthorizationPolicy ------------------------------------------------------------------------

ISSUER = "https://idp.example.com"


def token() -> Request:
    """A request with a valid token of alice, in groups ml and ops (built in the test, not at import)."""
    return Request("ray.example.com", "/t/x", principal=f"{ISSUER}/alice", claims={"groups": ["ml", "ops"]})


def no_token() -> Request:
    return Request("ray.example.com", "/t/x")


def authz(
    namespace: str = "gw", rules: object = None, action_: str | None = "DENY", **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"matchLabels": {"istio": "gateway"}}, **spec}
    if action_ is not None:
        body["action"] = action_
    if rules is not None:
        body["rules"] = rules
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "a", "namespace": namespace},
        "spec": body,
    }


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (authz(), True),
        (authz(namespace="other"), False),  # a selector picks workloads of the policy's namespace
        (authz(selector={"matchLabels": {"istio": "other"}}), False),
        (authz(selector={"matchLabels": {"istio": "gateway", "rev": "2"}}), False),
        (authz(selector={"matchLabels": {"rev": 1}}), True),  # compared as text
        (authz(selector={}), True),  # no selector: every workload of the namespace
        (authz(targetRef={"kind": "Gateway", "name": "g"}), None),
        (authz(targetRefs=[{"kind": "Service", "name": "s"}]), None),
        (authz(targetRefs=[]), True),
    ],
)
def test_an_authorization_policy_applies_to_the_workloads_it_selects(
    policy: dict[str, Any], expected: Tri
) -> None:
    assert applies_to(policy, "gw", {"istio": "gateway", "rev": "1"}) is expected


def _from(*sources: dict[str, Any]) -> dict[str, Any]:
    return {"from": [{"source": s} for s in sources]}


@pytest.mark.parametrize(
    ("rule", "with_token", "without_token"),
    [
        ({}, True, True),  # a rule with no conditions matches every request
        (_from({}), True, True),
        # an empty list is the field not set (Istio's proto reads them alike)
        ({"from": []}, True, True),
        ({"from": None, "to": None}, True, True),
        ({"to": []}, True, True),
        ({"from": "anyone"}, False, False),  # not a list: Istio refuses it, here it matches nothing
        (_from({"requestPrincipals": ["*"]}), True, False),
        (_from({"notRequestPrincipals": ["*"]}), False, True),
        (_from({"requestPrincipals": [f"{ISSUER}/*"]}), True, False),
        (_from({"requestPrincipals": ["https://other/*"]}), False, False),
        (_from({"notRequestPrincipals": [f"{ISSUER}/bob"]}), True, True),
        (_from({"notRequestPrincipals": [f"{ISSUER}/alice"]}), False, True),
        (_from({"requestPrincipals": ["https://other/*"]}, {"requestPrincipals": ["*"]}), True, False),
        # peer identities, namespaces, addresses: not known from the manifests
        (_from({"namespaces": ["x"]}), None, None),
        (_from({"requestPrincipals": ["*"], "ipBlocks": ["10.0.0.0/8"]}), None, False),
        (_from({"principals": ["*"]}, {"notRequestPrincipals": ["*"]}), None, True),
        # operations: a probe is every method and port
        ({"to": [{"operation": {"hosts": ["RAY.example.com"]}}]}, True, True),
        ({"to": [{"operation": {"hosts": ["other.com"]}}]}, False, False),
        ({"to": [{"operation": {"notHosts": ["ray.example.com"]}}]}, False, False),
        ({"to": [{"operation": {"paths": ["/t/*"]}}]}, True, True),
        ({"to": [{"operation": {"paths": ["/T/*"]}}]}, False, False),
        ({"to": [{"operation": {"notPaths": ["/t/*"]}}]}, False, False),
        ({"to": [{"operation": {"paths": ["/u"]}}, {"operation": {"paths": ["/t/x"]}}]}, True, True),
        ({"to": [{"operation": {"methods": ["GET"]}}]}, None, None),
        ({"to": [{"operation": {"notMethods": ["POST"]}}]}, None, None),
        ({"to": [{"operation": {"ports": ["8443"]}}]}, None, None),
        ({"to": [{"operation": {"notPorts": ["8443"]}}]}, None, None),
        ({"to": [{"operation": {"methods": ["*"], "ports": ["*"]}}]}, True, True),
        ({"to": [{"operation": {"methods": ["GET"], "paths": ["/u"]}}]}, False, False),
        # conditions
        ({"when": [{"key": "request.auth.claims[groups]", "values": ["ops"]}]}, True, False),
        ({"when": [{"key": "request.auth.claims[groups]", "values": ["o*"]}]}, True, False),
        ({"when": [{"key": "request.auth.claims[groups]", "values": ["dev"]}]}, False, False),
        ({"when": [{"key": "request.auth.claims[groups]", "notValues": ["ops"]}]}, False, True),
        ({"when": [{"key": "request.auth.claims[groups]", "notValues": ["dev"]}]}, True, True),
        ({"when": [{"key": "request.auth.claims[team]", "notValues": ["dev"]}]}, True, True),
        ({"when": [{"key": "request.auth.claims[team]", "values": ["*"]}]}, False, False),
        ({"when": [{"key": "request.auth.principal", "values": [f"{ISSUER}/alice"]}]}, True, False),
        ({"when": [{"key": "request.auth.principal", "notValues": ["*"]}]}, False, True),
        ({"when": [{"key": "request.auth.claims[groups][0]", "values": ["ops"]}]}, None, None),
        ({"when": [{"key": "request.auth.claims[groups", "values": ["ops"]}]}, None, None),
        ({"when": [{"key": "source.ip", "values": ["10.0.0.1"]}]}, None, None),
        (
            {
                "when": [
                    {"key": "request.auth.claims[groups]", "values": ["ops"]},
                    {"key": "request.auth.claims[groups]", "values": ["ml"]},
                ]
            },
            True,
            False,
        ),
        # everything of a rule at once
        (
            {
                **_from({"requestPrincipals": ["*"]}),
                "to": [{"operation": {"paths": ["/t/*"]}}],
                "when": [{"key": "request.auth.claims[groups]", "notValues": ["dev"]}],
            },
            True,
            False,
        ),
        ({"to": [{"operation": {"paths": ["/u/*"]}}], "when": [{"key": "source.ip"}]}, False, False),
    ],
)
def test_a_rule_matches_a_request_on_its_sources_operations_and_conditions(
    rule: dict[str, Any], with_token: Tri, without_token: Tri
) -> None:
    assert rule_matches(rule, token()) is with_token
    assert rule_matches(rule, no_token()) is without_token


def test_a_policy_matches_when_any_rule_does_and_none_without_rules() -> None:
    assert policy_matches(authz(rules=[]), token()) is False
    assert policy_matches(authz(), token()) is False
    assert policy_matches({}, token()) is False
    assert policy_matches(authz(rules=[{"to": [{"operation": {"paths": ["/u"]}}]}, {}]), token()) is True
    assert policy_matches(authz(rules=[{"to": [{"operation": {"paths": ["/u"]}}]}]), token()) is False
    methods = {"to": [{"operation": {"methods": ["GET"]}}]}
    assert policy_matches(authz(rules=[{"to": [{"operation": {"paths": ["/u"]}}]}, methods]), token()) is None


def test_a_policy_without_an_action_allows() -> None:
    assert action(authz(action_=None)) == "ALLOW"
    assert action(authz(action_="")) == "ALLOW"
    assert action(authz(action_="DENY")) == "DENY"
    assert action(authz(action_="CUSTOM")) == "CUSTOM"
    assert action({}) == "ALLOW"


ANON = [_from({"notRequestPrincipals": ["*"]})]


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ([], False),
        ([authz(rules=ANON)], True),
        ([authz(rules=ANON, action_="ALLOW")], False),
        ([authz(rules=ANON, action_=None)], False),
        ([authz(rules=ANON, action_="CUSTOM")], False),
        ([authz(rules=ANON, namespace="other")], False),
        ([authz(rules=ANON, targetRefs=[{"kind": "Gateway", "name": "g"}])], None),
        ([authz(rules=[{"to": [{"operation": {"methods": ["GET"]}}]}])], None),
        ([authz(rules=[_from({"requestPrincipals": ["*"]})])], False),
        ([authz(rules=[{"to": [{"operation": {"methods": ["GET"]}}]}]), authz(rules=ANON)], True),
        ([authz(rules=ANON, action_="ALLOW"), authz(rules=[{}], namespace="other")], False),
    ],
)
def test_a_request_is_denied_by_a_deny_policy_applying_to_the_workload(
    policies: list[dict[str, Any]], expected: Tri
) -> None:
    assert denied(policies, "gw", {"istio": "gateway"}, no_token()) is expected


def test_an_object_without_a_namespace_has_the_empty_one() -> None:
    assert namespace_of({"metadata": {"namespace": "t"}}) == "t"
    assert namespace_of({"metadata": {"namespace": None}}) == ""
    assert namespace_of({"metadata": "x"}) == ""
    assert namespace_of({}) == ""
