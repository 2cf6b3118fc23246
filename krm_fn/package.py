"""The expansion as a KRM step: the functionConfig parsed, and whether the items are a kpt package.

kpt annotates every item with its file and writes the output back into the package: the bases
stay, the copies get files of their own. kustomize passes a stream, where the copies replace the
bases. The items say which (see items.all_placed); the expansion is told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from krm_fn.config import parse_config
from krm_fn.expand import Outcome, expand
from krm_fn.items import all_placed


def expand_package(items: Sequence[Any], fn_config: Mapping[str, Any] | None, file: str) -> Outcome:
    """Expand KRM items for the tenant spec in `fn_config` (from `file`); FnError for a bad spec."""
    config = parse_config(fn_config, file)
    return expand(items, config, fn_config, kpt=all_placed(items))
