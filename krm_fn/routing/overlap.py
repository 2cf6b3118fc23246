"""Prefix overlap: which URI prefixes on one host and gateway would take each other's traffic.

Istio merges the VirtualServices bound to one host and gateway in an undefined order, so when one
prefix is a (string) prefix of another, which tenant a request reaches is undefined. The tenant
spec and the check both ask this module; neither has a copy of the rule.

A claim is a prefix, an exact path or a regex. Each is compared by a key that any path it
matches starts with: a prefix is its own key; an exact path is itself followed by a character no
path holds (so a prefix covers it when the path starts with the prefix, and two exact paths only
meet when equal); a regex is its leading literal text (`served.literal_prefix`: `/mlops/.*` is
`/mlops/`, and a regex with no literal start is the empty key, which every path starts with).
So a regex is taken to capture every path under its literal start: sound, never a missed
overlap, at the price of calling some regexes overlapping that are not. A claim that ignores
case overlaps another when their keys do in lower case.

Sorted, every key directly follows the keys it extends, so one pass with a stack of the keys
enclosing the current one finds every overlapping pair in n log n (plus the pairs found):
thousands of tenants are not compared pairwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Literal, TypeVar

from krm_fn.results import Record
from krm_fn.routing.served import FieldPath, literal_prefix

Owner = TypeVar("Owner")
ClaimKind = Literal["prefix", "exact", "regex"]
_END = "\x00"  # no URL path holds it: ends an exact path's key
# how the later prefix relates to the earlier one
Relation = Literal["same", "nested", "contains"]
PHRASES: dict[Relation, str] = {"same": "is the same as", "nested": "is nested in", "contains": "contains"}


class Claim(Record, Generic[Owner]):
    """A path someone routes: who (a tenant, a VirtualService), where it is written, and how it matches.

    `prefix` is the value as written: a prefix, an exact path or a regex, as `kind` says.
    """

    _fields = __slots__ = ("prefix", "owner", "path", "kind", "ignore_case")

    def __init__(
        self,
        prefix: str,
        owner: Owner,
        path: FieldPath = (),
        kind: ClaimKind = "prefix",  # pragma: no mutate (equivalent: any kind but exact and regex is a prefix)
        ignore_case: bool = False,
    ) -> None:
        self.prefix = prefix
        self.owner = owner
        self.path = path
        self.kind: ClaimKind = kind
        self.ignore_case = ignore_case

    @property
    def key(self) -> str:
        """What every path this claim matches starts with (see the module's docstring)."""
        if self.kind == "exact":
            return self.prefix + _END
        if self.kind == "regex":
            return literal_prefix(self.prefix)
        return self.prefix


class Overlap(Record, Generic[Owner]):
    """Two claims of different owners whose prefixes overlap, in input order, and how."""

    _fields = __slots__ = ("earlier", "later", "relation", "folded")

    def __init__(self, earlier: Claim[Owner], later: Claim[Owner], relation: Relation, folded: bool) -> None:
        self.earlier = earlier
        self.later = later
        self.relation: Relation = relation
        self.folded = folded  # they overlap only in lower case: one of them ignores case

    @property
    def phrase(self) -> str:
        """`is the same as`, `is nested in` or `contains`: the later prefix against the earlier."""
        return PHRASES[self.relation]


def find_overlaps(claims: Iterable[Claim[Owner]]) -> list[Overlap[Owner]]:
    """Every pair of claims of different owners where one key is a prefix of the other.

    Pairs come in input order of the later claim, then of the earlier one, so findings read in
    the order the claims were written.
    """
    entries = list(claims)
    found = {
        (later, earlier): (how, False) for later, earlier, how in _pairs([c.key for c in entries], entries)
    }
    if any(c.ignore_case for c in entries):
        for later, earlier, how in _pairs([c.key.lower() for c in entries], entries):
            if (later, earlier) not in found and (entries[later].ignore_case or entries[earlier].ignore_case):
                found[(later, earlier)] = (how, True)
    return [
        Overlap(entries[earlier], entries[later], how, folded)
        for (later, earlier), (how, folded) in sorted(found.items())
    ]


def _pairs(keys: list[str], entries: list[Claim[Owner]]) -> list[tuple[int, int, Relation]]:
    """(later, earlier, how) for the pairs of `entries` of different owners whose `keys` overlap."""
    order = sorted(range(len(keys)), key=lambda i: (keys[i], i))
    found: list[tuple[int, int, Relation]] = []
    stack: list[int] = []  # claims whose keys are prefixes of the current one, shortest first
    for i in order:
        while stack and not keys[i].startswith(keys[stack[-1]]):
            stack.pop()
        for k in stack:
            if entries[k].owner == entries[i].owner:
                continue
            if keys[k] == keys[i]:
                found.append((i, k, "same"))  # sorted by position among equals: k is earlier
            elif k < i:  # pragma: no mutate (equivalent: k <= i, as k is on the stack before i is)
                found.append((i, k, "nested"))
            else:
                found.append((k, i, "contains"))
        stack.append(i)
    return found
