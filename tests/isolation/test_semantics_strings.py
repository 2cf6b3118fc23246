"""Istio string matches over probe sets, against brute force: every string of a set, up to a length.

`strings_match` says True only when every string of the probe set matches the field, False only
when none does; checked here on every string the set holds over a small alphabet, with Istio's
match rules written out in test_gateway_semantics.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from krm_fn.isolation.semantics import Strings, strings_match
from tests.isolation.test_gateway_semantics import any_matches

ALPHABET = "a/:"
words = st.text(ALPHABET, max_size=3)
patterns = st.one_of(words, words.map(lambda w: w + "*"), words.map(lambda w: "*" + w), st.just("*"))
probes = st.builds(Strings, st.sampled_from(["exact", "prefix", "suffix"]), words)


def members(probe: Strings, extra: int = 3) -> list[str]:
    if probe.form == "exact":
        return [probe.text]
    tails = ["".join(t) for n in range(extra + 1) for t in itertools.product(ALPHABET, repeat=n)]
    return [probe.text + t if probe.form == "prefix" else t + probe.text for t in tails]


def field_matches(values: list[str] | None, nots: list[str] | None, value: str) -> bool:
    return (values is None or any_matches(values, value)) and (nots is None or not any_matches(nots, value))


@settings(max_examples=500, deadline=None)
@given(
    st.none() | st.lists(patterns, min_size=1, max_size=3),
    st.none() | st.lists(patterns, min_size=1, max_size=2),
    probes,
)
def test_a_verdict_holds_for_every_string_of_the_set(
    values: list[str] | None, nots: list[str] | None, probe: Strings
) -> None:
    verdict = strings_match(values, nots, probe)
    found = {field_matches(values, nots, m) for m in members(probe)}
    if verdict is True:
        assert found == {True}
    elif verdict is False:
        assert found == {False}


def test_sets_the_check_relies_on() -> None:
    under = Strings.prefix("/t/")
    assert strings_match(["/t/*"], None, under) is True
    assert strings_match(["/t*"], None, under) is True
    assert strings_match(["/t/api/*"], None, under) is None  # some paths under /t/, not all
    assert strings_match(["/t"], None, under) is False
    assert strings_match(["/t/*"], ["/t/public/*"], under) is None
    assert strings_match(["ray.example.com:*"], None, Strings.prefix("ray.example.com:")) is True
    assert strings_match(["RAY.example.com"], None, Strings.exact("ray.EXAMPLE.com"), fold=True) is True
