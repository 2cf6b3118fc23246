"""Benchmark: `ray-tenants render` against the hand-written way, and against the floor.

For N tenants (two worker groups each, the shipped example base) it measures, in one run on one
machine:

  (a) `ray-tenants render --config SPEC base/` as a subprocess (wall time, best of --repeat);
  (b) `kubectl kustomize` over N hand-written overlays (namespace, labels, JSON 6902 patches for the
      routing and the Spot placement), listed by one top-level kustomization (one call); and one
      `kubectl kustomize` call per overlay, as a per-tenant CI job runs it (measured on a sample);
  (c) the floor: pyyaml's C dumper serialising (a)'s output objects, in process;

plus the KRM mode (a ResourceList on stdin), `output: overlays` generation and `ray-tenants check`
where this build has them, each call's peak memory, and the cold start of a one-tenant call
against a Python process that only imports yaml and echoes its input.

    python bench/bench.py                      # N = 10, 100, 1000
    python bench/bench.py --tenants 10,100 --repeat 5
    python bench/bench.py --installed           # the `ray-tenants` on PATH, not this checkout

It prints Markdown: the machine, a table per measurement, and the targets with their ratios.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import krm_fn

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "base"
SPEC = REPO / "overlays" / "tenants.yaml"
ECHO = "import yaml, sys; sys.stdout.write(sys.stdin.read())"
SPOT_SELECTOR = {"cloud.google.com/gke-spot": "true"}


def base_files() -> list[Path]:
    """The base manifests (the folder's own kustomization.yaml is regenerated, not copied)."""
    return [p for p in sorted(BASE.glob("*.yaml")) if p.name != "kustomization.yaml"]


@dataclass
class Timing:
    """Best wall time of several runs, the peak memory of the best one, and what it printed."""

    seconds: float
    peak_mb: float
    returncode: int
    output: bytes = b""


def measure(
    cmd: Sequence[str], repeat: int, stdin: Path | None = None, env: dict[str, str] | None = None
) -> Timing:
    """Run `cmd` `repeat` times; the best wall time (the least disturbed by other load) wins."""
    best: Timing | None = None
    for _ in range(repeat):
        with tempfile.TemporaryFile() as out, open(stdin or os.devnull, "rb") as inp:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=subprocess.DEVNULL, env=env)
            # wait4 gives this child's own peak RSS; RUSAGE_CHILDREN would keep the maximum of all
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            if best is None or elapsed < best.seconds:
                out.seek(0)
                best = Timing(elapsed, usage.ru_maxrss / 1024, proc.returncode, out.read())
    assert best is not None
    return best


def floor(output: bytes, repeat: int) -> float:
    """What pyyaml's C dumper alone needs to write these objects (best of `repeat`)."""
    docs = list(yaml.load_all(output, Loader=yaml.CSafeLoader))
    best = float("inf")
    gc.disable()  # as the command runs: the floor must not carry a cost the command avoids
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


def tenant_names(count: int) -> list[str]:
    return [f"team-{i:04d}" for i in range(count)]


def write_spec(path: Path, count: int, output: str = "resources") -> None:
    """The shipped spec with `count` tenants (every one with its namespace labels)."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["spec"]["tenants"] = [
        {"name": name, "namespaceLabels": {"istio-injection": "enabled"}} for name in tenant_names(count)
    ]
    if output != "resources":
        spec["spec"]["output"] = output
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def write_resource_list(path: Path, spec: Path) -> None:
    """What kpt or kustomize would send: the base objects and the spec as functionConfig."""
    items = [yaml.safe_load(p.read_text()) for p in base_files()]
    config = yaml.safe_load(spec.read_text())
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": config,
    }
    path.write_text(yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False))


def write_overlays(root: Path, count: int) -> Path:
    """N overlays as a platform team writes them by hand, and one kustomization listing them all."""
    base = root / "base"
    base.mkdir(parents=True)
    for path in base_files():
        shutil.copy(path, base / path.name)
    _dump(base / "kustomization.yaml", _kustomization(resources=[p.name for p in base_files()]))
    overlays = root / "overlays"
    for name in tenant_names(count):
        folder = overlays / name
        folder.mkdir(parents=True)
        _dump(
            folder / "namespace.yaml",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": {"istio-injection": "enabled"}},
            },
        )
        kustomization = _kustomization(resources=["../../base", "namespace.yaml"])
        kustomization["namespace"] = name
        kustomization["labels"] = [
            {"pairs": {"app.kubernetes.io/managed-by": "ray-tenants", "fn.ray-tenants.dev/tenant": name}}
        ]
        kustomization["patches"] = [
            {"target": {"kind": "VirtualService", "name": "ray-dashboard"}, "patch": _route_patch(name)},
            {"target": {"kind": "RayCluster", "name": "raycluster"}, "patch": _spot_patch()},
        ]
        _dump(folder / "kustomization.yaml", kustomization)
    _dump(
        root / "kustomization.yaml",
        _kustomization(resources=[f"overlays/{name}" for name in tenant_names(count)]),
    )
    return root


def _kustomization(resources: list[str]) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}


def _route_patch(name: str) -> str:
    """The two rules of the tenant's prefix, as JSON 6902 (what ray-tenants generates)."""
    http = [
        {
            "name": f"{name}-dashboard-redirect",
            "match": [{"uri": {"exact": f"/{name}"}}],
            "redirect": {"uri": f"/{name}/"},
        },
        {
            "name": f"{name}-dashboard",
            "match": [{"uri": {"prefix": f"/{name}/"}}],
            "rewrite": {"uri": "/"},
            "timeout": "0s",
            "route": [
                {
                    "destination": {
                        "host": f"raycluster-head-svc.{name}.svc.cluster.local",
                        "port": {"number": 8265},
                    }
                }
            ],
        },
    ]
    return json.dumps([{"op": "replace", "path": "/spec/http", "value": http}])


def _spot_patch() -> str:
    """Spot placement for both worker groups as the Spot engine writes it for GKE: required node
    affinity to the group's Spot pool, and tolerations of the Spot and pool taints."""
    ops: list[dict[str, Any]] = []
    for index, pool in enumerate(("spot-cpu", "spot-gpu")):
        group = f"/spec/workerGroupSpecs/{index}/template/spec"
        terms = [
            {
                "matchExpressions": [
                    {"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]},
                    {"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": [pool]},
                ]
            }
        ]
        affinity = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
        }
        tolerations = [
            {
                "key": "cloud.google.com/gke-spot",
                "operator": "Equal",
                "value": "true",
                "effect": "NoSchedule",
            },
            {"key": "dedicated", "operator": "Equal", "value": pool, "effect": "NoSchedule"},
        ]
        ops.append({"op": "add", "path": f"{group}/affinity", "value": affinity})
        if index == 1:  # the GPU group already tolerates the GPU taint: append to its list
            ops.extend({"op": "add", "path": f"{group}/tolerations/-", "value": t} for t in tolerations)
        else:
            ops.append({"op": "add", "path": f"{group}/tolerations", "value": tolerations})
    return json.dumps(ops)


def _dump(path: Path, doc: Any) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def count_objects(output: bytes) -> int:
    return sum(1 for doc in yaml.load_all(output, Loader=yaml.CSafeLoader) if doc is not None)


def same_objects(a: bytes, b: bytes) -> bool:
    """Whether two streams hold the same objects, in any order."""

    def canonical(stream: bytes) -> list[str]:
        docs = yaml.load_all(stream, Loader=yaml.CSafeLoader)
        return sorted(json.dumps(d, sort_keys=True) for d in docs if d is not None)

    return canonical(a) == canonical(b)


def supports(fn: list[str], env: dict[str, str], *words: str) -> bool:
    """Whether this build's help mentions every word (features that land from other branches)."""
    helps = b"".join(
        subprocess.run([*fn, *args, "--help"], capture_output=True, env=env, check=False).stdout
        for args in ([], ["render"])
    )
    return all(word.encode() in helps for word in words)


def machine(kubectl: str | None) -> list[str]:
    """What the numbers were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    kubectl_version = "absent"
    if kubectl:
        raw = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, check=False)
        info = json.loads(raw.stdout or b"{}")
        kubectl_version = (
            f"{info.get('clientVersion', {}).get('gitVersion', '?')} "
            f"(kustomize {info.get('kustomizeVersion', '?')})"
        )
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem_kb / 2**20:.0f} GiB; load average at start "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"- {platform.platform()}; Python {platform.python_version()}; PyYAML {yaml.__version__} "
        f"(libyaml {'yes' if getattr(yaml, '__with_libyaml__', False) else 'no'}); kubectl {kubectl_version}",
    ]


def cold_start(fn: list[str], env: dict[str, str], work: Path, runs: int) -> tuple[float, float, str]:
    """Mean wall time of a one-tenant KRM call and of a Python yaml echo, with the tool used."""
    # an installed package (a wheel, the image) carries its bytecode; a source checkout run with
    # PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every call
    compileall.compile_dir(str(Path(krm_fn.__file__).parent), quiet=1)
    spec = work / "one-tenant.yaml"
    write_spec(spec, 1)
    stdin = work / "one-tenant-rl.yaml"
    write_resource_list(stdin, spec)
    echo = [sys.executable, "-c", ECHO]
    hyperfine = shutil.which("hyperfine")
    if hyperfine:
        report = work / "hyperfine.json"
        subprocess.run(
            [
                hyperfine,
                "--warmup",
                "3",
                "--runs",
                str(runs),
                "--export-json",
                str(report),
                "--style",
                "none",
                f"{_shell(echo)} < {stdin}",
                f"{_shell(fn)} < {stdin}",
            ],
            env=env,
            capture_output=True,
            check=True,
        )
        results = json.loads(report.read_text())["results"]
        return results[1]["mean"], results[0]["mean"], "hyperfine"
    times: dict[str, list[float]] = {"fn": [], "echo": []}
    for _ in range(runs):
        for key, cmd in (("fn", fn), ("echo", echo)):
            times[key].append(measure(cmd, 1, stdin, env).seconds)
    return statistics.mean(times["fn"]), statistics.mean(times["echo"]), f"a loop of {runs}"


def _shell(cmd: Sequence[str]) -> str:
    return " ".join(f"'{c}'" for c in cmd)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the Markdown report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", default="10,100,1000", help="comma-separated N (default 10,100,1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--per-overlay-sample", type=int, default=10, help="per-overlay kubectl calls timed")
    parser.add_argument("--cold-runs", type=int, default=30, help="runs of the cold-start comparison")
    parser.add_argument("--installed", action="store_true", help="time `ray-tenants` on PATH")
    parser.add_argument("--keep", metavar="DIR", help="generate the workload here and keep it")
    parser.add_argument("--no-kubectl", action="store_true", help="skip (b), e.g. to compare two builds")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.tenants.split(",")]

    env = {**os.environ}
    if args.installed:
        exe = shutil.which("ray-tenants")
        if exe is None:
            parser.error("--installed: no ray-tenants on PATH")
        fn = [exe]
    else:
        # an installed package has its bytecode compiled; a checkout run with
        # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every call
        compileall.compile_dir(str(REPO / "krm_fn"), quiet=1)
        env["PYTHONPATH"] = str(REPO)
        fn = [sys.executable, "-m", "krm_fn"]
    kubectl = None if args.no_kubectl else shutil.which("kubectl")
    has_overlays = supports(fn, env, "--output", "overlays")
    has_check = supports(fn, env, "check")

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ray-tenants-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        for n in counts:
            ws = work / f"n{n}"
            ws.mkdir()
            spec = ws / "tenants.yaml"
            write_spec(spec, n)
            rl = ws / "resource-list.yaml"
            write_resource_list(rl, spec)
            row: dict[str, Any] = {"n": n}
            a = measure([*fn, "render", "--config", str(spec), str(BASE)], args.repeat, env=env)
            if a.returncode != 0:
                raise SystemExit(f"render failed for N={n}")
            row["a"], row["a_mb"], row["objects"] = a.seconds, a.peak_mb, count_objects(a.output)
            krm_run = measure(fn, args.repeat, stdin=rl, env=env)
            row["krm"], row["krm_mb"] = krm_run.seconds, krm_run.peak_mb
            row["c"] = floor(a.output, args.repeat)
            if kubectl:
                root = write_overlays(ws / "kustomize", n)
                b = measure([kubectl, "kustomize", str(root)], args.repeat)
                if b.returncode != 0:
                    raise SystemExit(f"kubectl kustomize failed for N={n}: run with --keep DIR to look")
                row["b"], row["b_mb"], row["b_objects"] = b.seconds, b.peak_mb, count_objects(b.output)
                row["b_same"] = same_objects(a.output, b.output)
                sample = tenant_names(min(n, args.per_overlay_sample))
                per_call = [
                    measure([kubectl, "kustomize", str(root / "overlays" / name)], 1).seconds
                    for name in sample
                ]
                row["b_each"] = statistics.mean(per_call) * n
            if has_overlays:
                out = ws / "generated"
                o = measure(
                    [
                        *fn,
                        "render",
                        "--config",
                        str(spec),
                        "--output",
                        "overlays",
                        "--out",
                        str(out),
                        str(BASE),
                    ],
                    args.repeat,
                    env=env,
                )
                row["overlays"] = o.seconds if o.returncode == 0 else None
            if has_check:
                rendered = ws / "rendered.yaml"
                rendered.write_bytes(a.output)
                c = measure(
                    [*fn, "check", "--config", str(spec), str(BASE), str(rendered)], args.repeat, env=env
                )
                row["check"], row["check_rc"] = c.seconds, c.returncode
            rows.append(row)
            print(f"N={n}: done", file=sys.stderr)
        cold_fn, cold_echo, tool = cold_start(fn, env, work, args.cold_runs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("\n".join(report(rows, cold_fn, cold_echo, tool, kubectl, args, has_overlays, has_check)))
    return 0


def report(
    rows: list[dict[str, Any]],
    cold_fn: float,
    cold_echo: float,
    tool: str,
    kubectl: str | None,
    args: argparse.Namespace,
    has_overlays: bool,
    has_check: bool,
) -> list[str]:
    """The Markdown report."""
    lines = ["### Machine", "", *machine(kubectl), ""]
    lines += [
        f"### Render, N tenants (best of {args.repeat} runs)",
        "",
        "| N | objects | (a) `ray-tenants render` | (b) `kubectl kustomize`, 1 call | (b)/(a) "
        "| (b') one call per overlay | (c) C dumper floor | (a)/(c) | KRM (stdin) | peak RSS (a) | peak RSS (b) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        same = "identical output" if r.get("b_same") else f"{r.get('b_objects')} objects, DIFFERENT output"
        b = f"{r['b']:.2f} s ({same})" if "b" in r else "kubectl absent"
        ratio_b = f"**{r['b'] / r['a']:.1f}x**" if "b" in r else "-"
        each = f"≈ {r['b_each']:.1f} s" if "b_each" in r else "-"
        b_mb = f"{r['b_mb']:.0f} MB" if "b" in r else "-"
        lines.append(
            f"| {r['n']:,} | {r['objects']:,} | {r['a']:.2f} s | {b} | {ratio_b} | {each} | {r['c']:.2f} s "
            f"| **{r['a'] / r['c']:.2f}x** | {r['krm']:.2f} s | {r['a_mb']:.0f} MB | {b_mb} |"
        )
    lines += [
        "",
        "### Other commands (best of runs)",
        "",
        "| N | `output: overlays` | `check` |",
        "|---:|---:|---:|",
    ]
    for r in rows:
        overlays = (
            ("failed" if r.get("overlays") is None else f"{r['overlays']:.2f} s")
            if has_overlays
            else "not in this build"
        )
        check = f"{r['check']:.2f} s (exit {r['check_rc']})" if has_check else "not in this build"
        lines.append(f"| {r['n']:,} | {overlays} | {check} |")
    lines += [
        "",
        f"### Cold start ({tool})",
        "",
        "| one-tenant KRM call | python: import yaml, echo stdin | ratio |",
        "|---:|---:|---:|",
        f"| {cold_fn * 1000:.0f} ms | {cold_echo * 1000:.0f} ms | **{cold_fn / cold_echo:.2f}x** |",
        "",
        "### Targets",
        "",
    ]
    last = rows[-1]
    if "b" in last:
        lines.append(
            f"- N = {last['n']:,}: (a) is {last['b'] / last['a']:.1f}x faster than (b) (target ≥ 10x)"
        )
    lines.append(f"- N = {last['n']:,}: (a) is {last['a'] / last['c']:.2f}x the floor (c) (target ≤ 2x)")
    lines.append(f"- one-tenant call: {cold_fn / cold_echo:.2f}x the yaml echo (target ≤ 1.5x)")
    if len(rows) >= 2:
        slopes = [
            (later["a_mb"] - earlier["a_mb"]) / (later["n"] - earlier["n"]) * 1000
            for earlier, later in itertools.pairwise(rows)
        ]
        lines.append(
            "- memory: peak RSS of (a) grows "
            + ", then ".join(f"{s:.0f} MB" for s in slopes)
            + " per 1,000 tenants between successive N (linear when these agree)"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
