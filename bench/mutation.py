"""Mutation score of the domain core: how many deliberately broken copies the tests catch.

Runs mutmut 3 (in the ``test`` extra) in a scratch copy of the checkout, so the work
tree gets no ``mutants/`` folder, and prints the score per module: killed (timeouts included)
over all mutants. The settings are pyproject.toml's ``[tool.mutmut]``; ``--module`` and
``--tests`` narrow them for a quicker run. Slow (minutes per module on two cores), so it is
not a test and not part of CI.

    python3 bench/mutation.py                                   # every module in only_mutate
    python3 bench/mutation.py --module routing --tests tests/routing/test_routing.py
    python3 bench/mutation.py --module expand --show-survivors   # and each survivor's diff
    python3 bench/mutation.py --module expand --mutant 'krm_fn.expand.x__flatten*'  # only these
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Python >= 3.11 (the project supports 3.10, this bench script does not need to)
tomllib: Any = importlib.import_module("tomllib")

REPO = Path(__file__).resolve().parents[1]
KILLED = {"killed", "timeout"}
RESULT_LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_\d+: (?P<status>[\w ]+?)\s*$")


def scratch_copy(target: Path) -> None:
    """Copy the tracked and new files of the checkout (not ignored ones) into `target`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = REPO / raw.decode()
        if source.is_file():
            dest = target / raw.decode()
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def module_pattern(module: str) -> str:
    """mutmut's glob for a module name: `spot` is the package krm_fn/spot/, `spot.inject` one file."""
    path = module.removesuffix(".py").replace(".", "/")
    return f"krm_fn/{path}/*" if (REPO / "krm_fn" / path).is_dir() else f"krm_fn/{path}.py"


def narrowed_config(text: str, modules: list[str] | None, tests: list[str] | None) -> str:
    """pyproject.toml with [tool.mutmut] narrowed to the chosen modules and tests."""
    lines = text.splitlines()
    config: dict[str, Any] = tomllib.loads(text)["tool"]["mutmut"]
    if modules:
        config["only_mutate"] = [module_pattern(m) for m in modules]
    if tests:
        config["pytest_add_cli_args_test_selection"] = tests
    # drop the old section (it runs to the next header or the end) and append the new one
    start = lines.index("[tool.mutmut]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    body = [f"{k} = {toml_list(v) if isinstance(v, list) else repr(v)}" for k, v in config.items()]
    return "\n".join([*lines[:start], *lines[end:], "[tool.mutmut]", *body]) + "\n"


def scores(results: str) -> dict[str, collections.Counter[str]]:
    """Mutant statuses per module, from `mutmut results --all true`."""
    per_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in results.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            module = match["name"].rpartition(".")[0]  # krm_fn.routing.policy
            per_module[module][match["status"]] += 1
    return per_module


def main(argv: list[str] | None = None) -> int:
    """Run mutmut on a scratch copy and print the score per module."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--module", action="append", help="krm_fn module to mutate (repeatable)")
    parser.add_argument("--tests", action="append", help="test file or node id to run (repeatable)")
    parser.add_argument(
        "--mutant",
        action="append",
        help="run only this mutant (a name from --show-survivors, or a glob such as\n"
        "'krm_fn.expand.x__flatten*'; repeatable); the others count as not checked",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and print its path")
    parser.add_argument("--show-survivors", action="store_true", help="print each surviving mutant's diff")
    args = parser.parse_args(argv)
    if shutil.which("mutmut") is None:
        print("mutmut is not installed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="ray-tenants-mutation-"))
    try:
        scratch_copy(scratch)
        pyproject = scratch / "pyproject.toml"
        pyproject.write_text(narrowed_config(pyproject.read_text(), args.module, args.tests))
        # derandomized, at the local example counts: CI's counts would cost seconds per mutant
        env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
        ran = subprocess.run(["mutmut", "run", *(args.mutant or [])], cwd=scratch, env=env, check=False)
        if ran.returncode != 0:
            # mutmut stops when the tests fail on the unmutated code: there is no score to give
            print(f"mutmut run failed (exit {ran.returncode}): see its output above", file=sys.stderr)
            return 1
        listed = subprocess.run(
            ["mutmut", "results", "--all", "true"], cwd=scratch, env=env, capture_output=True, text=True
        ).stdout
        total_killed = total = 0
        for module, counts in sorted(scores(listed).items()):
            killed = sum(n for status, n in counts.items() if status in KILLED)
            all_mutants = sum(counts.values())
            total_killed, total = total_killed + killed, total + all_mutants
            detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            print(f"{module}: {killed}/{all_mutants} = {killed / all_mutants:.2f} ({detail})")
        if total:
            print(f"all: {total_killed}/{total} = {total_killed / total:.2f}")
        if args.show_survivors:
            for line in listed.splitlines():
                match = RESULT_LINE.match(line)
                if match and match["status"] not in KILLED:
                    name = line.split(":")[0].strip()
                    diff = subprocess.run(
                        ["mutmut", "show", name], cwd=scratch, env=env, capture_output=True, text=True
                    ).stdout
                    print(f"--- {name}: {match['status']}\n{diff}")
        return 0 if total else 1
    finally:
        if args.keep:
            print(f"scratch copy kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
