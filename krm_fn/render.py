"""Standalone render: manifest files and a tenant spec in, a YAML stream of the result out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

from krm_fn import items as it
from krm_fn import yamlio
from krm_fn.config import API_GROUP, KIND, parse_config
from krm_fn.expand import Outcome, expand
from krm_fn.manifests import Manifest, find_files, load_files, with_lines
from krm_fn.results import FnError, Result


def main(paths: Sequence[str], config_file: str | None, stdout: IO[str], stderr: IO[str]) -> int:
    """Render PATHs for the tenant spec; print the stream, or the problems and exit 1."""
    try:
        outcome, manifests = run(paths, config_file)
    except FnError as exc:
        outcome, manifests = Outcome([], exc.results), []
    for result in with_lines(outcome.results, manifests):
        stderr.write(result.one_line() + "\n")
    if outcome.failed:
        return 1
    stdout.write(yamlio.dump_all(outcome.items))
    return 0


def run(paths: Sequence[str], config_file: str | None) -> tuple[Outcome, list[Manifest]]:
    """Load, expand, and return the outcome with the loaded manifests (for locating findings)."""
    manifests, problems = load_files(find_files(paths))
    if problems:
        raise FnError(problems)
    if config_file is not None:
        config_docs, problems = load_files([config_file])
        if problems:
            raise FnError(problems)
        specs = [m for m in config_docs if _is_tenant_spec(m.data) or len(config_docs) == 1]
        if len(specs) != 1:
            raise FnError(
                [
                    Result(
                        f"expected one tenant spec ({KIND}) in the file, found {len(specs)}",
                        file=config_file,
                    )
                ]
            )
    else:
        specs = [m for m in manifests if _is_tenant_spec(m.data)]
        if len(specs) != 1:
            raise FnError(
                [
                    Result(
                        f"found {len(specs)} tenant specs ({KIND}) among the inputs; pass one with --config FILE"
                    )
                ]
            )
    spec = specs[0]
    config = parse_config(spec.data, spec.file)
    inputs = [m for m in manifests if not (isinstance(m.data, dict) and it.same_object(m.data, spec.data))]
    outcome = expand([m.data for m in inputs], config, spec.data, [m.file for m in inputs])
    return outcome, manifests


def _is_tenant_spec(obj: Any) -> bool:
    api = obj.get("apiVersion") if isinstance(obj, dict) else None
    return isinstance(api, str) and api.split("/")[0] == API_GROUP and obj.get("kind") == KIND
