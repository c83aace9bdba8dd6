"""Backoff: doubling from the base, capped, jittered into [delay/2, delay]."""

from __future__ import annotations

import pytest

from accord.errors import UsageError
from accord.replication import Backoff


def test_doubles_then_caps() -> None:
    b = Backoff(base_ms=250, cap_ms=60_000)
    assert [b.delay_ms(n) for n in range(10)] == [
        0,
        250,
        500,
        1000,
        2000,
        4000,
        8000,
        16000,
        32000,
        60000,
    ]
    assert b.delay_ms(10_000) == 60_000  # no overflow however long it fails


def test_jitter_stays_within_half_and_full() -> None:
    b = Backoff(base_ms=1000, cap_ms=8000)
    assert b.delay_ms(3, 0.0) == 2000
    assert b.delay_ms(3, 0.5) == 3000
    assert b.delay_ms(3, 1.0) == 4000
    assert b.delay_ms(3, 7.0) == 4000  # draws are clamped
    assert b.delay_ms(1, -1.0) == 500


@pytest.mark.parametrize(("base", "cap"), [(0, 10), (10, 5), (1.5, 10)])
def test_bad_settings(base: object, cap: object) -> None:
    with pytest.raises(UsageError):
        Backoff(base, cap)  # type: ignore[arg-type]
