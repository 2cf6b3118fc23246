"""Drift: generated resources on disk against what the function generates from the spec now."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krm_fn import standalone, writer, yamlio
from krm_fn.check.options import Options, exclude_words
from krm_fn.check.report import Report
from krm_fn.config import TenantsConfig
from krm_fn.inputs.loader import load_paths
from krm_fn.inputs.objects import Manifest
from krm_fn.items import clone, index_of, meta, owner_in_package, owner_tenant, path_of, without_placement
from krm_fn.overlays.files import dump_file, write_folder
from krm_fn.package import all_placed, expand_placed
from krm_fn.results import FnError, ResourceRef, Result

Key = tuple[str, str, str]


@dataclass
class Drift:
    """Findings, and the files that regenerating would write (relative path -> objects).

    Stale files are not listed: the writer prunes what it owns and no longer writes.
    """

    results: list[Result] = field(default_factory=list)
    rewrite: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def generated_on_disk(docs: Sequence[Manifest], config: TenantsConfig, root: Path) -> list[Manifest]:
    """Generated objects in the function's own files under `<root>/<outputDir>`, loaded or not.

    A file is the function's where the standalone writer says so (krm_fn.writer): at
    `<outputDir>/<tenant>/<name>`, every object in it labelled for that tenant and named for that
    file. Labelled objects anywhere else are the user's, passed through like any other.
    """
    folder = root / config.output_dir
    found = list(docs)
    if folder.is_dir():
        loaded = {os.path.abspath(d.file) for d in docs}
        extra, _ = load_paths([str(folder)])
        found.extend(d for d in extra if os.path.abspath(d.file) not in loaded)
    by_file: dict[str, list[Manifest]] = {}
    for doc in found:
        if doc.file != "-":
            by_file.setdefault(os.path.abspath(doc.file), []).append(doc)
    owned = []
    for file, group in by_file.items():
        tenant = writer.tenant_folder_of(folder, file)
        if tenant is not None and writer.is_generated([d.data for d in group], tenant, Path(file).name):
            owned.extend(group)
    return owned


def expected_generated(
    inputs: Sequence[Manifest], spec: Mapping[str, Any], config: TenantsConfig, root: Path | None
) -> list[dict[str, Any]]:
    """What the function generates now, each object placed at its file (kpt's path annotation).

    The inputs run through the expansion as kpt gives them (with their paths), so the files
    generated objects go to are the function's own choice, not a second copy of its naming rule.
    """
    items = []
    for doc in inputs:
        obj = clone(doc.data)
        if root is not None and not path_of(obj):
            rel = os.path.relpath(os.path.abspath(doc.file), root) if doc.file != "-" else "stdin.yaml"
            notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
            notes["config.kubernetes.io/path"] = rel
        items.append(obj)
    outcome = expand_placed(items, config, spec, kpt=all_placed(items))
    if outcome.failed:
        return []  # the expansion's own findings are reported by the checker
    return [o for o in outcome.items if owner_tenant(o) is not None]


def compare_generated(
    want: Sequence[Mapping[str, Any]],
    have: Sequence[Manifest],
    regenerate: str,
    spec_doc: Manifest,
) -> Drift:
    """Stale, changed and missing generated objects, and the files regenerating would write."""
    drift = Drift()
    wanted: dict[Key, Mapping[str, Any]] = {_key(o): o for o in want}
    found: dict[Key, Manifest] = {}
    for doc in have:
        key = _key(doc.data)
        found[key] = doc
        if key not in wanted:
            drift.results.append(
                doc.result(
                    f"generated for tenant {owner_tenant(doc.data)!r} but the spec no longer "
                    f"generates it; regenerate with `{regenerate}` (or delete it)"
                )
            )
            continue
        diff = first_difference(without_placement(doc.data), without_placement(wanted[key]))
        if diff is not None:
            path, on_disk, now = diff
            drift.results.append(
                doc.result(
                    f"out of date: on disk {_short(on_disk)}, the spec generates {_short(now)}; "
                    f"regenerate with `{regenerate}`",
                    path,
                )
            )
    for key, obj in wanted.items():
        if key not in found:
            drift.results.append(
                spec_doc.result(
                    f"{ResourceRef.of(obj).label()} is not generated yet (expected in "
                    f"{path_of(obj)}); regenerate with `{regenerate}`",
                    ("spec", "tenants"),
                )
            )
    if drift.results:
        for obj in sorted(want, key=lambda o: index_of(o) or 0):
            drift.rewrite.setdefault(path_of(obj), []).append(without_placement(obj))
    return drift


def write_generated(drift: Drift, root: Path, output_dir: str) -> list[str]:
    """Regenerate through the standalone writer: the generated files, and prune the stale ones.

    Raises FnError, having changed nothing, where a file to replace is not the function's.
    """
    out = Path(os.path.relpath(root / output_dir))
    files = {Path(os.path.relpath(root / rel)): yamlio.dump_all(objs) for rel, objs in drift.rewrite.items()}
    return writer.write_files(out, files)


def first_difference(
    a: Any, b: Any, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], Any, Any] | None:
    """The first path where `a` and `b` differ, with both values there; None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return (*path, key), a.get(key, _MISSING), b.get(key, _MISSING)
            found = first_difference(a[key], b[key], (*path, key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        # a length difference is reported below, after the common entries
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, (*path, i))
            if found:
                return found
        if len(a) != len(b):
            return path, f"{len(a)} entries", f"{len(b)} entries"
        return None
    return None if a == b and type(a) is type(b) else (path, a, b)


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


_MISSING = _Missing()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) and value.endswith("entries") else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(obj: Mapping[str, Any]) -> Key:
    m = meta(obj)
    return (str(obj.get("kind")), str(m.get("namespace") or ""), str(m.get("name") or ""))


def check_drift(
    docs: Sequence[Manifest],
    inputs: Sequence[Manifest],
    spec_doc: Manifest,
    config: TenantsConfig,
    options: Options,
    report: Report,
) -> None:
    """Drift findings into `report`; with `--fix`, regenerate the files instead."""
    root = options.root
    have = (
        generated_on_disk(docs, config, root)
        if root is not None
        else [d for d in docs if d.is_object and _generated_item(d.data, config)]
    )
    # overlay folders on disk (generated kustomizations) are drift-checked as overlays, whatever
    # the spec's default output: `ray-tenants render --output overlays` writes them
    if config.output == "overlays" or any(d.data.get("kind") == "Kustomization" for d in have):
        if root is None:
            report.results.append(
                spec_doc.result(
                    "overlay folders are checked by `ray-tenants check`, not in kpt", severity="info"
                )
            )
        else:
            _check_overlay_drift(have, spec_doc, config, options, root, report)
        return
    kpt = any(d.is_object and d.data.get("kind") == "Kptfile" for d in docs) or (
        root is not None and (root / "Kptfile").is_file()
    )
    if not have and not kpt:
        return  # nothing generated on disk (a kustomize transformer setup): nothing to drift
    want = expected_generated(inputs, spec_doc.data, config, root)
    found = compare_generated(want, have, options.regenerate, spec_doc)
    if options.fix and root is not None and found.results:
        try:
            report.written = write_generated(found, root, config.output_dir)
        except FnError as exc:  # nothing was written: the drift stands as found
            report.results.extend(exc.results)
        if report.written:
            report.results.append(
                Result(f"regenerated {len(report.written)} file(s): {', '.join(report.written)}")
            )
            return
    report.results.extend(found.results)


def _generated_item(obj: Mapping[str, Any], config: TenantsConfig) -> bool:
    """A generated item of a ResourceList: in a package (it has a path) only in its tenant's folder."""
    if path_of(obj):
        return owner_in_package(obj, config.output_dir) is not None
    return owner_tenant(obj) is not None


def _check_overlay_drift(
    have: Sequence[Manifest],
    spec_doc: Manifest,
    config: TenantsConfig,
    options: Options,
    root: Path,
    report: Report,
) -> None:
    """Overlay folders on disk against the files `ray-tenants render --output overlays` writes now."""
    out_dir = os.path.relpath(root / config.output_dir)
    words = ["ray-tenants", "render", "--output", "overlays", "--out", out_dir]
    words += ["--config", options.config_file] if options.config_file else []
    command = shlex.join([*words, *exclude_words(options.exclude), *options.paths])
    try:
        outcome, _ = standalone.run(
            list(options.paths), options.config_file, "overlays", out_dir, options.exclude
        )
    except FnError as exc:
        report.results.extend(exc.results)
        return
    if outcome.failed:
        report.results.extend(r for r in outcome.results if r.is_error)
        return
    if options.fix:
        try:
            changes = write_folder(outcome.items, out_dir)
        except FnError as exc:  # nothing was written
            report.results.extend(exc.results)
            return
        if changes:
            report.written = changes
            report.results.append(Result(f"regenerated overlays: {'; '.join(changes)}"))
        return
    wanted = {os.path.abspath(path_of(o)): (path_of(o), dump_file(o)) for o in outcome.items if path_of(o)}
    for file, (shown, text) in sorted(wanted.items()):
        path = Path(file)
        if not path.is_file():
            report.results.append(
                spec_doc.result(
                    f"{shown} is not generated yet; regenerate with `{command}`", ("spec", "tenants")
                )
            )
            continue
        old = path.read_text(encoding="utf-8").splitlines()
        new = text.splitlines()
        if old != new:
            line = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False), 1) if a != b),
                min(len(old), len(new)) + 1,
            )
            report.results.append(
                Result(
                    f"out of date: differs from what the spec generates now from this line on; regenerate with `{command}`",
                    file=os.path.relpath(file),
                    line=line,
                )
            )
    for file in sorted({os.path.abspath(p) for p in writer.stale_files(out_dir, {Path(f) for f in wanted})}):
        report.results.append(
            Result(
                f"generated for a tenant the spec no longer has; regenerate with `{command}` (removes it)",
                file=os.path.relpath(file),
            )
        )
