"""Drift: generated resources on disk against what the function generates from the spec now."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krm_fn import items as it
from krm_fn import yamlio
from krm_fn.check.loader import Doc, load_paths
from krm_fn.config import TenantsConfig
from krm_fn.expand import expand
from krm_fn.results import ResourceRef, Result

Key = tuple[str, str, str]


@dataclass
class Drift:
    """Findings, and the files that regenerating would write (relative path -> objects)."""

    results: list[Result] = field(default_factory=list)
    rewrite: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)


def generated_on_disk(docs: Sequence[Doc], config: TenantsConfig, root: Path) -> list[Doc]:
    """Generated objects among `docs`, plus those in `<root>/<outputDir>` not loaded already."""
    owned = [d for d in docs if d.is_object and it.owner_tenant(d.data) is not None]
    folder = root / config.output_dir
    if folder.is_dir():
        loaded = {os.path.abspath(d.file) for d in docs}
        extra, _ = load_paths([str(folder)])
        owned.extend(
            d
            for d in extra
            if d.is_object and it.owner_tenant(d.data) is not None and os.path.abspath(d.file) not in loaded
        )
    return owned


def expected(
    inputs: Sequence[Doc], spec: Mapping[str, Any], config: TenantsConfig, root: Path | None
) -> list[dict[str, Any]]:
    """What the function generates now, each object placed at its file (kpt's path annotation).

    The inputs run through the expansion as kpt gives them (with their paths), so the files
    generated objects go to are the function's own choice, not a second copy of its naming rule.
    """
    items = []
    for doc in inputs:
        obj = it.clone(doc.data)
        if root is not None and not it.path_of(obj):
            rel = os.path.relpath(os.path.abspath(doc.file), root) if doc.file != "-" else "stdin.yaml"
            notes = obj.setdefault("metadata", {}).setdefault("annotations", {})
            notes["config.kubernetes.io/path"] = rel
        items.append(obj)
    outcome = expand(items, config, spec)
    if outcome.failed:
        return []  # the expansion's own findings are reported by the checker
    return [o for o in outcome.items if it.owner_tenant(o) is not None]


def compare(
    want: Sequence[Mapping[str, Any]],
    have: Sequence[Doc],
    regenerate: str,
    spec_doc: Doc,
) -> Drift:
    """Stale, changed and missing generated objects, and the files regenerating would write."""
    drift = Drift()
    wanted: dict[Key, Mapping[str, Any]] = {_key(o): o for o in want}
    found: dict[Key, Doc] = {}
    for doc in have:
        key = _key(doc.data)
        found[key] = doc
        if key not in wanted:
            drift.results.append(
                doc.result(
                    f"generated for tenant {it.owner_tenant(doc.data)!r} but the spec no longer "
                    f"generates it; regenerate with `{regenerate}` (or delete it)"
                )
            )
            continue
        diff = first_difference(clean(doc.data), clean(wanted[key]))
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
                    f"{it.path_of(obj)}); regenerate with `{regenerate}`",
                    ("spec", "tenants"),
                )
            )
    if drift.results:
        for obj in sorted(want, key=lambda o: it.index_of(o) or 0):
            drift.rewrite.setdefault(it.path_of(obj), []).append(clean(obj))
        drift.delete = sorted(
            {d.file for d in have if _key(d.data) not in wanted}
            - {os.path.normpath(p) for p in drift.rewrite}
        )
    return drift


def write(drift: Drift, root: Path, have: Sequence[Doc]) -> list[str]:
    """Regenerate: write the generated files that differ, delete files only stale objects fill."""
    owned_files = {d.file for d in have}
    written = []
    for rel, objs in drift.rewrite.items():
        path = root / rel
        text = yamlio.dump_all(objs)
        if path.is_file() and path.read_text() == text:
            continue
        if path.is_file() and _holds_foreign(path, owned_files):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(str(path))
    for file in drift.delete:
        if not _holds_foreign(Path(file), owned_files):
            Path(file).unlink(missing_ok=True)
            written.append(file)
    return written


def _holds_foreign(path: Path, owned_files: set[str]) -> bool:
    """True when the file holds anything the function did not generate: never overwrite that."""
    docs, problems = load_paths([str(path)])
    return bool(problems) or any(not d.is_object or it.owner_tenant(d.data) is None for d in docs)


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without kpt's placement annotations (they say where it is, not what)."""
    out: dict[str, Any] = it.clone(dict(obj))
    meta = out.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(meta, dict) and isinstance(notes, dict):
        for key in (*it.KPT_PLACEMENT, "config.kubernetes.io/index", "config.kubernetes.io/path"):
            notes.pop(key, None)
        if not notes:
            del meta["annotations"]
    return out


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
    meta = it.meta(obj)
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or ""))
