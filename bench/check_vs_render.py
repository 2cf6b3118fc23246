"""Check time against render time for N tenants over the example base, in-process.

    python bench/check_vs_render.py [N ...] [--crd FOLDER ...]

Prints one row per N: render seconds, check seconds (all checks), and distinct validations.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from krm_fn import cli  # noqa: E402


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tenants", nargs="*", type=int, default=[10, 100, 1000])
    parser.add_argument("--crd", action="append", default=[], help="also validate against these CRDs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
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
