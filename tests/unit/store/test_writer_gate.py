"""accord.store.writer_gate: one writer at a time, urgent writers first, a bounded wait."""

from __future__ import annotations

import threading
import time

import pytest

from accord.errors import StoreError
from accord.store.writer_gate import WriterGate


def _waiter(gate: WriterGate, urgent: bool, order: list[str], name: str) -> threading.Thread:
    def run() -> None:
        with gate.turn(urgent=urgent):
            order.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_an_urgent_writer_goes_before_writers_that_waited_longer() -> None:
    gate = WriterGate(10)
    order: list[str] = []
    with gate.turn():
        plain = _waiter(gate, False, order, "plain")
        time.sleep(0.05)
        urgent = _waiter(gate, True, order, "urgent")
        time.sleep(0.05)
        assert order == []  # both wait while the turn is held
    plain.join(5)
    urgent.join(5)
    assert order == ["urgent", "plain"]


def test_only_one_holder_at_a_time() -> None:
    gate = WriterGate(10)
    inside = 0
    most = 0
    lock = threading.Lock()

    def work(urgent: bool) -> None:
        nonlocal inside, most
        for _ in range(200):
            with gate.turn(urgent=urgent):
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most == 1


def test_a_wait_longer_than_the_timeout_is_a_retryable_store_error() -> None:
    gate = WriterGate(0.1)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with gate.turn():
                pass
        except StoreError as exc:
            failed.append(exc)

    with gate.turn():
        t = threading.Thread(target=run)
        t.start()
        t.join(5)
    assert len(failed) == 1
    assert "locked" in str(failed[0])
    with gate.turn():  # the gate is free again afterwards
        pass


def test_an_urgent_writer_that_gives_up_lets_the_others_go() -> None:
    gate = WriterGate(0.2)
    order: list[str] = []
    with gate.turn():
        urgent_failed: list[BaseException] = []

        def urgent() -> None:
            try:
                with gate.turn(urgent=True):
                    order.append("urgent")
            except StoreError as exc:
                urgent_failed.append(exc)

        u = threading.Thread(target=urgent)
        u.start()
        u.join(5)
    assert urgent_failed
    with gate.turn():
        order.append("plain")
    assert order == ["plain"]


@pytest.mark.parametrize("urgent", [False, True])
def test_an_error_in_the_block_frees_the_gate(urgent: bool) -> None:
    gate = WriterGate(1)
    with pytest.raises(ValueError, match="boom"), gate.turn(urgent=urgent):
        raise ValueError("boom")
    with gate.turn():
        pass
