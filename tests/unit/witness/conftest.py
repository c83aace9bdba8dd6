"""The witness seam tests run against every store (tests/unit/witness/stores.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.node.witness_store import SqlWitnessStore
from tests.unit.witness.stores import ALL_STORES, SQL_STORES, witness_stores


@pytest.fixture(params=ALL_STORES)
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A factory of fresh, empty witness stores of one kind: memory, SQLite, PostgreSQL."""
    with witness_stores(request.param, tmp_path) as make:
        yield make


@pytest.fixture(params=SQL_STORES)
def new_sql_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], SqlWitnessStore]]:
    """A factory of fresh SqlWitnessStores on one backend."""
    with witness_stores(request.param, tmp_path) as make:
        yield make
