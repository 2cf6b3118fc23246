"""Check time against render time for N tenants over the example base, in-process.

    python bench/check_vs_render.py [N ...] [--crd FOLDER ...]

Prints one row per N: render seconds, check seconds (all checks), and the first check run.

    python bench/check_vs_render.py --cel-cost UPSTREAM [N ...]

The cost of the CRDs' CEL rules instead: `check --select schema` with the Gateway API, Istio and
KubeRay CRDs of UPSTREAM (../shared/upstream), over a base holding an HTTPRoute beside the
example RayCluster and VirtualService, with the rules off (schema only) and on.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from krm_fn import cli  # noqa: E402
from krm_fn.check import crd_rules, schemas  # noqa: E402

# a dashboard HTTPRoute base, copied into every tenant's namespace as the VirtualService is
HTTPROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "ray-dashboard"},
    "spec": {
        "parentRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
        "hostnames": ["ray.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/dashboard/"}}],
                "filters": [
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                    }
                ],
                "backendRefs": [{"name": "raycluster-head-svc", "port": 8265}],
                "timeouts": {"request": "300s"},
            }
        ],
    },
}


def package(root: Path, tenants: int) -> Path:
    """The example layout (base/ + overlays/tenants.yaml, Spot on) with `tenants` tenants."""
    pkg = root / f"pkg-{tenants}"
    shutil.copytree(REPO / "base", pkg / "base")
    spec = yaml.safe_load((REPO / "overlays" / "tenants.yaml").read_text())
    spec["spec"]["tenants"] = [{"name": f"team-{i:04d}"} for i in range(tenants)]
    (pkg / "overlays").mkdir()
    (pkg / "overlays" / "tenants.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return pkg


def timed(argv: list[str], repeat: int) -> tuple[float, float, int]:
    """First run and best of `repeat` runs (seconds) of `ray-tenants ARGV`, and the exit code."""
    times, code = [], -1
    for _ in range(repeat):
        start = time.perf_counter()
        code = cli.main(argv, io.StringIO(), io.StringIO())
        times.append(time.perf_counter() - start)
    return times[0], min(times), code


def cpu_timed(argv: list[str]) -> tuple[float, int]:
    """CPU seconds of one in-process `ray-tenants ARGV`, and its exit code."""
    start = time.process_time()
    code = cli.main(argv, io.StringIO(), io.StringIO())
    return time.process_time() - start, code


@contextlib.contextmanager
def rules_off() -> Iterator[None]:
    """The check without CEL rules: every CRD as if it had none."""
    rules = schemas.CrdSchemas.rules
    schemas.CrdSchemas.rules = lambda self, api_version, kind: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        schemas.CrdSchemas.rules = rules  # type: ignore[method-assign]


_evaluated: list[int] = [0]


def crd_rules_evaluations() -> int:
    """Rule evaluations so far in this process (every CrdRules the check compiled adds its own)."""
    return _evaluated[0]


def _count_evaluations() -> None:
    original = crd_rules.evaluate

    def counting(rules: Any, obj: Any) -> Any:
        before = rules.evaluations
        out = original(rules, obj)
        _evaluated[0] += rules.evaluations - before
        return out

    crd_rules.evaluate = counting


def cel_cost(upstream: Path, tenants: Sequence[int], repeat: int) -> None:
    """Schema check time with the CRDs' CEL rules off and on; one row per N."""
    crds = [
        *("--crd", str(upstream / "gateway-api" / "crd")),
        *("--crd", str(upstream / "istio" / "virtualservices.networking.istio.io.crd.yaml")),
        *("--crd", str(upstream / "kuberay" / "crd")),
    ]
    _count_evaluations()
    print(
        f"{'tenants':>8} {'schema only CPU s':>18} {'with CEL CPU s':>15} {'ratio':>6} {'rule evaluations':>17}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in tenants:
            pkg = package(Path(tmp), n)
            (pkg / "base" / "httproute.yaml").write_text(yaml.safe_dump(HTTPROUTE, sort_keys=False))
            argv = ["check", "--select", "schema", *crds, str(pkg / "base"), str(pkg / "overlays")]
            # off and on in turns, best of `repeat` each, in CPU seconds: on a shared machine the
            # wall clock measures the neighbours' load more than the check
            schema_s = cel_s = float("inf")
            evaluations = 0
            for _ in range(repeat):
                with rules_off():
                    seconds, rc = cpu_timed(argv)
                assert rc == 0, "schema-only check failed"
                schema_s = min(schema_s, seconds)
                before = crd_rules_evaluations()
                seconds, rc = cpu_timed(argv)
                assert rc == 0, "check with CEL failed"
                cel_s = min(cel_s, seconds)
                evaluations = crd_rules_evaluations() - before
            print(f"{n:>8} {schema_s:>18.3f} {cel_s:>15.3f} {cel_s / schema_s:>6.2f} {evaluations:>17}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tenants", nargs="*", type=int, default=[10, 100, 1000])
    parser.add_argument("--crd", action="append", default=[], help="also validate against these CRDs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cel-cost", metavar="UPSTREAM", help="measure the CRDs' CEL rules instead")
    args = parser.parse_args(argv)
    if args.cel_cost:
        cel_cost(Path(args.cel_cost), args.tenants, args.repeat)
        return 0
    crds = [a for c in args.crd for a in ("--crd", c)]
    print(f"{'tenants':>8} {'render s':>9} {'check s':>8} {'ratio':>6} {'check first run s':>18}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.tenants:
            pkg = package(Path(tmp), n)
            paths = [str(pkg / "base"), str(pkg / "overlays")]
            check_first, check_s, rc = timed(["check", *crds, *paths], args.repeat)
            assert rc == 0, "check failed"
            _, render_s, rc = timed(["render", *paths], args.repeat)
            assert rc == 0, "render failed"
            print(f"{n:>8} {render_s:>9.3f} {check_s:>8.3f} {check_s / render_s:>6.2f} {check_first:>18.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
