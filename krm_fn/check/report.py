"""Report: the findings of a run; one line per finding, a summary, the exit code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO

from krm_fn.results import Result


@dataclass
class Report:
    """Every finding of a run, sorted by file and line, and what regenerating wrote."""

    results: list[Result] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.is_error for r in self.results)


def findings(results: Iterable[Result]) -> list[Result]:
    """Each finding once, sorted by file and line (stable: equal places keep their order).

    Two steps can find the same problem (a file that is not YAML is met by the loader and again by
    the overlay drift, which loads the paths as `render` does): what prints the same line is one.
    """
    unique: dict[str, Result] = {}
    for result in results:
        unique.setdefault(result.one_line(), result)
    return sorted(unique.values(), key=lambda r: (r.file, r.line or 0))


def write_lines(results: Sequence[Result], out: IO[str], verbose: bool = False) -> None:
    """`path:line: Kind/namespace/name field.path: message`, one per finding (info only if verbose)."""
    for result in results:
        if verbose or result.severity != "info":
            out.write(result.one_line() + "\n")


def summary(results: Sequence[Result], files: int, written: Sequence[str] = ()) -> str:
    """`2 errors, 1 warning in 5 files`; after --fix, `regenerated 3 files, removed 1; ...` first."""
    errors = sum(r.severity == "error" for r in results)
    warnings = sum(r.severity == "warning" for r in results)
    found = f"{_count(errors, 'error')}, {_count(warnings, 'warning')} in {_count(files, 'file')}"
    if not written:
        return found
    removed = sum(w.startswith("removed ") for w in written)
    fixed = f"regenerated {_count(len(written) - removed, 'file')}" + (
        f", removed {removed}" if removed else ""
    )
    return f"{fixed}; {found}"


def exit_code(results: Sequence[Result]) -> int:
    """1 when any finding is an error, 0 when there are only warnings or nothing."""
    return 1 if any(r.is_error for r in results) else 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
