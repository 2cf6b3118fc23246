"""YAML in and out: guarded loading (`load`), style-keeping output (`dump`), and the resolver for
scalars Kubernetes readers disagree about (`scalars`), which both share."""

from krm_fn.yamlio.dump import (
    Dumper,
    child_node,
    dump,
    dump_all,
    dump_node,
    dump_nodes,
    holds,
    to_node,
)
from krm_fn.yamlio.load import Document, Loader, load, load_documents
from krm_fn.yamlio.scalars import NOT_A_STRING, reads_as_non_string

__all__ = [
    "NOT_A_STRING",
    "Document",
    "Dumper",
    "Loader",
    "child_node",
    "dump",
    "dump_all",
    "dump_node",
    "dump_nodes",
    "holds",
    "load",
    "load_documents",
    "reads_as_non_string",
    "to_node",
]
