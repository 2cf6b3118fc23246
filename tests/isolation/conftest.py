"""The one fixture of the isolation tests: the objects the example expands to with `spec.access`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.isolation.generated import render, spec


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """`ray-tenants render` of the example with access set (read-only: deep-copy to change it)."""
    return render(spec(), tmp_path_factory.mktemp("isolation"))
