"""Standalone render: manifest files and a tenant spec in, a YAML stream of the result out.

With `output: overlays` (or `--output overlays`) it writes the tenant folders under `--out DIR`
instead, as `kpt fn render` would in a package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from krm_fn.expand import Outcome
from krm_fn.items import path_of
from krm_fn.output import dump_stream
from krm_fn.overlays import is_kustomization_file
from krm_fn.overlays.files import write_folder
from krm_fn.results import FnError
from krm_fn.standalone import relative, run


def main(
    paths: Sequence[str],
    config_file: str | None,
    stdout: IO[str],
    stderr: IO[str],
    output: str | None = None,
    out_dir: str | None = None,
    exclude: Sequence[str] = (),
    verbose: bool = False,
) -> int:
    """Render PATHs for the tenant spec; print the stream (or write the overlays), else exit 1.

    `output` overrides the spec's output mode; overlays mode writes under `out_dir` and prints
    one line per file written or removed. `exclude`: globs of paths not to read in folders;
    `verbose`: also print the informational findings (files skipped).
    """
    try:
        outcome, manifests = run(paths, config_file, output, out_dir, exclude)
    except FnError as exc:
        outcome, manifests = Outcome([], exc.results), []
    for result in outcome.results:
        if verbose or result.severity != "info":
            stderr.write(result.one_line() + "\n")
    if outcome.failed:
        return 1
    if out_dir is not None and any(path_of(o) for o in outcome.items):
        try:
            changes = write_folder(outcome.items, relative(out_dir))
        except FnError as exc:  # a file not ours to replace, a link, a full disk: nothing written
            for result in exc.results:
                stderr.write(result.one_line() + "\n")
            return 1
        for change in changes:
            stdout.write(change + "\n")
        return 0
    # kustomize's build instructions travel with manifests but are not objects to apply
    kustomizations = {id(m.data) for m in manifests if is_kustomization_file(m.file)}
    stdout.write(dump_stream([o for o in outcome.items if id(o) not in kustomizations], manifests))
    return 0
