"""The DataKeyStorage contract as reusable checks: any storage (memory, SQLite,
PostgreSQL) must pass ``check_storage_contract(make_storage)``."""

from __future__ import annotations

from collections.abc import Callable

from accord.keys.datakeys import DataKeyStorage

__all__ = ["check_storage_contract"]


def check_storage_contract(make_storage: Callable[[], DataKeyStorage]) -> None:
    storage = make_storage()
    a, ab = b"a", b"ab"  # one a prefix of the other: must not collide

    assert storage.latest(a) == 0
    assert storage.get(a, 1) is None
    assert list(storage.principals()) == []

    # put is a compare-and-swap on latest + 1
    assert storage.put(a, 2, b"w2") is False
    assert storage.put(a, 1, b"w1") is True
    assert storage.put(a, 1, b"other") is False
    assert storage.get(a, 1) == b"w1"
    assert storage.put(a, 3, b"w3") is False
    assert storage.put(a, 2, b"w2") is True
    assert storage.latest(a) == 2
    assert storage.put(ab, 1, b"x1") is True
    assert storage.latest(ab) == 1
    assert storage.get(ab, 2) is None
    assert sorted(storage.principals()) == [a, ab]

    # delete drops the keys, keeps the counter
    assert storage.delete(a) == 2
    assert storage.get(a, 1) is None
    assert storage.get(a, 2) is None
    assert storage.latest(a) == 2
    assert list(storage.principals()) == [ab]
    assert storage.delete(a) == 0
    assert storage.put(a, 1, b"again") is False
    assert storage.put(a, 3, b"w3") is True
    assert storage.get(a, 3) == b"w3"
    assert storage.get(ab, 1) == b"x1"
