"""The standalone writer: generated files onto disk, only the function's own, each whole or not at all.

`render --output overlays --out DIR` and `check --fix` both hand it the complete set of files
the spec generates now. It verifies everything before touching the disk: every target is
`<out>/<tenant>/<file>` with no symbolic link on the way, and every existing file it would
replace is one the function wrote. Then it writes each changed file to a temporary file in the
same folder, has it flushed to disk, and renames it into place; only after that does it prune the
function's stale files. A file is the function's when it sits where the expansion puts its
objects (`<tenant>/namespace.yaml`, `<tenant>/kustomization.yaml`, `<tenant>/<kind>_<name>.yaml`)
and every object in it carries the ownership labels of that tenant. Anything else passes through
untouched, labels or not.

Generated objects saved where the user chose (`ray-tenants render ... > deploy/all.yaml`) are
rewritten where they are (`Edit`): only the documents that carry the ownership labels are
replaced or removed, every other document of the file is copied byte for byte, and the file is
replaced whole by the same temporary-file-and-rename as the rest, in the same verified plan.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from krm_fn import yamlio
from krm_fn.items import (
    BASE_KUSTOMIZATION_FILE,
    GATEWAY_FOLDER,
    generated_file_name,
    is_generated_object,
    is_own_base_kustomization,
    owner_tenant,
)
from krm_fn.results import FnError, Result

YAML_SUFFIXES = (".yaml", ".yml")
# the names kustomize reads as a folder's build instructions (overlays.KUSTOMIZATION_FILES)
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
TEMP_SUFFIX = ".tmp"
# A flush per file costs a disk round trip each (7 s more for 2,000 files on a loaded 2-core VM,
# against 0.7 s for one sync of everything); past a few dozen files one sync before the renames
# keeps the same order (every new text on disk before any file is replaced) for less.
FSYNC_EACH_UP_TO = 32
# tempfile.mkstemp's names: the prefix, 8 characters of its alphabet, the suffix
_TEMP_NAME = re.compile(r"\.[^/]+\.ya?ml\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def generated_name(obj: Mapping[str, Any]) -> str:
    """The file name the expansion gives a generated object in its tenant folder.

    The same rule as expand's placement (a test holds the two together): ownership is decided
    by where a file sits as well as by its labels.
    """
    return generated_file_name(obj)


def is_generated(objs: Sequence[Any], tenant: str, name: str) -> bool:
    """True when `objs`, the content of `<out>/<tenant>/<name>`, are all the function's own there.

    Every object must carry the ownership labels of `tenant` and be one the expansion puts in a
    file of exactly this name; a file without objects is nobody's.
    """
    return bool(objs) and all(
        isinstance(o, dict)
        and (owner_tenant(o) == tenant or (tenant == GATEWAY_FOLDER and is_generated_object(o)))
        and generated_name(o) == name
        for o in objs
    )


def is_generated_file(path: Path, tenant: str) -> bool:
    """True when the regular file at `<out>/<tenant>/<name>` holds only what the function generated there.

    A symbolic link, an unreadable or invalid file, or one without objects is never the function's.
    """
    return is_generated(_objects(path), tenant, path.name)


def tenant_folder_of(out_dir: str | Path, file: str | Path) -> str | None:
    """The tenant folder `file` sits in when it is a regular file at `<out_dir>/<tenant>/<name>`.

    None anywhere else: deeper or shallower, in a hidden folder, or through a symbolic link.
    """
    parts = Path(os.path.relpath(os.path.abspath(file), os.path.abspath(out_dir))).parts
    if len(parts) != 2 or parts[0] in (os.curdir, os.pardir) or parts[0].startswith("."):
        return None
    folder = Path(out_dir) / parts[0]
    return parts[0] if _is_real_dir(folder) and _is_regular(folder / parts[1]) else None


def stale_files(out_dir: str | Path, keep: set[Path] | frozenset[Path] = frozenset()) -> list[Path]:
    """The function's files under `out_dir/<tenant>/` that are not in `keep`: what a write prunes.

    Symbolic links (folders or files) and hidden folders are never looked into or counted.
    """
    root = Path(out_dir)
    kept = {_absolute(p) for p in keep}
    if not root.is_dir():  # the output folder itself is the user's choice, a link or not
        return []
    out = []
    for folder in _children(root):
        if folder.name.startswith(".") or not _is_real_dir(folder):
            continue
        for file in _children(folder):
            if (
                file.suffix in YAML_SUFFIXES
                and _is_regular(file)
                and _absolute(file) not in kept
                and is_generated_file(file, folder.name)
            ):
                out.append(file)
    return out


@dataclass(frozen=True)
class Edit:
    """A change to a file of the user's that holds generated objects among other documents.

    `replace` maps the line a document starts on (its first node, as loaded) to its new text, or
    to None to remove it; `after` maps such a line to new documents inserted after that one (0:
    before the first). Every other document of the file is kept as it is, byte for byte.
    """

    replace: Mapping[int, str | None] = field(default_factory=dict)
    after: Mapping[int, Sequence[str]] = field(default_factory=dict)


@dataclass
class _Plan:
    """What a write does, computed and verified before the first byte goes to disk."""

    writes: dict[Path, str] = field(default_factory=dict)  # changed files only
    modes: dict[Path, int] = field(default_factory=dict)
    prune: list[Path] = field(default_factory=list)
    emptied: set[Path] = field(default_factory=set)  # files of the user's left with no document
    problems: list[Result] = field(default_factory=list)


def _existing(path: Path, text: str, plan: _Plan, umask: int) -> os.stat_result | None:
    """The file's status when it exists; None when there is nothing to compare: a new file (then
    planned as a write with the umask's mode) or one that cannot be read (then a problem)."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        plan.writes[path] = text
        plan.modes[path] = 0o666 & ~umask
    except OSError as exc:
        plan.problems.append(Result(f"cannot read: {exc.strerror}", file=path.as_posix()))
    return None


def write_files(
    out_dir: str | Path,
    files: Mapping[Path, str],
    edits: Mapping[Path, Edit] | None = None,
    bases: Mapping[Path, str] | None = None,
) -> list[str]:
    """Write `files` (each `<out_dir>/<tenant>/<name>` -> its text) and prune the function's stale files.

    `edits` change generated documents in files elsewhere, in place (see Edit); a file left with
    no document is removed. `bases` are the base folders' kustomizations the function writes
    (`<folder>/kustomization.yaml` -> its text), checked and written with the rest: only where
    none is, or over its own. Returns one line per change (`wrote overlays/a/kustomization.yaml`,
    `removed ...`). Raises FnError having written nothing when a target is not the function's to
    write, and when a write fails (disk full, file too large, permission), with every previous
    file left as it was.
    """
    plan = _plan(Path(out_dir), files)
    if edits:
        _plan_edits(plan, edits)
    _plan_base_kustomizations(plan, bases or {})
    if plan.problems:
        raise FnError(plan.problems)
    changes = _commit(plan)
    for file in plan.prune:
        try:
            file.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise FnError(
                [Result(f"cannot remove: {_reason(exc)}; {_summary(changes)}", file=file.as_posix())]
            ) from None
        changes.append(f"removed {file.as_posix()}")
        if file not in plan.emptied:  # a tenant folder goes when empty; a folder of the user's stays
            with suppress(OSError):  # a folder that still holds anything stays
                file.parent.rmdir()
    return changes


def _plan(root: Path, files: Mapping[Path, str]) -> _Plan:
    plan = _Plan()
    root_abs = Path(os.path.abspath(root))
    if os.path.lexists(root) and not root.is_dir():
        plan.problems.append(Result("the output folder is not a folder", file=root.as_posix()))
        return plan
    umask = _umask()
    folders_checked: dict[Path, bool] = {}
    targets: dict[Path, str] = {}
    for given, text in sorted(files.items()):
        parts = Path(os.path.relpath(os.path.abspath(given), root_abs)).parts
        if len(parts) != 2 or parts[0] in (os.curdir, os.pardir) or parts[0].startswith("."):
            plan.problems.append(
                Result(
                    f"is not <output folder>/<tenant>/<file> under {root.as_posix()!r}: "
                    "ray-tenants writes only its tenant folders",
                    file=given.as_posix(),
                )
            )
            continue
        tenant = parts[0]
        # the lexically normal path: no `..` that a link on the way would resolve elsewhere
        path = root / tenant / parts[1]
        targets[path] = text
        shown = path.as_posix()
        folder = path.parent
        if folder not in folders_checked:
            problem = _folder_problem(folder)
            folders_checked[folder] = problem is None
            if problem is not None:
                plan.problems.append(problem)
        if not folders_checked[folder]:
            continue
        st = _existing(path, text, plan, umask)
        if st is None:
            continue
        if stat.S_ISLNK(st.st_mode):
            plan.problems.append(
                Result(
                    "is a symbolic link: ray-tenants never writes through one (it could lead outside "
                    "the output folder, or onto a base); replace it with the generated file or remove it",
                    file=shown,
                )
            )
            continue
        if not stat.S_ISREG(st.st_mode):
            plan.problems.append(Result("is not a regular file: ray-tenants will not replace it", file=shown))
            continue
        try:
            old = path.read_bytes()
        except OSError as exc:
            plan.problems.append(Result(f"cannot read: {exc.strerror}", file=shown))
            continue
        if old == text.encode("utf-8"):
            continue
        # an empty file holds nothing to lose (an interrupted write of an earlier version left it)
        if old.strip() and not is_generated_file(path, tenant):
            plan.problems.append(
                Result(
                    f"exists and was not generated by ray-tenants for tenant {tenant!r} (every object in a "
                    "file it writes carries its ownership labels): it is never overwritten; move it "
                    "away or delete it, then run again",
                    file=shown,
                )
            )
            continue
        plan.writes[path] = text
        plan.modes[path] = stat.S_IMODE(st.st_mode)
    plan.problems.extend(_kustomization_clashes(targets))
    if not plan.problems:
        plan.prune = stale_files(root, set(targets))
        # a run killed between writing and renaming left these; nothing else has their names
        plan.prune.extend(
            t for folder in dict.fromkeys(p.parent for p in targets) for t in _children(folder) if _is_temp(t)
        )
    return plan


def _plan_base_kustomizations(plan: _Plan, files: Mapping[Path, str]) -> None:
    """Add the base folders' kustomizations to the plan, or the reason each may not be written.

    The folder must be a real one that exists (it holds the bases); the file is new, or a regular
    file holding only the function's own base kustomization (krm_fn.items), never a link; and no
    other kustomization of the user's sits beside it.
    """
    umask = _umask()
    for path, text in sorted(files.items()):
        shown = path.as_posix()
        if path.name != BASE_KUSTOMIZATION_FILE or not _is_real_dir(path.parent):
            plan.problems.append(Result("is not a kustomization.yaml in a base folder", file=shown))
            continue
        st = _existing(path, text, plan, umask)
        if st is None:
            continue
        objs = _objects(path) if stat.S_ISREG(st.st_mode) else []
        if not (objs and all(is_own_base_kustomization(o, path.name) for o in objs)):
            plan.problems.append(
                Result(
                    "exists and is not the base kustomization ray-tenants writes (a Kustomization "
                    "labelled app.kubernetes.io/managed-by: ray-tenants): it is never overwritten",
                    file=shown,
                )
            )
        elif path.read_text(encoding="utf-8") != text:
            plan.writes[path] = text
            plan.modes[path] = stat.S_IMODE(st.st_mode)
    plan.problems.extend(_kustomization_clashes(files))


def _plan_edits(plan: _Plan, edits: Mapping[Path, Edit]) -> None:
    """Add the in-place edits to the plan, each verified: a regular file reached through no link,
    each document it replaces or removes one the function generated."""
    for path, edit in sorted(edits.items()):
        shown = path.as_posix()
        if path in plan.writes:
            plan.problems.append(
                Result("would be written twice: as a generated file and in place", file=shown)
            )
            continue
        if not _is_regular(path):  # a symbolic link would be replaced by a file, or lead elsewhere
            plan.problems.append(
                Result(
                    "is a symbolic link or not a regular file: ray-tenants never writes through one; "
                    "its generated objects are left as they are",
                    file=shown,
                )
            )
            continue
        try:
            old = path.read_bytes()
            text = _edited(old.decode("utf-8"), edit, shown)
        except (OSError, UnicodeDecodeError, FnError) as exc:
            plan.problems.extend(
                exc.results if isinstance(exc, FnError) else [Result(f"cannot read: {exc}", file=shown)]
            )
            continue
        if text.encode("utf-8") == old:
            continue
        if not text.strip():
            plan.prune.append(path)  # it held only generated objects, none of them generated now
            plan.emptied.add(path)
            continue
        plan.writes[path] = text
        plan.modes[path] = stat.S_IMODE(os.lstat(path).st_mode)


def _edited(text: str, edit: Edit, shown: str) -> str:
    """`text` with the edit's documents replaced, removed and inserted; every other one kept as written.

    New documents take the file's line ends (CRLF where it has them).
    """
    chunks = document_chunks(text)
    missing = (set(edit.replace) | set(edit.after)) - {c[2] for c in chunks} - {0}
    if missing:
        raise FnError([Result("has no document starting here", file=shown, line=min(missing))])
    docs = {d.line: d for d in yamlio.load_documents(text, shown)}
    eol = "\r\n" if "\r\n" in text else "\n"
    marker = "---" + eol

    def ends(new: str) -> str:
        return new.replace("\n", eol) if eol != "\n" else new

    out = [ends(new) + marker for new in edit.after.get(0, ())]
    for start, body, line, end in chunks:
        if line not in edit.replace:
            out.append(text[start:end])
        else:
            doc = docs.get(line)
            if doc is None or not isinstance(doc.data, dict) or not is_generated_object(doc.data):
                raise FnError(
                    [
                        Result(
                            "holds no generated object here (the document has no ownership labels): "
                            "ray-tenants never rewrites a user's objects",
                            file=shown,
                            line=line,
                        )
                    ]
                )
            new = edit.replace[line]
            if new is not None:
                # a node on the `---` line: the marker is written again before the new text
                chunk = text[start:end]
                keep = text[start:body] if body > start else (marker if chunk.startswith("---") else "")
                out.append(keep + ends(new))
        for new in edit.after.get(line, ()) if line else ():
            if out and not out[-1].endswith("\n"):
                out[-1] += eol
            out.append((marker if any(o.strip() for o in out) else "") + ends(new))
    result = "".join(out)
    if result.startswith(marker) and not text.startswith("---"):
        result = result[len(marker) :]  # the first document went: the file starts as it did
    return result


def document_chunks(text: str) -> list[tuple[int, int, int, int]]:
    """Each document of a YAML stream as offsets into `text`: (start, body, line, end).

    The chunks cover the text end to end. `start` is where a document's chunk begins (its `---`
    line; the file's start for the first), `body` where the line of its first node begins (what
    comes before, a `---` and comments, is kept when the document is replaced; `body == start`
    when the node sits on the `---` line itself), `line` that node's line (1-based: the loader's
    document line), `end` where the next chunk begins.
    """
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    starts: list[int] = []
    bodies: list[tuple[int, int]] = []
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, yaml.DocumentStartEvent):
            # only the first document may start without `---` (pyyaml reads YAML 1.1)
            starts.append(line_starts[_line(event)] if starts else 0)
        elif isinstance(event, yaml.NodeEvent) and len(bodies) < len(starts):
            line = _line(event)
            bodies.append((max(line_starts[line], starts[-1]), line + 1))
    ends = [*starts[1:], len(text)]
    return [(s, b, line, e) for s, (b, line), e in zip(starts, bodies, ends, strict=True)]


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line if mark is not None else 0


def _folder_problem(folder: Path) -> Result | None:
    """Why nothing may be written into this tenant folder, if anything."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Result(f"cannot read: {exc.strerror}", file=folder.as_posix())
    if stat.S_ISLNK(st.st_mode):
        return Result(
            "is a symbolic link: ray-tenants never writes through one (it could lead outside the "
            "output folder, or onto a base); make it a real folder or remove it",
            file=folder.as_posix(),
        )
    if not stat.S_ISDIR(st.st_mode):
        return Result(
            "is not a folder: ray-tenants writes the tenant's files into it", file=folder.as_posix()
        )
    return None


def _kustomization_clashes(files: Mapping[Path, str]) -> list[Result]:
    """A kustomization written beside another kustomize would read (`kustomization.yml`, ...).

    kustomize refuses a folder with two, and one of the user's there means the folder is theirs
    (a base folder the tenant is named after, say).
    """
    out = []
    for path in sorted(files):
        if path.name not in KUSTOMIZATION_NAMES:
            continue
        for other in KUSTOMIZATION_NAMES:
            sibling = path.with_name(other)
            if other != path.name and sibling not in files and os.path.lexists(sibling):
                out.append(
                    Result(
                        f"not generated by ray-tenants, and kustomize reads one kustomization per "
                        f"folder: {path.name} is not written beside it; move it away, or use another "
                        "output folder",
                        file=sibling.as_posix(),
                    )
                )
    return out


def _commit(plan: _Plan) -> list[str]:
    """Write every changed file whole: all to temporary files first, then rename each into place.

    A failure while writing the temporary files (where a full disk or a file size limit shows)
    removes them and any folder made for them: nothing changed. A rename replaces a file whole,
    so each file is its old or its new text, never a part.
    """
    made: list[Path] = []
    temps: dict[Path, Path] = {}
    current = Path()
    each = len(plan.writes) <= FSYNC_EACH_UP_TO
    try:
        for path, text in plan.writes.items():
            current = path
            made.extend(_make_folders(path.parent))
            temps[path] = _write_temp(path, text, plan.modes[path], each)
        if not each:
            os.sync()  # every temporary file on disk before the first rename
    except BaseException as exc:  # an interrupt too: no temporary file stays behind
        _discard(temps.values(), made)
        if not isinstance(exc, OSError):
            raise
        raise FnError(
            [Result(f"cannot write: {_reason(exc)}; nothing was changed", file=current.as_posix())]
        ) from None
    replaced: list[Path] = []
    try:
        for path, temp in temps.items():
            current = path
            os.replace(temp, path)
            replaced.append(path)
    except BaseException as exc:
        _discard((t for p, t in temps.items() if p not in replaced), made)
        if not isinstance(exc, OSError):
            raise
        raise FnError(
            [
                Result(
                    f"cannot replace: {_reason(exc)}; {_summary([f'wrote {p.as_posix()}' for p in replaced])}",
                    file=current.as_posix(),
                )
            ]
        ) from None
    if each:
        for folder in dict.fromkeys(p.parent for p in replaced):
            _sync_folder(folder)
    else:
        os.sync()
    return [f"wrote {p.as_posix()}" for p in replaced]


def _is_temp(path: Path) -> bool:
    """A temporary file of `_write_temp` (`.<name>.<8 random characters>.tmp`)."""
    return bool(_TEMP_NAME.fullmatch(path.name)) and _is_regular(path)


def _write_temp(path: Path, text: str, mode: int, flush: bool) -> Path:
    """`text` in a new hidden file beside `path`, with the mode the file gets; flushed to disk if `flush`."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            if flush:
                os.fsync(out.fileno())
        os.chmod(temp, mode)
    except BaseException:
        with suppress(OSError):
            temp.unlink()
        raise
    return temp


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and missing parents; return the ones made, outermost first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir()
    return list(reversed(missing))


def _discard(temps: Iterable[Path], folders: list[Path]) -> None:
    """Remove temporary files and the folders made for them (a folder that holds anything stays)."""
    for temp in temps:
        with suppress(OSError):
            temp.unlink()
    for folder in reversed(folders):
        with suppress(OSError):
            folder.rmdir()


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the renames) to disk, where the platform can."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _summary(changes: list[str]) -> str:
    if not changes:
        return "nothing was changed"
    return "already done: " + ", ".join(changes) + "; the other files are unchanged"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _objects(path: Path) -> list[Any]:
    """The objects of a regular file, or [] when it is a link, unreadable or not YAML."""
    if not _is_regular(path):
        return []
    try:
        docs = yamlio.load_documents(path.read_bytes(), path.as_posix())
    except (OSError, FnError):
        return []
    return [d.data for d in docs if d.data is not None]


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask
