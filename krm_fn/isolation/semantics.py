"""NetworkPolicy ingress and Istio authorization, evaluated as Kubernetes and Istio evaluate them.

The check asks these functions what a set of policies lets through, instead of comparing the
policies with the ones the function writes: a hand-written policy that admits the same traffic
passes, one that admits more fails, whatever its shape.

Manifests do not tell everything the data plane sees (the cluster name KubeRay gives a RayJob's
pods, a client's IP address), so answers are three-valued: True, False, or None for "cannot tell
from the manifests". The verifier counts an unknown match as no protection and an unknown
admission as a possible leak.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

from krm_fn.isolation.network import NAMESPACE_NAME_LABEL
from krm_fn.results import Record

FieldPath = tuple[str | int, ...]
Tri = bool | None  # True, False, or None: cannot tell from the manifests

# a port range: (first, last), both included; None is every port
Ports = tuple[tuple[int, int], ...] | None
# a port named in a policy but not in the pod template (no port is numbered 0)
UNNAMED = (0, 0)


def all3(values: Iterable[Tri]) -> Tri:
    """Three-valued AND: False wins, then unknown."""
    out: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


def any3(values: Iterable[Tri]) -> Tri:
    """Three-valued OR: True wins, then unknown."""
    out: Tri = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


def not3(value: Tri) -> Tri:
    return None if value is None else not value


def mapping_of(value: object) -> Mapping[str, Any]:
    """`value` where it is a mapping, else an empty one (manifests may hold anything)."""
    return value if isinstance(value, Mapping) else {}


def list_of(value: object) -> list[Any]:
    """`value` where it is a list, else an empty one."""
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------------------------
# Kubernetes label selectors and NetworkPolicy ingress


def selector_matches(selector: object, labels: Mapping[str, str], unknown: Set[str] = frozenset()) -> Tri:
    """A LabelSelector (`matchLabels`, `matchExpressions`) on labels; keys in `unknown` have a value not known here."""
    sel = mapping_of(selector)
    out: list[Tri] = []
    for name, value in mapping_of(sel.get("matchLabels")).items():
        out.append(None if name in unknown else labels.get(name) == str(value))
    for expr in list_of(sel.get("matchExpressions")):
        expr = mapping_of(expr)
        key, op = str(expr.get("key")), expr.get("operator")
        values = {str(v) for v in list_of(expr.get("values"))}
        present = key in labels
        if op == "Exists":
            out.append(True if key in unknown else present)
        elif op == "DoesNotExist":
            out.append(False if key in unknown else not present)
        elif key in unknown and op in ("In", "NotIn"):
            out.append(None)
        elif op == "In":
            out.append(present and labels[key] in values)
        elif op == "NotIn":
            out.append(not present or labels[key] not in values)
        else:  # the API server refuses any other operator: nothing is selected
            out.append(False)
    return all3(out)


def selected_namespaces(selector: object) -> frozenset[str] | None:
    """The namespaces a namespaceSelector may match: those its name requirements pin, None for any.

    Only `kubernetes.io/metadata.name` names a namespace; any other label may be set on any
    namespace by whoever can label namespaces, so a selector on it alone admits any namespace.
    """
    sel = mapping_of(selector)
    pinned: set[str] | None = None
    name = mapping_of(sel.get("matchLabels")).get(NAMESPACE_NAME_LABEL)
    if name is not None:
        pinned = {str(name)}
    for expr in list_of(sel.get("matchExpressions")):
        expr = mapping_of(expr)
        if expr.get("key") != NAMESPACE_NAME_LABEL:
            continue
        if expr.get("operator") == "In":
            values = {str(v) for v in list_of(expr.get("values"))}
            pinned = values if pinned is None else pinned & values
        elif expr.get("operator") == "DoesNotExist":
            pinned = set()  # every namespace has the label
    return None if pinned is None else frozenset(pinned)


class Pod(Record):
    """The pods of one group of a workload, as far as the manifests tell.

    `unknown` are label keys the pods carry with a value decided at run time; `ports` are the
    named container ports (a NetworkPolicy may name a port instead of numbering it).
    """

    _fields = __slots__ = ("namespace", "labels", "unknown", "ports")

    def __init__(
        self,
        namespace: str,
        labels: Mapping[str, str],
        unknown: frozenset[str] = frozenset(),
        ports: Mapping[str, int] | None = None,
    ) -> None:
        self.namespace = namespace
        self.labels = labels
        self.unknown = unknown
        self.ports = ports or {}


class Admission(Record):
    """Traffic one ingress rule of a policy lets into a pod.

    `namespaces`: where it may come from, None for anywhere (then `source` says what it is:
    every namespace, addresses); `ports`: the pod's ports it may reach; `path`: the rule's (or
    the peer's) field; `selects`: whether the policy selects the pod at all (None: cannot tell).
    """

    _fields = __slots__ = ("namespaces", "ports", "path", "selects", "source")

    def __init__(
        self, namespaces: frozenset[str] | None, ports: Ports, path: FieldPath, selects: Tri, source: str
    ) -> None:
        self.namespaces = namespaces
        self.ports = ports
        self.path = path
        self.selects = selects
        self.source = source


def policy_selects(policy: Mapping[str, Any], pod: Pod) -> Tri:
    """Whether a NetworkPolicy isolates `pod` for ingress: its namespace, `podSelector` and `policyTypes`."""
    if namespace_of(policy) != pod.namespace:
        return False
    spec = mapping_of(policy.get("spec"))
    types = spec.get("policyTypes")
    # without policyTypes a policy always governs ingress (egress only when it has egress rules)
    if isinstance(types, list) and "Ingress" not in types:
        return False
    return selector_matches(spec.get("podSelector"), pod.labels, pod.unknown)


def admissions(policy: Mapping[str, Any], pod: Pod) -> Iterator[Admission]:
    """What each ingress rule of `policy` lets into `pod`, when the policy may select it."""
    selects = policy_selects(policy, pod)
    if selects is False:
        return
    for i, rule in enumerate(list_of(mapping_of(policy.get("spec")).get("ingress"))):
        rule = mapping_of(rule)
        ports = rule_ports(rule, pod)
        rpath: FieldPath = ("spec", "ingress", i)
        peers = list_of(rule.get("from"))
        if not peers:  # no `from`: every source
            yield Admission(None, ports, rpath, selects, "every source (no `from`)")
        for j, peer in enumerate(peers):
            namespaces, source = peer_source(mapping_of(peer), pod.namespace)
            yield Admission(namespaces, ports, (*rpath, "from", j), selects, source)


def peer_source(peer: Mapping[str, Any], namespace: str) -> tuple[frozenset[str] | None, str]:
    """Where an ingress peer's traffic may come from, and what that is when it is anywhere.

    A pod selector alone is the policy's own namespace.
    """
    if "ipBlock" in peer:
        cidr = mapping_of(peer.get("ipBlock")).get("cidr")
        return None, f"addresses in {cidr} (pods of any namespace among them)"
    if "namespaceSelector" in peer:
        selector = peer.get("namespaceSelector")
        if not mapping_of(selector):
            return None, "pods of every namespace"
        return selected_namespaces(selector), (
            "pods of every namespace that carries or gets those labels (a namespace is named only by "
            f"{NAMESPACE_NAME_LABEL})"
        )
    if "podSelector" in peer:
        return frozenset({namespace}), ""
    return None, "every source (a peer without selectors)"


def rule_ports(rule: Mapping[str, Any], pod: Pod) -> Ports:
    """The ports of `pod` an ingress rule admits: None for every port, UNNAMED for a name the template lacks."""
    entries = list_of(rule.get("ports"))
    if not entries:
        return None
    out: list[tuple[int, int]] = []
    for entry in entries:
        entry = mapping_of(entry)
        port = entry.get("port")
        if port is None:
            return None  # every port of the protocol
        if isinstance(port, str) and not port.isdigit():
            # a name the template does not declare may be a container KubeRay or a mesh adds
            out.append((pod.ports[port], pod.ports[port]) if port in pod.ports else UNNAMED)
            continue
        if isinstance(port, bool) or not isinstance(port, (int, str)):
            return None  # not a port: the schema check says so; here it may be any port
        first = int(port)
        end = entry.get("endPort")
        # an endPort below the port is refused by the API server: the port alone
        out.append((first, max(first, end) if isinstance(end, int) else first))
    return tuple(out)


def ports_within(ports: Ports, allowed: Set[int]) -> bool:
    """True when every port in `ports` is one of `allowed`."""
    # stops at the first port not allowed: a wide range costs at most len(allowed) + 1 steps
    return ports is not None and all(p in allowed for first, last in ports for p in range(first, last + 1))


def show_ports(ports: Ports) -> str:
    """Ports for a message: `8265`, `8000-8999`, `every port`."""
    if ports is None:
        return "every port"
    return (
        ", ".join(
            "a port its pod template does not name" if (a, b) == UNNAMED else str(a) if a == b else f"{a}-{b}"
            for a, b in ports
        )
        or "no port"
    )


# --------------------------------------------------------------------------------------------
# Istio authorization (security.istio.io AuthorizationPolicy), for one workload and one request


class Strings(Record):
    """A set of strings a probe stands for: one string, or all those with a prefix or a suffix.

    `Strings.prefix("/t/")` is every path under `/t/`; `Strings.prefix("")` is every string.
    A policy covers a probe only when it matches every string of the set.
    """

    _fields = __slots__ = ("form", "text")

    def __init__(self, form: str, text: str) -> None:
        self.form = form  # "exact", "prefix" or "suffix"
        self.text = text

    @classmethod
    def exact(cls, text: str) -> Strings:
        return cls("exact", text)

    @classmethod
    def prefix(cls, text: str) -> Strings:
        return cls("prefix", text)

    @classmethod
    def suffix(cls, text: str) -> Strings:
        return cls("suffix", text)

    def folded(self) -> Strings:
        return Strings(self.form, self.text.lower())

    def __str__(self) -> str:
        return {"exact": self.text, "prefix": f"{self.text}*", "suffix": f"*{self.text}"}[self.form]


ANY = Strings.prefix("")


def _pattern(raw: str) -> Strings | None:
    """An Istio string match as a set: exact, `prefix*`, `*suffix`, `*`; None for a path template."""
    if "{" in raw:
        return None
    if raw.startswith("*"):
        return Strings.suffix(raw[1:])
    if raw.endswith("*"):
        return Strings.prefix(raw[:-1])
    return Strings.exact(raw)


def _contains(pattern: Strings, probe: Strings) -> bool:
    """Every string of `probe` matches `pattern`."""
    if (pattern.form != "exact" and not pattern.text) or probe.form == "exact":
        return _touches(pattern, probe)
    return pattern.form == probe.form and (
        probe.text.startswith(pattern.text) if probe.form == "prefix" else probe.text.endswith(pattern.text)
    )


def _touches(pattern: Strings, probe: Strings) -> bool:
    """Some string of `probe` matches `pattern`."""
    a, b = pattern, probe
    if a.form == "exact" and b.form == "exact":
        return a.text == b.text
    if b.form == "exact":
        a, b = b, a
    if a.form == "exact":  # one string against a set
        return a.text.startswith(b.text) if b.form == "prefix" else a.text.endswith(b.text)
    if a.form == b.form:  # two prefixes (or two suffixes) meet when one extends the other
        x, y = a.text, b.text
        return x.startswith(y) or y.startswith(x) if a.form == "prefix" else x.endswith(y) or y.endswith(x)
    return True  # a prefix and a suffix: their concatenation is in both


def strings_match(values: object, nots: object, probe: Strings, fold: bool = False) -> Tri:
    """A field and its `not` twin over a probe: True when every string of it matches, False when none."""
    if fold:
        probe = probe.folded()
    out: list[Tri] = []
    for listed, negated in ((values, False), (nots, True)):
        if not isinstance(listed, list):
            continue
        patterns = [_pattern(str(v).lower() if fold else str(v)) for v in listed]
        every = any(p is not None and _contains(p, probe) for p in patterns)
        some = any(p is None or _touches(p, probe) for p in patterns)
        hit: Tri = True if every else None if some else False
        out.append(not3(hit) if negated else hit)
    return all3(out)


class Request(Record):
    """Requests at a gateway, as a probe: what Istio's authorization matches on.

    `host` and `path` are one string or a set of them (`Strings`); the method and port are any.
    `principal` is the request principal (`<issuer>/<subject>` of a valid JWT), None without
    one; `claims` the token's claims (a list claim as a list).
    """

    _fields = __slots__ = ("host", "path", "principal", "claims")

    def __init__(
        self,
        host: str | Strings,
        path: str | Strings,
        principal: str | None = None,
        claims: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.host = host if isinstance(host, Strings) else Strings.exact(host)
        self.path = path if isinstance(path, Strings) else Strings.exact(path)
        self.principal = principal
        self.claims = claims or {}


def applies_to(policy: Mapping[str, Any], namespace: str, labels: Mapping[str, str]) -> Tri:
    """Whether an AuthorizationPolicy applies to the workload with `labels` in `namespace`.

    A `selector` matches workloads of the policy's own namespace; `targetRefs` name Gateways or
    Services, which the manifests alone do not tie to a workload.
    """
    if namespace_of(policy) != namespace:
        return False
    spec = mapping_of(policy.get("spec"))
    if spec.get("targetRef") or spec.get("targetRefs"):
        return None
    wanted = mapping_of(mapping_of(spec.get("selector")).get("matchLabels"))
    return all(labels.get(k) == str(v) for k, v in wanted.items())


def _values_match(values: object, nots: object, have: Sequence[str]) -> Tri:
    """A field over known values (a principal, a claim's list): any of them matches."""
    out: list[Tri] = []
    if isinstance(values, list):
        out.append(any3(strings_match(values, None, Strings.exact(h)) for h in have))
    if isinstance(nots, list):
        out.append(not3(any3(strings_match(nots, None, Strings.exact(h)) for h in have)))
    return all3(out)


def _source_matches(source: Mapping[str, Any], request: Request) -> Tri:
    out: list[Tri] = []
    for key in source:
        if key not in ("requestPrincipals", "notRequestPrincipals"):
            # peer identities, namespaces and addresses of a client at the gateway: not in the manifests
            out.append(None)
    have = [request.principal] if request.principal is not None else []
    out.append(_values_match(source.get("requestPrincipals"), source.get("notRequestPrincipals"), have))
    return all3(out)


def _operation_matches(op: Mapping[str, Any], request: Request) -> Tri:
    return all3(
        [
            strings_match(op.get("hosts"), op.get("notHosts"), request.host, fold=True),
            strings_match(op.get("paths"), op.get("notPaths"), request.path),
            # a probe stands for every method and port
            strings_match(op.get("methods"), op.get("notMethods"), ANY),
            strings_match(op.get("ports"), op.get("notPorts"), ANY),
        ]
    )


def _claim_values(key: str, request: Request) -> Sequence[str] | None:
    """The values of a `when` key for the request, None where the manifests do not tell them."""
    if key == "request.auth.principal":
        return [request.principal] if request.principal is not None else []
    prefix = "request.auth.claims["
    if key.startswith(prefix) and key.endswith("]") and "][" not in key:
        return request.claims.get(key[len(prefix) : -1], [])
    return None


def _condition_matches(cond: Mapping[str, Any], request: Request) -> Tri:
    have = _claim_values(str(cond.get("key")), request)
    if have is None:
        return None
    return _values_match(cond.get("values"), cond.get("notValues"), [str(h) for h in have])


def rule_matches(rule: Mapping[str, Any], request: Request) -> Tri:
    """One rule: any of its `from` sources, any of its `to` operations, and every `when` condition.

    Istio reads an empty list (or null) as the field not set: no condition.
    """
    out: list[Tri] = []
    if rule.get("from") not in (None, []):
        out.append(
            any3(
                _source_matches(mapping_of(mapping_of(f).get("source")), request)
                for f in list_of(rule["from"])
            )
        )
    if rule.get("to") not in (None, []):
        out.append(
            any3(
                _operation_matches(mapping_of(mapping_of(t).get("operation")), request)
                for t in list_of(rule["to"])
            )
        )
    out.extend(_condition_matches(mapping_of(c), request) for c in list_of(rule.get("when")))
    return all3(out)


def action(policy: Mapping[str, Any]) -> str:
    """The policy's action; ALLOW when it names none."""
    return str(mapping_of(policy.get("spec")).get("action") or "ALLOW")


def policy_matches(policy: Mapping[str, Any], request: Request) -> Tri:
    """Whether any rule of the policy matches; a policy without rules matches nothing."""
    return any3(
        rule_matches(mapping_of(r), request) for r in list_of(mapping_of(policy.get("spec")).get("rules"))
    )


def denied(
    policies: Iterable[Mapping[str, Any]], namespace: str, labels: Mapping[str, str], request: Request
) -> Tri:
    """Whether a DENY policy applying to the workload denies `request` (CUSTOM and ALLOW aside)."""
    return any3(
        all3([applies_to(p, namespace, labels), policy_matches(p, request)])
        for p in policies
        if action(p) == "DENY"
    )


def namespace_of(obj: Mapping[str, Any]) -> str:
    """An object's namespace, '' where it names none."""
    return str(mapping_of(obj.get("metadata")).get("namespace") or "")
