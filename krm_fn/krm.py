"""The KRM function protocol: a ResourceList on stdin, a ResourceList on stdout.

On failure the INPUT items go back unchanged with the results, and the exit code is 1: kpt then
writes nothing, and kustomize fails the build instead of applying a partial or empty output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, Any

import yaml

from krm_fn import yamlio
from krm_fn.expand import Outcome
from krm_fn.inputs.function_config import check_processor, processor
from krm_fn.items import path_of
from krm_fn.output import style_sources
from krm_fn.results import FnError, Result, describe

RESOURCE_LIST_VERSIONS = (
    "config.kubernetes.io/v1",
    "config.kubernetes.io/v1beta1",
    "config.kubernetes.io/v1alpha1",
)


def run(stdin: IO[bytes], stdout: IO[str], stderr: IO[str], *, check: bool = False) -> int:
    """Read a ResourceList, run the processor its functionConfig asks for, write a ResourceList.

    `check`: the command line asked for the check (`ray-tenants check` as a kpt validator),
    whatever the functionConfig is, or with none.
    """
    raw = stdin.read()
    api_version = RESOURCE_LIST_VERSIONS[0]
    items: list[Any] = []
    nodes: list[yaml.Node | None] = []
    try:
        doc = _one_document(raw)
        rl = _resource_list(doc.data)
        api_version = rl["apiVersion"]
        items = rl["items"]
        nodes = _item_nodes(doc.node, len(items))
        fn_config = rl.get("functionConfig")
        fn_file = path_of(fn_config) if isinstance(fn_config, Mapping) else ""
        # the expansion, or the check's kpt validator: the table in inputs.function_config decides
        outcome = (check_processor() if check else processor(fn_config))(items, fn_config, fn_file)
    except FnError as exc:
        outcome = Outcome(items, exc.results)
    return write(outcome, items, api_version, stdout, stderr, nodes)


def write(
    outcome: Outcome,
    inputs: list[Any],
    api_version: str,
    stdout: IO[str],
    stderr: IO[str],
    nodes: Sequence[yaml.Node | None] = (),
) -> int:
    """Emit the ResourceList (the inputs unchanged if anything failed); return the exit code."""
    failed = outcome.failed
    out: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "ResourceList",
        "items": inputs if failed else outcome.items,
    }
    if outcome.results:
        out["results"] = [r.to_krm() for r in outcome.results]
    stdout.write(yamlio.dump_node(yamlio.to_node(out, likes=style_sources(inputs, nodes, out["items"]))))
    for result in outcome.results:
        if result.severity != "info":
            stderr.write(f"ray-tenants: {result.one_line()}\n")
    return 1 if failed else 0


def _one_document(raw: bytes) -> yamlio.Document:
    docs = yamlio.load_documents(raw, "<stdin>")
    if len(docs) != 1:
        raise FnError(
            [
                Result(
                    f"expected one ResourceList on stdin, found {len(docs)} YAML documents",
                    file="<stdin>",
                )
            ]
        )
    return docs[0]


def _item_nodes(node: yaml.Node | None, count: int) -> list[yaml.Node | None]:
    items = yamlio.child_node(node, "items")
    if isinstance(items, yaml.SequenceNode) and len(items.value) == count:
        return list(items.value)
    return [None] * count


def _resource_list(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise FnError([Result(f"expected a ResourceList on stdin, got {describe(doc)}", file="<stdin>")])
    if doc.get("kind") != "ResourceList" or doc.get("apiVersion") not in RESOURCE_LIST_VERSIONS:
        raise FnError(
            [
                Result(
                    f"expected kind ResourceList with apiVersion {RESOURCE_LIST_VERSIONS[0]}, "
                    f"got {doc.get('kind')!r} {doc.get('apiVersion')!r}",
                    file="<stdin>",
                )
            ]
        )
    items = doc.get("items")
    if not isinstance(items, list):
        raise FnError([Result(f"ResourceList.items must be a list, got {describe(items)}", file="<stdin>")])
    return doc
