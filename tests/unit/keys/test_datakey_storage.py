"""MemoryDataKeyStorage keeps the DataKeyStorage contract."""

from __future__ import annotations

import pytest

from accord.keys.datakeys import MemoryDataKeyStorage
from tests.unit.keys.datakey_storage_contract import check_storage_contract


def test_memory_storage_keeps_the_contract() -> None:
    check_storage_contract(MemoryDataKeyStorage)


def test_the_contract_catches_a_storage_without_compare_and_swap() -> None:
    class Careless(MemoryDataKeyStorage):
        def put(self, principal: bytes, version: int, wrapped: bytes) -> bool:
            self._keys.setdefault(principal, {})[version] = wrapped
            self._latest[principal] = max(version, self._latest.get(principal, 0))
            return True

    with pytest.raises(AssertionError):
        check_storage_contract(Careless)
