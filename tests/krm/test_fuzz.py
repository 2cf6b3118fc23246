"""Fuzzing stdin: raw bytes, and valid ResourceLists with bytes flipped, inserted or cut.

Runs in process through krm.run with a fixed number of examples (no time-based stop, so a CI
run is reproducible in cost): the function must answer every input with exit 0 or 1 and a
ResourceList, never an exception. Failures found this way become files in testdata/hostile/.
"""

from __future__ import annotations

import io
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krm_fn import krm
from tests.conftest import REPO
from tests.krm.test_hostile import HOSTILE, assert_contract

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
RAW_EXAMPLES = 2000 if CI else 300
MUTATED_EXAMPLES = 2000 if CI else 300
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


def _seed() -> bytes:
    """The shipped example as kpt would send it: the richest valid input there is."""
    items = [
        yaml.safe_load((REPO / "base" / f).read_text()) for f in ("raycluster.yaml", "virtualservice.yaml")
    ]
    spec = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [*items, spec],
        "functionConfig": spec,
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


SEEDS = [
    _seed(),
    *((HOSTILE / n).read_bytes() for n in ("kustomization-passes.yaml", "odd-scalars-pass.yaml")),
]
# bytes that matter to YAML's structure, more likely than random ones to reach a new state
SPECIAL = [*b":-[]{}&*!|>'\"#%@`,?\t\n \x00\xff", 0xEF, 0xBB, 0xBF, 0xD0, 0xBE]


def _call(raw: bytes) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = krm.run(io.BytesIO(raw), out, err)
    doc = yaml.load(out.getvalue(), Loader=yaml.CSafeLoader)
    assert_contract(raw, code, doc, err.getvalue())


@settings(max_examples=RAW_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(st.binary(max_size=2048))
def test_raw_bytes(raw: bytes) -> None:
    _call(raw)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate"]))
        byte = draw(st.one_of(st.sampled_from(SPECIAL), st.integers(0, 255)))
        if op == "flip" and at < len(data):
            data[at] = byte
        elif op == "insert":
            data[at:at] = bytes([byte])
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            end = min(len(data), at + draw(st.integers(1, 80)))
            data[at:at] = data[at:end]
    return bytes(data)


@settings(max_examples=MUTATED_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(mutated())
def test_mutated_resource_lists(raw: bytes) -> None:
    _call(raw)
