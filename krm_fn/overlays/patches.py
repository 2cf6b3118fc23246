"""Namespace overlays (`output: overlays`): per tenant, a kustomization that patches the shared bases.

Each tenant folder holds the tenant's Namespace and a `kustomization.yaml` that takes the base
folders as `resources`, sets `namespace:` and the ownership labels, and carries one RFC 6902 patch
per base object: the difference between the base and the tenant's expanded copy. Any kustomize
builds it, with no plugin. Every step that depends on a list position is guarded by a `test`
operation, so a base edited after generation fails the build instead of patching the wrong entry.

Everything here is pure: the files are written by krm_fn.overlays.files.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer
import yaml

from krm_fn import yamlio
from krm_fn.config import MANAGED_BY, TENANT_LABEL, Tenant
from krm_fn.items import (
    BASE_KUSTOMIZATION_FILE,
    KUSTOMIZE_GROUP,
    LOCAL_CONFIG,
    MANAGER,
    clone,
    meta,
    without_placement,
)
from krm_fn.overlays import KUSTOMIZATION_FILES, is_kustomization_file
from krm_fn.results import ResourceRef, Result

KUSTOMIZE_API = f"{KUSTOMIZE_GROUP}/v1beta1"
NAMESPACE_FILE = "namespace.yaml"
# A base kustomization may only list files: anything that transforms them would make the
# overlay's patches apply to something other than what the expansion saw.
BASE_KUSTOMIZATION_FIELDS = ("apiVersion", "kind", "metadata", "resources")
# List entries people name: a test on the name guards an index better than the whole entry.
IDENTITY_KEYS = ("groupName", "name")


class PatchMismatch(RuntimeError):
    """A computed patch does not reproduce the expansion: a bug of ours, never the user's."""


@dataclass(frozen=True)
class Base:
    """A base object and the file it was read from (package-relative in kpt, else as given)."""

    obj: Mapping[str, Any]
    file: str


def check_bases(bases: Sequence[Base], kustomizations: Sequence[Base], output_dir: str) -> list[Result]:
    """Why the overlays could not reference these bases' folders, if anything.

    kustomize builds a folder only through its kustomization, refuses an overlay inside the folder
    it builds, and would include whatever that kustomization lists: so every base folder needs a
    kustomization that lists exactly the files holding bases, and nothing more.
    """
    results: list[Result] = []
    by_folder: dict[str, list[Base]] = {}
    for base in bases:
        if not base.file or base.file == "-":
            results.append(
                Result(
                    "output: overlays references each base by its file, and this one came without "
                    "(stdin, or a kustomize build): run kpt fn render, or ray-tenants render on files",
                    resource=ResourceRef.of(base.obj),
                )
            )
            continue
        by_folder.setdefault(folder_of(base.file), []).append(base)
    found = {posixpath.normpath(k.file): k for k in kustomizations if is_kustomization_file(k.file)}
    for folder, members in sorted(by_folder.items()):
        files = sorted({posixpath.basename(b.file) for b in members})
        first = members[0]
        if folder == "." or output_dir == folder or output_dir.startswith(folder + "/"):
            results.append(
                Result(
                    f"the output folder {output_dir!r} is inside the base folder {folder!r}: kustomize "
                    "refuses an overlay inside the folder it builds; move the bases to a folder of "
                    "their own (e.g. base/)",
                    resource=ResourceRef.of(first.obj),
                    file=first.file,
                )
            )
            continue
        kust = next(
            (found[p] for name in KUSTOMIZATION_FILES if (p := posixpath.join(folder, name)) in found),
            None,
        )
        if kust is None:
            listing = "".join(f"\n  - {f}" for f in files)
            results.append(
                Result(
                    f"{folder}/ has no kustomization.yaml: the overlays reference the folder, and "
                    f"kustomize builds a folder only through its kustomization; add "
                    f"{folder}/kustomization.yaml with:\nresources:{listing}",
                    resource=ResourceRef.of(first.obj),
                    file=first.file,
                )
            )
            continue
        results.extend(_base_kustomization_problems(kust, files))
    return results


def missing_kustomizations(
    bases: Sequence[Base], kustomizations: Sequence[Base], output_dir: str
) -> list[Base]:
    """A kustomization for each base folder that has none, listing exactly its base files.

    The function owns what it writes there (the managed-by label, no tenant): it keeps the listing
    up to date and never touches a kustomization of the user's. Folders `check_bases` refuses for
    another reason (the top, the output folder inside) get none.
    """
    found = {posixpath.normpath(k.file) for k in kustomizations if is_kustomization_file(k.file)}
    by_folder: dict[str, set[str]] = {}
    for base in bases:
        if base.file and base.file != "-":
            by_folder.setdefault(folder_of(base.file), set()).add(posixpath.basename(base.file))
    out = []
    for folder, files in sorted(by_folder.items()):
        inside = folder == "." or output_dir == folder or output_dir.startswith(folder + "/")
        if inside or any(posixpath.join(folder, name) in found for name in KUSTOMIZATION_FILES):
            continue
        kust = {
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": {
                "name": posixpath.basename(folder),
                "labels": {MANAGED_BY: MANAGER},
                "annotations": {LOCAL_CONFIG: "true"},
            },
            "resources": sorted(files),
        }
        out.append(Base(kust, posixpath.join(folder, BASE_KUSTOMIZATION_FILE)))
    return out


def _base_kustomization_problems(kust: Base, files: list[str]) -> list[Result]:
    ref = ResourceRef.of(kust.obj)
    out = [
        Result(
            f"a base kustomization may only list the base files; {key!r} would change the bases "
            "under the overlays' patches (put it in the tenant spec's patches instead)",
            resource=ref,
            field=str(key),
            file=kust.file,
        )
        for key in kust.obj
        if key not in BASE_KUSTOMIZATION_FIELDS
    ]
    listed = kust.obj.get("resources") or []
    if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
        return [
            *out,
            Result("expected a list of file names", resource=ref, field="resources", file=kust.file),
        ]
    names = [posixpath.normpath(r) for r in listed]
    out.extend(
        Result(
            f"lists {entry!r}, which holds no base object among the inputs; the overlays are computed "
            "from the inputs only, so every tenant would get it unpatched",
            resource=ref,
            field=f"resources[{i}]",
            file=kust.file,
        )
        for i, (entry, name) in enumerate(
            zip(
                listed,
                names,
                strict=True,  # pragma: no mutate (equivalent: names is listed, normalised)
            )
        )
        if name not in files
    )
    out.extend(
        Result(
            f"does not list {name!r}, which holds base objects: add it to resources",
            resource=ref,
            field="resources",
            file=kust.file,
        )
        for name in files
        if name not in names
    )
    return out


def kustomization(
    tenant: Tenant,
    pairs: Sequence[tuple[Base, Mapping[str, Any]]],
    output_dir: str,
    files: Sequence[str] = (),
) -> dict[str, Any]:
    """The tenant's Kustomization: its Namespace, its other generated `files` beside it (the
    isolation objects) and base folders, patched into its copies.

    `pairs` are each base with the tenant's expanded copy of it. Raises PatchMismatch if a
    computed patch does not turn a base into its copy.
    """
    here = posixpath.join(output_dir, tenant.name)
    folders = sorted({posixpath.relpath(folder_of(b.file), here) for b, _ in pairs})
    marks = {MANAGED_BY: MANAGER, TENANT_LABEL: tenant.name}
    patches = []
    for base, copy in pairs:
        ops = patch_ops(base.obj, copy)
        if ops:
            patches.append({"target": target_of(base.obj), "patch": dump_ops(ops)})
    out: dict[str, Any] = {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {
            "name": tenant.name,
            "labels": dict(marks),
            # kpt live apply and kpt's own tooling skip it; kustomize never looks at it
            "annotations": {LOCAL_CONFIG: "true"},
        },
        "namespace": tenant.name,
        # metadata labels only: selectors and pod templates stay as the expansion left them
        "labels": [{"pairs": dict(marks)}],
        "resources": [NAMESPACE_FILE, *files, *folders],
    }
    if patches:
        out["patches"] = patches
    return out


def resources_kustomization(files: Sequence[str], name: str = "gateway") -> dict[str, Any]:
    """A Kustomization of generated files that keep their own namespaces and labels (no transformers).

    The objects in the gateway's namespace have an overlay of their own: a tenant's `namespace:`
    would move them into the tenant namespace.
    """
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "labels": {MANAGED_BY: MANAGER}, "annotations": {LOCAL_CONFIG: "true"}},
        "resources": list(files),
    }


def folder_of(file: str) -> str:
    """The folder of a package- or cwd-relative file path ('.' for the top)."""
    return posixpath.dirname(posixpath.normpath(file)) or "."


def target_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """A kustomize patch target that selects exactly this base object."""
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    target = {"group": group} if group else {}
    target.update(version=version, kind=str(obj.get("kind")), name=str(meta(obj).get("name")))
    return target


def patch_ops(base: Mapping[str, Any], copy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """RFC 6902 operations that turn `base`, as kustomize reads it, into `copy` under the overlay.

    What the kustomization itself sets (the namespace and the two ownership labels) is left out,
    and kpt's bookkeeping annotations are not part of either. Raises PatchMismatch if the operations,
    applied with jsonpatch, do not give exactly the copy.
    """
    before = without_placement(base)
    after = without_placement(copy)
    before_meta = before.get("metadata") or {}
    after_meta = after.setdefault("metadata", {})
    if "namespace" in before_meta:
        after_meta["namespace"] = before_meta["namespace"]
    else:
        after_meta.pop("namespace", None)
    base_labels = before_meta.get("labels") or {}
    labels = after_meta.get("labels")
    if isinstance(labels, dict):
        for key in (MANAGED_BY, TENANT_LABEL):
            if key in base_labels:
                labels[key] = base_labels[key]
            else:
                labels.pop(key, None)
        if not labels and "labels" not in before_meta:
            del after_meta["labels"]
    ops: list[dict[str, Any]] = []
    _diff(before, after, "", ops)
    try:
        result = jsonpatch.apply_patch(clone(before), ops)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        result = exc
    if isinstance(result, Exception) or not _same(result, after):
        raise PatchMismatch(
            f"the overlay patch for {ResourceRef.of(base).label()} does not reproduce the expansion"
            + (f": {result}" if isinstance(result, Exception) else "")
        )
    return ops


def _diff(a: Any, b: Any, path: str, ops: list[dict[str, Any]]) -> None:
    """Append the operations that turn `a` into `b` at `path`: member by member for mappings."""
    if _same(a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            where = f"{path}/{jsonpointer.escape(str(key))}"
            if key not in b:
                ops.append({"op": "remove", "path": where})
            else:
                _diff(a[key], b[key], where, ops)
        for key in b:
            if key not in a:
                ops.append({"op": "add", "path": f"{path}/{jsonpointer.escape(str(key))}", "value": b[key]})
        return
    if isinstance(a, list) and isinstance(b, list) and _diff_list(a, b, path, ops):
        return
    ops.append({"op": "replace", "path": path, "value": b})


def _diff_list(a: list[Any], b: list[Any], path: str, ops: list[dict[str, Any]]) -> bool:
    """Entry by entry where that reads well, else False (the caller replaces the whole list).

    Named entries (worker groups, containers, ports) are followed by name: removed ones go, kept
    ones are edited in place, new ones are appended. Each index is guarded by a `test` of the
    entry's name, or of the whole entry where it has none. Plain appends use `/-` (no index).
    """
    key = _identity_key(a, b)
    if key is not None:
        ids_a = [e[key] for e in a]
        ids_b = [e[key] for e in b]
        kept = [i for i in ids_a if i in ids_b]
        if ids_b[: len(kept)] != kept:
            return False  # reordered or inserted in the middle: a replace says it more plainly
        for i in reversed(range(len(a))):
            if ids_a[i] not in ids_b:
                ops.append({"op": "test", "path": f"{path}/{i}/{key}", "value": ids_a[i]})
                ops.append({"op": "remove", "path": f"{path}/{i}"})
        remaining = [e for e in a if e[key] in ids_b]
        for i, (old, new) in enumerate(zip(remaining, b, strict=False)):
            if not _same(old, new):
                ops.append({"op": "test", "path": f"{path}/{i}/{key}", "value": old[key]})
                _diff(old, new, f"{path}/{i}", ops)
        ops.extend({"op": "add", "path": f"{path}/-", "value": e} for e in b[len(kept) :])
        return True
    if len(b) >= len(a) and all(_same(x, y) for x, y in zip(a, b, strict=False)):
        ops.extend({"op": "add", "path": f"{path}/-", "value": e} for e in b[len(a) :])
        return True
    if len(a) == len(b) and all(
        _same(x, y) or (isinstance(x, dict) and isinstance(y, dict))
        for x, y in zip(
            a,
            b,
            strict=True,  # pragma: no mutate (equivalent: the lengths were compared just before)
        )
    ):
        for i, (old, new) in enumerate(
            zip(
                a,
                b,
                strict=True,  # pragma: no mutate (equivalent: the lengths were compared just before)
            )
        ):
            if not _same(old, new):
                ops.append({"op": "test", "path": f"{path}/{i}", "value": old})
                _diff(old, new, f"{path}/{i}", ops)
        return True
    return False


def _identity_key(a: list[Any], b: list[Any]) -> str | None:
    """The key that names every entry of both lists uniquely, if there is one."""
    entries = [*a, *b]
    if not a or not all(isinstance(e, dict) for e in entries):
        return None
    for key in IDENTITY_KEYS:
        names_a = [e.get(key) for e in a]
        names_b = [e.get(key) for e in b]
        if (
            all(isinstance(n, str) and n for n in (*names_a, *names_b))
            and len(set(names_a)) == len(names_a)
            and len(set(names_b)) == len(names_b)
        ):
            return key
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: in Python `1 == True` and `1 == 1.0`, in a patch neither."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(
            _same(x, y)
            for x, y in zip(
                a,
                b,
                strict=True,  # pragma: no mutate (equivalent: the lengths were compared just before)
            )
        )
    return bool(a == b)


class _PatchDumper(yamlio.Dumper):
    """yamlio's dumper (it quotes what a Kubernetes reader would not read as a string), with
    multi-line strings as `|` blocks."""

    literal = True


class _QuotingPatchDumper(_PatchDumper):
    literal = False


def _represent_str(dumper: _PatchDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if dumper.literal else '"')
    return dumper.represent_str(value)


_PatchDumper.add_representer(str, _represent_str)


def dump_ops(ops: Sequence[Mapping[str, Any]]) -> str:
    """The operations as the block YAML people write in a kustomization's `patch: |`.

    kustomize trims the patch text before reading it, which would take the last line break off
    a block scalar at its very end: then multi-line strings are written double-quoted instead.
    """
    data = [dict(op) for op in ops]
    for dumper in (_PatchDumper, _QuotingPatchDumper):
        text: str = yaml.dump(
            data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
        )
        if yaml.load(text.strip(), Loader=yamlio.Loader) == data:
            break
    return text


def style_like(obj: Any) -> yaml.Node:
    """A node that gives yamlio.to_node the block style for multi-line strings (the patches)."""
    if isinstance(obj, dict):
        return yaml.MappingNode(
            "tag:yaml.org,2002:map",
            [(yaml.ScalarNode("tag:yaml.org,2002:str", str(k)), style_like(v)) for k, v in obj.items()],
        )
    if isinstance(obj, list):
        return yaml.SequenceNode("tag:yaml.org,2002:seq", [style_like(v) for v in obj])
    if isinstance(obj, str) and "\n" in obj:
        return yaml.ScalarNode("tag:yaml.org,2002:str", obj, style="|")
    return yaml.ScalarNode("tag:yaml.org,2002:null", "")
