"""Crash safety: a writer process is SIGKILLed mid-run; the reopened log holds exactly
the committed prefix, consistent with every checkpoint issued before (both backends)."""

from __future__ import annotations

import base64
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography.exceptions import InvalidSignature

from accord.log import Log
from accord.merkle import MemoryTree, leaf_hash, verify_consistency
from tests.integration import log_writer

REPO = Path(__file__).resolve().parents[2]


class Writer:
    """The writer subprocess, with its output lines read on a thread."""

    started: ClassVar[list[subprocess.Popen[str]]] = []

    def __init__(self, url: str, *extra: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.log_writer", url, *extra],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        Writer.started.append(self.proc)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.committed = 0
        self.checkpoints: list[int] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _record(self, line: str) -> None:
        kind, _, value = line.partition(" ")
        if kind == "committed":
            self.committed = int(value)
        elif kind == "checkpoint":
            self.checkpoints.append(int(value))

    def next_line(self, timeout: float = 60) -> str:
        line = self.lines.get(timeout=timeout)
        if line is None:
            assert self.proc.stderr is not None
            pytest.fail(f"writer exited early: {self.proc.stderr.read()}")
        self._record(line)
        return line

    def wait_for(self, prefix: str) -> str:
        while True:
            line = self.next_line()
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL
        # Lines printed before the kill still count as reported.
        while True:
            try:
                line = self.lines.get(timeout=10)
            except queue.Empty:  # pragma: no cover - the pipe closes at exit
                break
            if line is None:
                break
            self._record(line)


@pytest.fixture(autouse=True)
def _no_writer_survives() -> Iterator[None]:
    """Whatever a test does, no writer process outlives it."""
    yield
    while Writer.started:
        proc = Writer.started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def check_after_crash(url: str, reported: int, checkpoints_seen: list[int]) -> int:
    """Reopen and check everything the crash must have preserved; return the size."""
    with Log.open(url) as log:
        size = log.size
        bounds = log_writer.boundaries(size)
        assert size in bounds, f"size {size} is not a batch boundary"
        assert size >= reported
        expected = [log_writer.entry(i) for i in range(size)]
        assert log.entries(0, size) == expected
        mem = MemoryTree(leaf_hash(e) for e in expected)
        assert log.root_hash() == mem.root()
        # The hook's rows committed exactly with their batches.
        rows = log.db.fetchall("SELECT first_index FROM writer_batches ORDER BY first_index")
        assert [r[0] for r in rows] == bounds[:-1]
        # Every checkpoint: signed, its root is the log's root at its size, and the
        # final tree is consistent with it.
        public = log_writer.key().public_key()
        stored = log.db.fetchall("SELECT size FROM log_checkpoints ORDER BY size")
        assert {s for (s,) in stored} >= set(checkpoints_seen)
        for (cp_size,) in stored:
            note = log.checkpoint(cp_size)
            assert note is not None
            text, _, sig_line = note.rpartition("\n\n")
            text += "\n"
            origin, n, root_b64 = text.splitlines()
            assert (origin, int(n)) == (log_writer.ORIGIN, cp_size)
            raw = base64.b64decode(sig_line.rsplit(" ", 1)[1])
            try:
                public.verify(raw[4:], text.encode())
            except InvalidSignature:  # pragma: no cover - reported by the assert
                pytest.fail(f"checkpoint {cp_size} does not verify")
            root = base64.b64decode(root_b64)
            assert root == log.root_hash(cp_size) == mem.root(cp_size)
            if cp_size:
                proof = log.consistency_proof(cp_size, size)
                verify_consistency(cp_size, size, proof, root, log.root_hash())
        return size


def test_kill_inside_a_transaction(db_url: str) -> None:
    writer = Writer(db_url, "--pause-at", "7")
    line = writer.wait_for("in-tx")
    assert int(line.split()[1]) == writer.committed
    writer.kill()
    size = check_after_crash(db_url, writer.committed, writer.checkpoints)
    assert size == writer.committed  # the batch in flight left nothing behind
    assert len(writer.checkpoints) == 2
    # The log goes on from the committed prefix.
    with Log.open(db_url) as log:
        first = log.append_batch([log_writer.entry(size)])
        assert first == size


def test_kill_at_a_random_moment(db_url: str) -> None:
    rng = random.Random()
    writer = Writer(db_url)
    writer.wait_for("committed")
    time.sleep(rng.uniform(0.05, 0.4))
    writer.kill()
    check_after_crash(db_url, writer.committed, writer.checkpoints)


@pytest.mark.slow
def test_many_kills_and_restarts(db_url: str) -> None:
    rng = random.Random()
    reported, checkpoints = 0, []
    for round_ in range(12):
        pause = ("--pause-at", str(rng.randrange(1, 6))) if round_ % 3 == 0 else ()
        writer = Writer(db_url, *pause)
        if pause:
            writer.wait_for("in-tx")
        else:
            writer.wait_for("committed")
            time.sleep(rng.uniform(0.0, 0.5))
        writer.kill()
        reported = max(reported, writer.committed)
        checkpoints += writer.checkpoints
        size = check_after_crash(db_url, reported, checkpoints)
        reported = size
