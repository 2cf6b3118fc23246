"""The one loader: files, folders and stdin to manifests with their origin; a `v1/List` is its items.

Folders are walked one way for every front end (`walk`: hidden paths, Helm charts and `--exclude`
globs skipped). Front ends differ only in what they do with a path that is missing: render stops
at the first (`walk` raises), the check reports every one and goes on (`load_paths`).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from krm_fn import yamlio
from krm_fn.inputs.objects import Manifest
from krm_fn.items import index_of, is_list, path_of
from krm_fn.results import FnError, Result

SUFFIXES = (".yaml", ".yml")


def find_files(paths: Iterable[str], exclude: Sequence[str] = ()) -> list[str]:
    """The YAML files named or contained (recursively, hidden folders skipped), in a stable order."""
    return walk(paths, exclude)[0]


def walk(paths: Iterable[str], exclude: Sequence[str] = ()) -> tuple[list[str], list[Result]]:
    """The YAML files named or found in folders, and an info finding for each Helm chart skipped.

    In a folder, hidden files and folders are skipped, so is every path matching an `exclude`
    glob (its name, its path below the folder, or its path as shown), and a Helm chart (a folder
    with a Chart.yaml) whole: its templates are not YAML. A file named explicitly is always read.
    A path that does not exist raises FnError.
    """
    found: list[str] = []
    notes: list[Result] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or path.is_file():
            found.append(raw)
        elif path.is_dir():
            files, charts = _walk_folder(path, exclude)
            found.extend(files)
            notes.extend(charts)
        else:
            raise FnError([Result("no such file or folder", file=raw)])
    return list(dict.fromkeys(found)), notes


def _walk_folder(root: Path, exclude: Sequence[str]) -> tuple[list[str], list[Result]]:
    files: list[Path] = []
    notes: list[Result] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if (here / "Chart.yaml").is_file():
            dirs[:] = []
            notes.append(
                Result(
                    "a Helm chart (Chart.yaml): skipped, its templates are not YAML; check what it "
                    "renders with `helm template CHART | ray-tenants check -`",
                    severity="info",
                    file=here.as_posix(),
                )
            )
            continue
        rel = here.relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _excluded(root, rel / d, exclude))
        files.extend(
            here / name
            for name in names
            if Path(name).suffix in SUFFIXES
            and not name.startswith(".")
            and not _excluded(root, rel / name, exclude)
            and (here / name).is_file()
        )
    return [str(p) for p in sorted(files)], notes


def _excluded(root: Path, rel: Path, patterns: Sequence[str]) -> bool:
    """Whether a path below `root` matches a glob: by its name, its path below root, or as shown."""
    names = (rel.name, rel.as_posix(), (root / rel).as_posix())
    globs = [pattern.removeprefix("./").rstrip("/") for pattern in patterns]
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs for name in names)


def read_documents(file: str) -> tuple[list[yamlio.Document], list[Result]]:
    """The YAML documents of one file (`-` is stdin); an unreadable or invalid file is a finding."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        return [], [Result(f"cannot read: {exc.strerror}", file=file)]
    try:
        return yamlio.load_documents(raw, file), []
    except FnError as exc:
        return [], exc.results


def load_files(files: Sequence[str]) -> tuple[list[Manifest], list[Result]]:
    """Every object of every file; unreadable or invalid files become findings."""
    manifests: list[Manifest] = []
    problems: list[Result] = []
    for file in files:
        docs, bad = read_documents(file)
        problems.extend(bad)
        for i, doc in enumerate(docs):
            if doc.data is not None:
                manifests.extend(flatten(Manifest(doc.data, file, doc.line, i, doc.node)))
    return manifests, problems


def load_paths(paths: Iterable[str], exclude: Sequence[str] = ()) -> tuple[list[Manifest], list[Result]]:
    """Every object of every YAML file named or found in folders (see `walk`); each missing path,
    and each Helm chart skipped, a finding."""
    problems: list[Result] = []
    files: list[str] = []
    for path in paths:
        try:
            found, notes = walk([path], exclude)
        except FnError as exc:
            problems.extend(exc.results)
            continue
        files.extend(found)
        problems.extend(notes)
    manifests, bad = load_files(list(dict.fromkeys(files)))
    return manifests, [*problems, *bad]


def from_items(items: Sequence[Any]) -> list[Manifest]:
    """KRM items as manifests: the file and index are kpt's annotations; no line numbers."""
    out: list[Manifest] = []
    for obj in items:
        file = path_of(obj) if isinstance(obj, Mapping) else ""
        index = index_of(obj) if isinstance(obj, Mapping) else None
        out.extend(flatten(Manifest(obj, file, None, index)))
    return out


def flatten(manifest: Manifest) -> list[Manifest]:
    """The manifest, or the items of a `v1/List` (as kubectl and kustomize read one), each at its line."""
    data = manifest.data
    if not is_list(data):
        return [manifest]
    items = data["items"]
    node = yamlio.child_node(manifest.node, "items")
    nodes: list[yaml.Node | None] = [None] * len(items)
    if isinstance(node, yaml.SequenceNode) and len(node.value) == len(items):
        nodes = list(node.value)
    return [
        Manifest(
            item, manifest.file, n.start_mark.line + 1 if n is not None else manifest.line, manifest.index, n
        )
        for item, n in zip(items, nodes, strict=True)
    ]
