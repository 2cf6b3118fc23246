"""Which claims overlap, example by example: owners, nesting through another owner's claim, and
case folding only where a claim ignores case. Expected pairs are written out by hand."""

from __future__ import annotations

from krm_fn.routing.overlap import Claim, find_overlaps


def pairs(*claims: Claim[str]) -> list[tuple[str, str, str, bool]]:
    return [(o.earlier.prefix, o.later.prefix, o.relation, o.folded) for o in find_overlaps(claims)]


def test_a_claim_of_the_same_owner_on_the_stack_does_not_hide_another_owners() -> None:
    assert pairs(Claim("/a/", "A"), Claim("/a/b/", "B"), Claim("/a/b/c/", "A")) == [
        ("/a/", "/a/b/", "nested", False),
        ("/a/b/", "/a/b/c/", "nested", False),
    ]


def test_a_later_shorter_prefix_contains_the_earlier_one() -> None:
    assert pairs(Claim("/a/b/", "A"), Claim("/a/", "B")) == [("/a/b/", "/a/", "contains", False)]


def test_keys_equal_as_written_are_not_folded_even_when_one_claim_ignores_case() -> None:
    assert pairs(Claim("/a/", "A"), Claim("/a/", "B", ignore_case=True)) == [("/a/", "/a/", "same", False)]
    assert pairs(Claim("/A/", "A"), Claim("/a/", "B", ignore_case=True)) == [("/A/", "/a/", "same", True)]
    assert pairs(Claim("/A/", "A"), Claim("/a/", "B")) == []


def test_exact_paths_meet_only_when_equal_and_a_prefix_covers_those_under_it() -> None:
    assert pairs(Claim("/a", "A", kind="exact"), Claim("/a/", "B"), Claim("/a/x", "C", kind="exact")) == [
        ("/a/", "/a/x", "nested", False)
    ]
    assert pairs(Claim("/a", "A", kind="exact"), Claim("/a", "B", kind="exact")) == [
        ("/a", "/a", "same", False)
    ]
