"""The CRDs' CEL rules: how many there are, compile and evaluate, and what one evaluation costs.

    python bench/crd_rules.py [UPSTREAM]        (default ../shared/upstream)

For every CRD version under UPSTREAM: rules, compiled, transition (oldSelf, not evaluated),
not compiled; then every sample object under UPSTREAM checked against them: rule evaluations,
violations, rules not evaluated (with why), and the time of one rule evaluation.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from krm_fn import ray  # noqa: E402
from krm_fn.check import crd_rules, schemas  # noqa: E402
from krm_fn.inputs.loader import load_paths  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; exit 1 when a sample violates a rule."""
    args = list(sys.argv[1:] if argv is None else argv)
    upstream = Path(args[0]) if args else REPO.parent / "shared" / "upstream"
    docs, problems = load_paths([str(upstream)])
    assert not problems, problems
    crds = schemas.CrdSchemas()
    for doc in docs:
        if doc.is_object and doc.data.get("kind") == "CustomResourceDefinition":
            crds.add(doc.data, doc.file)
    print(f"{'kind (apiVersion)':<58} {'rules':>5} {'compiled':>8} {'oldSelf':>7} {'no compile':>10}")
    compiled: dict[tuple[str, str], crd_rules.CrdRules] = {}
    for key in sorted(crds.sources):
        rules = crds.rules(*key)
        assert rules is not None
        compiled[key] = rules
        failed = rules.total - rules.compiled - rules.transition
        print(f"{rules.kind:<58} {rules.total:>5} {rules.compiled:>8} {rules.transition:>7} {failed:>10}")
    totals = [sum(getattr(r, a) for r in compiled.values()) for a in ("total", "compiled", "transition")]
    print(f"{'all':<58} {totals[0]:>5} {totals[1]:>8} {totals[2]:>7} {totals[0] - totals[1] - totals[2]:>10}")

    objects = [
        d
        for d in docs
        if d.is_object and (str(d.data.get("apiVersion")), str(d.data.get("kind"))) in compiled
    ]
    violations: list[str] = []
    notes: set[str] = set()
    for doc in objects:
        rules = compiled[(str(doc.data["apiVersion"]), str(doc.data["kind"]))]
        found, said = crd_rules.evaluate(rules, doc.data)
        violations += [f"{doc.file}: {ray.dotted(p)}: {m}" for p, m in found]
        notes.update(m for _, m in said if "transition" not in m)
    evaluated = sum(r.evaluations for r in compiled.values())
    print(
        f"\n{len(objects)} sample objects with a CRD: {evaluated} rule evaluations, {len(violations)} violations"
    )
    for line in [*violations, *sorted(notes)]:
        print("  " + line)
    unsupported = sorted({r for rules in compiled.values() for r in rules.unsupported})
    print(f"rules not evaluated for want of a function: {len(unsupported)}")
    for rule in unsupported:
        print("  " + rule)
    print(f"one rule evaluation: {per_evaluation(compiled, objects) * 1e6:.1f} us")
    return 1 if violations else 0


def per_evaluation(compiled: dict[tuple[str, str], crd_rules.CrdRules], objects: Sequence[Any]) -> float:
    """Seconds per rule evaluation over the samples, memo cleared each round (best of 5)."""
    best = float("inf")
    for _ in range(5):
        for rules in compiled.values():
            rules._memo.clear()
        before = sum(r.evaluations for r in compiled.values())
        start = time.perf_counter()
        for doc in objects:
            crd_rules.evaluate(compiled[(str(doc.data["apiVersion"]), str(doc.data["kind"]))], doc.data)
        count = sum(r.evaluations for r in compiled.values()) - before
        best = min(best, (time.perf_counter() - start) / max(count, 1))
    return best


if __name__ == "__main__":
    raise SystemExit(main())
