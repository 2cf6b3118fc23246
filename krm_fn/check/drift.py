"""Drift: generated resources on disk against what the function generates from the spec now."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krm_fn import standalone, writer, yamlio
from krm_fn.check.options import Options, exclude_words
from krm_fn.check.report import Report
from krm_fn.config import TenantsConfig
from krm_fn.inputs.loader import load_paths
from krm_fn.inputs.objects import Manifest
from krm_fn.isolation.generate import is_isolation_object
from krm_fn.items import (
    clone,
    index_of,
    is_shared,
    meta,
    owner_in_package,
    owner_tenant,
    path_of,
    without_placement,
)
from krm_fn.output import dump_stream
from krm_fn.overlays.files import dump_file, write_folder
from krm_fn.package import all_placed, expand_placed
from krm_fn.results import FnError, ResourceRef, Result

Key = tuple[str, str, str]


@dataclass
class Drift:
    """Findings, and what regenerating would write.

    `rewrite`: the function's own files under the output folder (relative path -> objects);
    `edits`: generated objects in other files, rewritten where they are (file -> changes).
    Stale files of the output folder are not listed: the writer prunes what it owns and no
    longer writes. Duplicates of a generated object are never fixed: which copy to keep is the
    user's call.
    """

    results: list[Result] = field(default_factory=list)
    rewrite: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edits: dict[str, tuple[dict[int, str | None], dict[int, list[str]]]] = field(default_factory=dict)
    duplicates: bool = False

    def edit(self, file: str) -> tuple[dict[int, str | None], dict[int, list[str]]]:
        return self.edits.setdefault(file, ({}, {}))


@dataclass
class OnDisk:
    """Generated objects found, and which of their files are the function's own (absolute paths;
    None: all of them, as for a kpt package's items)."""

    objects: list[Manifest] = field(default_factory=list)
    own_files: set[str] | None = field(default_factory=set)


def generated_on_disk(docs: Sequence[Manifest], config: TenantsConfig, root: Path) -> OnDisk:
    """Generated objects among the inputs and under `<root>/<outputDir>`, loaded or not.

    Every object with the ownership labels counts, wherever it is (`ray-tenants render >
    deploy/all.yaml`): it is found by its identity, and rewritten where it is. The function's
    own files are where the standalone writer says so (krm_fn.writer): at
    `<outputDir>/<tenant>/<name>`, every object in it labelled for that tenant and named for that
    file; they are rewritten whole, or pruned.
    """
    folder = root / config.output_dir
    found = list(docs)
    if folder.is_dir() and all(d.file != "-" for d in docs):
        loaded = {os.path.abspath(d.file) for d in docs}
        extra, _ = load_paths([str(folder)])
        found.extend(d for d in extra if os.path.abspath(d.file) not in loaded)
    by_file: dict[str, list[Manifest]] = {}
    for doc in found:
        by_file.setdefault(doc.file if doc.file == "-" else os.path.abspath(doc.file), []).append(doc)
    objects: list[Manifest] = []
    own: set[str] = set()
    for file, group in by_file.items():
        tenant = writer.tenant_folder_of(folder, file) if file != "-" else None
        if tenant is not None and writer.is_generated([d.data for d in group], tenant, Path(file).name):
            own.add(file)
            objects.extend(group)
        else:
            objects.extend(d for d in group if d.is_object and owner_tenant(d.data) is not None)
    return OnDisk(objects, own)


def expected_generated(
    inputs: Sequence[Manifest], spec: Mapping[str, Any], config: TenantsConfig, root: Path | None
) -> list[dict[str, Any]] | None:
    """What the function generates now, each object placed at its file (kpt's path annotation).

    The inputs run through the expansion as kpt gives them (with their paths), so the files
    generated objects go to are the function's own choice, not a second copy of its naming rule.
    None when the expansion fails (its own findings are reported by the checker).
    """
    items = []
    for doc in inputs:
        obj = clone(doc.data)
        if root is not None and not path_of(obj):
            rel = os.path.relpath(os.path.abspath(doc.file), root) if doc.file != "-" else "stdin.yaml"
            notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
            notes["config.kubernetes.io/path"] = rel
        items.append(obj)
    outcome = expand_placed(items, config, spec, kpt=all_placed(items) or not items)
    if outcome.failed:
        return None
    return [o for o in outcome.items if owner_tenant(o) is not None or is_shared(o)]


def compare_generated(
    want: Sequence[Mapping[str, Any]],
    have: Sequence[Manifest],
    regenerate: str,
    spec_doc: Manifest,
    own_files: Collection[str] | None = None,
    text: Callable[[Mapping[str, Any]], str] = yamlio.dump,
) -> Drift:
    """Duplicate, stale, changed and missing generated objects, and what regenerating would write.

    An object found in one of `own_files` (the function's files in the output folder; None: every
    object found is in them) is rewritten whole with its file. One found elsewhere is replaced in
    place by `text(object)`, a stale one there removed from its file. A missing one goes where its
    tenant's generated objects are (for a new tenant, into the one file that holds them all, as
    after `render > deploy/all.yaml`), after its neighbour in the order render prints them; else
    to its file in the output folder.
    """
    drift = Drift()
    wanted: dict[Key, Mapping[str, Any]] = {_key(o): o for o in want}
    copies = {(k, n) for k, _, n in wanted}
    own = None if own_files is None else set(own_files)
    found: dict[Key, Manifest] = {}
    stale: list[Manifest] = []
    changed: set[Key] = set()
    for doc in have:
        key = _key(doc.data)
        if not _in(doc, own) and key[0] != "Namespace" and (key[0], key[2]) not in copies:
            # labelled, outside the function's files, and no copy of a base the spec expands:
            # its identity says nothing, so it may be the user's: said, never rewritten or removed
            drift.results.append(
                doc.result(
                    f"labelled as generated for tenant {owner_tenant(doc.data)!r}, but the spec expands "
                    f"no base {key[0]}/{key[2]}: kept as it is; delete it if it is left over",
                    severity="warning",
                )
            )
            continue
        if key in found:
            drift.duplicates = True
            drift.results.append(
                doc.result(
                    f"generated object also in {_where(found[key])}: it belongs in one file (two copies "
                    "would be applied, and regenerating cannot tell which to keep); delete one of them"
                )
            )
            continue
        found[key] = doc
        if key not in wanted:
            stale.append(doc)
            drift.results.append(
                doc.result(
                    f"generated for {_for_whom(doc.data)} but the spec no longer "
                    f"generates it; regenerate with `{regenerate}` (or delete it)"
                )
            )
            continue
        diff = first_difference(without_placement(doc.data), without_placement(wanted[key]))
        if diff is not None:
            changed.add(key)
            path, on_disk, now = diff
            drift.results.append(
                doc.result(
                    f"out of date: on disk {_short(on_disk)}, the spec generates {_short(now)}; "
                    f"regenerate with `{regenerate}`",
                    path,
                )
            )
    elsewhere = {k: d for k, d in found.items() if not _in(d, own)}
    places: dict[Key, tuple[str, int] | None] = {}
    tenant_files: dict[str | None, set[str]] = {}
    for doc in elsewhere.values():
        tenant_files.setdefault(owner_tenant(doc.data), set()).add(doc.file)
    every = {f for files in tenant_files.values() for f in files}
    # per file, the last document (in render's order) found there so far: a missing one follows it
    last: dict[str, tuple[int, int]] = {}
    for index, obj in enumerate(want):
        key = _key(obj)
        if key in elsewhere:
            last[elsewhere[key].file] = (index, elsewhere[key].line or 0)
        elif key not in found:
            files = tenant_files.get(owner_tenant(obj)) or (every if len(every) == 1 else set())
            places[key] = _place(files, last)
            drift.results.append(
                spec_doc.result(
                    f"{ResourceRef.of(obj).label()} is not generated yet (expected in "
                    f"{(places[key] or (path_of(obj), 0))[0]}); regenerate with `{regenerate}`",
                    ("spec", "tenants"),
                )
            )
    if not any(r.is_error for r in drift.results):
        return drift
    for obj in want:  # in render's order: objects added to one place keep it
        key = _key(obj)
        place = found.get(key)
        if place is not None and not _in(place, own):
            if key in changed:
                drift.edit(place.file)[0][place.line or 0] = text(without_placement(obj))
        elif place is None and (beside := places[key]) is not None:
            drift.edit(beside[0])[1].setdefault(beside[1], []).append(text(without_placement(obj)))
        else:
            drift.rewrite.setdefault(path_of(obj), []).append(without_placement(obj))
    for doc in stale:
        if not _in(doc, own):
            drift.edit(doc.file)[0][doc.line or 0] = None
    for objs in drift.rewrite.values():
        objs.sort(key=lambda o: index_of(o) or 0)
    return drift


def _for_whom(obj: Mapping[str, Any]) -> str:
    tenant = owner_tenant(obj)
    return f"tenant {tenant!r}" if tenant is not None else "the tenants together"


def _in(doc: Manifest, files: set[str] | None) -> bool:
    return files is None or (doc.file != "-" and os.path.abspath(doc.file) in files)


def _where(doc: Manifest) -> str:
    return f"{doc.file}:{doc.line}" if doc.line else doc.file


def _place(files: Collection[str], last: Mapping[str, tuple[int, int]]) -> tuple[str, int] | None:
    """Where a missing object goes among the user's `files`: (file, the line of the document it
    follows, 0 for the file's start); None for the output folder (no such file)."""
    if not files:
        return None
    seen = [(last[f][0], f, last[f][1]) for f in files if f in last]
    if seen:
        _, file, line = max(seen)
        return file, line
    return min(files), 0


def write_generated(drift: Drift, root: Path, output_dir: str) -> list[str]:
    """Regenerate through the standalone writer: the generated files, the generated objects in
    place in other files, and prune the stale files of the output folder.

    Raises FnError, having changed nothing, where a file to replace is not the function's.
    """
    out = Path(os.path.relpath(root / output_dir))
    files = {Path(os.path.relpath(root / rel)): yamlio.dump_all(objs) for rel, objs in drift.rewrite.items()}
    edits = {
        Path(os.path.relpath(file)): writer.Edit(replace, after)
        for file, (replace, after) in drift.edits.items()
    }
    return writer.write_files(out, files, edits)


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
    kpt = any(d.is_object and d.data.get("kind") == "Kptfile" for d in docs) or (
        root is not None and (root / "Kptfile").is_file()
    )
    strays: list[Manifest] = []
    if root is not None:
        on_disk = generated_on_disk(docs, config, root)
        if kpt:  # kpt places the copies itself: only its tenant folders hold the function's own
            own = on_disk.own_files
            strays = [d for d in on_disk.objects if not _in(d, own)]
            on_disk = OnDisk([d for d in on_disk.objects if _in(d, own)], own)
    else:
        # a kpt package's items: the function's own are in their tenant's folder (kpt's paths)
        on_disk = OnDisk([d for d in docs if d.is_object and _generated_item(d.data, config)], None)
    have = on_disk.objects
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
    if not have and not kpt:
        return  # nothing generated on disk (a kustomize transformer setup): nothing to drift
    want = expected_generated(inputs, spec_doc.data, config, root)
    if want is None:
        return
    if config.tenants and all(o.get("kind") == "Namespace" for o in want):
        report.results.append(_no_bases(have, spec_doc, options.fix))
        return
    text = _styled(inputs)
    found = compare_generated(want, have, options.regenerate, spec_doc, on_disk.own_files, text)
    _placed_by_kpt(found, strays, want)
    if options.fix and root is not None and any(r.is_error for r in found.results) and not found.duplicates:
        try:
            report.written = write_generated(found, root, config.output_dir)
        except FnError as exc:  # nothing was written: the drift stands as found
            report.results.extend(exc.results)
        if report.written:  # what was drift is regenerated; warnings stand
            report.results.extend(r for r in found.results if not r.is_error)
            return
    report.results.extend(found.results)


def _placed_by_kpt(drift: Drift, strays: Sequence[Manifest], want: Sequence[Mapping[str, Any]]) -> None:
    """In a kpt package a generated object outside its tenant's folder is a second copy: kpt
    writes the function's own into the output folder whatever else holds one. Nothing is fixed."""
    places = {_key(o): path_of(o) for o in want}
    for doc in strays:
        place = places.get(_key(doc.data))
        if place is not None:
            drift.duplicates = True
            drift.results.append(
                doc.result(
                    f"generated object outside the output folder of a kpt package: `kpt fn render` "
                    f"writes it to {place}, so it would be applied twice; delete this copy (or, to keep "
                    "generated objects where you chose, leave kpt out: no Kptfile)"
                )
            )


def _no_bases(have: Sequence[Manifest], spec_doc: Manifest, fix: bool) -> Result:
    """Drift needs the bases: without any, every copy would look stale. Said once, nothing judged."""
    copies = sorted(
        {
            f"{d.data.get('kind')}/{meta(d.data).get('name')}"
            for d in have
            if d.data.get("kind") != "Namespace" and not is_isolation_object(d.data)
        }
    )
    which = f" (the generated objects are copies of {', '.join(copies)})" if copies else ""
    return spec_doc.result(
        f"drift needs the bases the spec expands, and none is among the inputs{which}: give their "
        f"files or folder too; {'nothing was regenerated' if fix else 'drift was not checked'}",
        ("spec", "tenants"),
        "error" if fix else "warning",
    )


def _styled(inputs: Sequence[Manifest]) -> Callable[[Mapping[str, Any]], str]:
    """A generated object's text as `ray-tenants render` prints it: styled like its base."""
    return lambda obj: dump_stream([obj], inputs)


def _generated_item(obj: Mapping[str, Any], config: TenantsConfig) -> bool:
    """A generated item of a ResourceList: in a package (it has a path) only in its tenant's folder."""
    if path_of(obj):
        return owner_in_package(obj, config.output_dir) is not None
    return owner_tenant(obj) is not None or is_shared(obj)


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
        report.written = changes
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
