"""The generated gateway policies, evaluated by a small Istio authorization evaluator written here.

The evaluator knows Istio's order (CUSTOM, then DENY, then ALLOW: a request no DENY matches is
allowed unless some ALLOW policy selects the workload) and its matching (case-insensitive hosts;
exact, `prefix*`, `*suffix` and `*` strings; a `from` source without a request principal for no
token; `request.auth.claims[...]` conditions), and that a RequestAuthentication turns a valid
token into a request principal and its claims. It shares no code with the function. It proves,
for every tenant, that only the tenant's groups reach its paths, `/t` and `/t/x` alike, and that
nobody else's paths are touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.isolation.generated import (
    GATEWAY_LABELS,
    GATEWAY_NAMESPACE,
    ISSUER,
    groups_of,
    render,
    spec,
    tenants,
)

HOST = "ray.example.com"
TOKENLESS = None


def string_matches(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


def any_matches(patterns: Sequence[str], value: str) -> bool:
    return any(string_matches(p, value) for p in patterns)


class Call:
    """A request at the gateway: host, path, the groups of a valid token (None: no token), method."""

    def __init__(self, host: str, path: str, groups: Sequence[str] | None, method: str = "GET") -> None:
        self.host = host.lower()
        self.path = path
        self.method = method
        self.groups = list(groups) if groups is not None else None
        self.principal = f"{ISSUER}/someone" if groups is not None else None


def source_matches(source: Mapping[str, Any], call: Call) -> bool:
    if "requestPrincipals" in source and not (
        call.principal and any_matches(source["requestPrincipals"], call.principal)
    ):
        return False
    return not (
        "notRequestPrincipals" in source
        and call.principal
        and any_matches(source["notRequestPrincipals"], call.principal)
    )


def operation_matches(op: Mapping[str, Any], call: Call) -> bool:
    if "hosts" in op and not any_matches([h.lower() for h in op["hosts"]], call.host):
        return False
    if "notHosts" in op and any_matches([h.lower() for h in op["notHosts"]], call.host):
        return False
    if "paths" in op and not any_matches(op["paths"], call.path):
        return False
    if "notPaths" in op and any_matches(op["notPaths"], call.path):
        return False
    if "methods" in op and not any_matches(op["methods"], call.method):
        return False
    return not ("notMethods" in op and any_matches(op["notMethods"], call.method))


def condition_matches(cond: Mapping[str, Any], call: Call) -> bool:
    assert cond["key"] == "request.auth.claims[groups]", cond  # the only key the spec asks for
    have = call.groups or []
    if "values" in cond and not any(any_matches(cond["values"], g) for g in have):
        return False
    return not ("notValues" in cond and any(any_matches(cond["notValues"], g) for g in have))


def rule_matches(rule: Mapping[str, Any], call: Call) -> bool:
    return (
        ("from" not in rule or any(source_matches(f["source"], call) for f in rule["from"]))
        and ("to" not in rule or any(operation_matches(t["operation"], call) for t in rule["to"]))
        and all(condition_matches(c, call) for c in rule.get("when", []))
    )


def selects_gateway(policy: Mapping[str, Any]) -> bool:
    wanted = policy["spec"].get("selector", {}).get("matchLabels", {})
    return policy["metadata"]["namespace"] == GATEWAY_NAMESPACE and all(
        GATEWAY_LABELS.get(k) == v for k, v in wanted.items()
    )


def passes(policies: Sequence[Mapping[str, Any]], call: Call) -> bool:
    """Istio's verdict at the gateway workload for `call`."""
    mine = [p for p in policies if selects_gateway(p)]
    for p in mine:
        if p["spec"].get("action") == "DENY" and any(
            rule_matches(r, call) for r in p["spec"].get("rules", [])
        ):
            return False
    allows = [p for p in mine if p["spec"].get("action", "ALLOW") == "ALLOW"]
    return not allows or any(rule_matches(r, call) for p in allows for r in p["spec"].get("rules", []))


def paths(tenant: str) -> list[str]:
    return [
        f"/{tenant}",
        f"/{tenant}/",
        f"/{tenant}/x",
        f"/{tenant}/api/jobs/",
        f"/{tenant}/static/js/main.js",
    ]


@pytest.fixture
def policies(generated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [o for o in generated if o.get("kind") == "AuthorizationPolicy"]
    assert len(found) == len(tenants())
    assert all(p["spec"]["action"] == "DENY" for p in found)  # never ALLOW on a shared gateway
    return found


@pytest.mark.parametrize("tenant", tenants())
def test_only_the_tenants_groups_pass_on_every_path(policies: list[dict[str, Any]], tenant: str) -> None:
    others = [g for t in tenants() if t != tenant for g in groups_of(t)]
    for host in (HOST, HOST.upper(), f"{HOST}:443"):
        for path in paths(tenant):
            for group in groups_of(tenant):
                assert passes(policies, Call(host, path, [group])), (host, path, group)
                assert passes(policies, Call(host, path, ["unrelated", group])), (host, path, group)
            assert not passes(policies, Call(host, path, TOKENLESS)), (host, path)
            assert not passes(policies, Call(host, path, [])), (host, path)
            assert not passes(policies, Call(host, path, ["someone-else"])), (host, path)
            for group in others:
                assert not passes(policies, Call(host, path, [group])), (host, path, group)


@pytest.mark.parametrize("tenant", tenants())
def test_other_paths_are_unaffected(policies: list[dict[str, Any]], tenant: str) -> None:
    """Paths of nobody, look-alike prefixes and other hosts keep whatever the gateway did before."""
    for path in ["/", "/grafana/", f"/{tenant}-2/", f"/{tenant}x", f"/x/{tenant}/"]:
        assert passes(policies, Call(HOST, path, TOKENLESS)), path
    assert passes(policies, Call("other.example.com", f"/{tenant}/", TOKENLESS))


def test_the_evaluator_itself_denies_and_allows() -> None:
    """The oracle is not vacuous: an ALLOW policy denies what it does not match, a DENY what it does."""
    allow: dict[str, Any] = {
        "metadata": {"namespace": GATEWAY_NAMESPACE},
        "spec": {
            "selector": {"matchLabels": GATEWAY_LABELS},
            "rules": [{"to": [{"operation": {"paths": ["/a/*"]}}]}],
        },
    }
    deny = {**allow, "spec": {**allow["spec"], "action": "DENY"}}
    assert passes([], Call(HOST, "/b/", TOKENLESS))
    assert not passes([allow], Call(HOST, "/b/", TOKENLESS))
    assert passes([allow], Call(HOST, "/a/x", TOKENLESS))
    assert not passes([deny], Call(HOST, "/a/x", ["g"]))
    assert passes([deny], Call(HOST, "/a", ["g"]))  # `/a/*` does not match `/a`


def test_a_wildcard_route_host_cannot_be_passed_with_a_port(tmp_path: Path) -> None:
    """With a shared wildcard host, a Host header with a port gets no further than one without."""
    doc = spec()
    doc["spec"]["routing"]["hosts"] = ["*.example.com"]
    found = [o for o in render(doc, tmp_path) if o.get("kind") == "AuthorizationPolicy"]
    assert len(found) == len(tenants())
    for tenant in tenants():
        for host in ("x.example.com", "x.example.com:443", "X.EXAMPLE.COM:8443"):
            for path in paths(tenant):
                assert not passes(found, Call(host, path, TOKENLESS)), (host, path)
                for group in groups_of(tenant):
                    assert passes(found, Call(host, path, [group])), (host, path, group)
