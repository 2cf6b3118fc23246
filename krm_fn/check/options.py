"""How to check: the options every front end of the check builds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from krm_fn.inputs.objects import Manifest

CHECKS = ("schema", "policy", "drift")


@dataclass(frozen=True)
class Options:
    """How to check: Kubernetes version, which checks, extra CRDs, the tenant spec, drift setup."""

    kubernetes_version: str | None = None
    strict: bool = True
    select: frozenset[str] = frozenset(CHECKS)
    crds: Sequence[Manifest] = ()
    config: Manifest | None = None
    # folder that generated paths are relative to (standalone); None when items carry kpt paths
    root: Path | None = None
    # the command line's paths and --config: `output: overlays` drift renders them as `render` does
    paths: Sequence[str] = ()
    config_file: str | None = None
    regenerate: str = "kpt fn render"
    fix: bool = False
    # how a user gives the check a CRD it lacks, as the front end can take one
    add_crd: str = "pass the CRD with --crd FILE"
    # globs of paths not read in the folders given (--exclude)
    exclude: Sequence[str] = ()


def exclude_words(exclude: Sequence[str]) -> list[str]:
    """`--exclude GLOB` for each glob, as the command to run again must say them."""
    return [word for glob in exclude for word in ("--exclude", glob)]
