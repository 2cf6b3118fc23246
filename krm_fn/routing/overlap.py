"""Prefix overlap: which URI prefixes on one host and gateway would take each other's traffic.

Istio merges the VirtualServices bound to one host and gateway in an undefined order, so when one
prefix is a (string) prefix of another, which tenant a request reaches is undefined. The tenant
spec and the check both ask this module; neither has a copy of the rule.

Sorted, every prefix directly follows the prefixes it extends, so one pass with a stack of the
prefixes enclosing the current one finds every overlapping pair in n log n (plus the pairs found):
thousands of tenants are not compared pairwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Literal, TypeVar

from krm_fn.results import Record

Owner = TypeVar("Owner")
FieldPath = tuple[str | int, ...]
# how the later prefix relates to the earlier one
Relation = Literal["same", "nested", "contains"]
PHRASES: dict[Relation, str] = {"same": "is the same as", "nested": "is nested in", "contains": "contains"}


class Claim(Record, Generic[Owner]):
    """A prefix someone routes: who (a tenant, a VirtualService) and where it is written."""

    _fields = __slots__ = ("prefix", "owner", "path")

    def __init__(self, prefix: str, owner: Owner, path: FieldPath = ()) -> None:
        self.prefix = prefix
        self.owner = owner
        self.path = path


class Overlap(Record, Generic[Owner]):
    """Two claims of different owners whose prefixes overlap, in input order, and how."""

    _fields = __slots__ = ("earlier", "later", "relation")

    def __init__(self, earlier: Claim[Owner], later: Claim[Owner], relation: Relation) -> None:
        self.earlier = earlier
        self.later = later
        self.relation: Relation = relation

    @property
    def phrase(self) -> str:
        """`is the same as`, `is nested in` or `contains`: the later prefix against the earlier."""
        return PHRASES[self.relation]


def find_overlaps(claims: Iterable[Claim[Owner]]) -> list[Overlap[Owner]]:
    """Every pair of claims of different owners where one prefix is a prefix of the other.

    Pairs come in input order of the later claim, then of the earlier one, so findings read in
    the order the claims were written.
    """
    entries = list(claims)
    order = sorted(range(len(entries)), key=lambda i: (entries[i].prefix, i))
    found: list[tuple[int, int, Relation]] = []  # (later, earlier, how)
    stack: list[int] = []  # claims whose prefixes are prefixes of the current one, shortest first
    for i in order:
        claim = entries[i]
        while stack and not claim.prefix.startswith(entries[stack[-1]].prefix):
            stack.pop()
        for k in stack:
            if entries[k].owner == claim.owner:
                continue
            if entries[k].prefix == claim.prefix:
                found.append((i, k, "same"))  # sorted by position among equals: k is earlier
            elif k < i:
                found.append((i, k, "nested"))
            else:
                found.append((k, i, "contains"))
        stack.append(i)
    found.sort(key=lambda pair: (pair[0], pair[1]))
    return [Overlap(entries[earlier], entries[later], how) for later, earlier, how in found]
