"""The log side of witnessing: push each new checkpoint to every witness, keep the cosignatures.

:class:`CheckpointPusher` is a component of the node (docs/witness.md section 3).
A coordinator thread watches the log's latest signed checkpoint; for every
other member whose witness has not cosigned it yet and is not backing off, it
runs one :class:`accord.witness.Pusher` exchange on a small worker pool (so a
slow witness never holds up the others). The transport is a plain POST to the
member's ``/v1/witness/add-checkpoint`` (tlog-witness authenticates by the
log's signature alone, so the request is not node-signed); consistency proofs
come from the node's own log. A cosignature is kept only after
:func:`accord.witness.handle_response` verified it, and is merged into the
stored note at that size (:meth:`accord.log.Log.put_checkpoint`).

An unreachable or refusing witness is retried with exponential backoff (with
jitter, capped); nothing here ever blocks an append: the pusher only reads
the log and writes the checkpoint notes.

Which checkpoint ``GET /v1/checkpoint`` serves: the latest one holding at
least ``witness.k`` cosignatures from the consortium's other members (so a
client requiring k succeeds), or the latest signed one while none has k yet.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from accord.errors import AccordError, VerificationError
from accord.log import Log
from accord.node.peers import Peers
from accord.note import Checkpoint, Note, Signature, Verifier, verify_cosignature
from accord.quorum import Consortium
from accord.witness import Pusher

__all__ = ["ADD_CHECKPOINT_PATH", "CheckpointPusher", "count_cosignatures"]

_log = logging.getLogger("accord.witness.push")

ADD_CHECKPOINT_PATH: Final = "/v1/witness/add-checkpoint"
#: How many stored checkpoints to look back through for one with k cosignatures at start.
_SCAN_BACK: Final = 256


def count_cosignatures(note: Note, witnesses: Sequence[Verifier]) -> int:
    """How many distinct ``witnesses`` have a valid cosignature on ``note``'s checkpoint.

    Lines by other keys are ignored; a line by a witness key that fails does not count.
    """
    try:
        cp = Checkpoint.parse(note.text)
    except AccordError:
        return 0
    by_key = {(w.name, w.key_id): w for w in witnesses}
    names: set[str] = set()
    for sig in note.signatures:
        w = by_key.get((sig.name, sig.key_id))
        if w is None or w.name in names:
            continue
        try:
            if verify_cosignature(cp, sig, w) > 0:
                names.add(w.name)
        except VerificationError:
            continue
    return len(names)


@dataclass
class _Target:
    """One witness (another member) as this log sees it."""

    org: str
    pusher: Pusher
    busy: bool = False
    due: float = 0.0  # time.monotonic() of the next attempt
    failures: int = 0
    last_error: str | None = None
    cosigned_size: int | None = None
    key: tuple[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.pusher.witness.name, self.pusher.witness.key_id)


class CheckpointPusher:
    """Pushes this node's checkpoints to the other members' witnesses (one per node).

    ``retry_s`` is the first backoff after a failure, doubled per failure up to
    ``retry_max_s``; ``poll_s`` how often the latest checkpoint is looked at.
    """

    def __init__(
        self,
        *,
        log: Log,
        consortium: Consortium,
        org: str,
        peers: Peers,
        retry_s: float = 0.5,
        retry_max_s: float = 60.0,
        poll_s: float = 0.1,
    ) -> None:
        self.log = log
        self.k = consortium.witness_k
        member = consortium.member(org)
        self.log_key = Verifier.parse(member.log_key)
        self.witnesses = tuple(Verifier.parse(m.witness_key) for m in consortium.witnesses_for(org))
        self._peers = peers
        self._retry_s = retry_s
        self._retry_max_s = retry_max_s
        self._poll_s = poll_s
        self.targets = [
            _Target(m.org, Pusher(w, self._transport(m.org), log.consistency_proof))
            for m, w in zip(consortium.witnesses_for(org), self.witnesses, strict=True)
        ]
        self._lock = threading.Lock()  # target flags and the served checkpoint
        self._merge_lock = threading.Lock()  # read-modify-write of stored notes
        self._served: int | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def _transport(self, org: str) -> Callable[[bytes], tuple[int, str, bytes]]:
        def post(body: bytes) -> tuple[int, str, bytes]:
            response = self._peers.request(
                org,
                "POST",
                ADD_CHECKPOINT_PATH,
                body,
                content_type="text/plain; charset=utf-8",
                signed=False,
            )
            return response.status_code, response.headers.get("content-type", ""), response.content

        return post

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None or not self.targets:
            return
        self._stop.clear()
        self._find_served()
        self._pool = ThreadPoolExecutor(
            max_workers=min(8, len(self.targets)), thread_name_prefix="accord-witness-push"
        )
        self._thread = threading.Thread(target=self._run, name="accord-pusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        """Look at the latest checkpoint now (e.g. right after signing one)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except AccordError as exc:
                _log.warning("checkpoint pusher: %s", exc.message)
            except Exception:
                _log.exception("checkpoint pusher failed; continuing")
            self._wake.wait(self._poll_s)
            self._wake.clear()

    # -- pushing -----------------------------------------------------------------------

    def tick(self) -> int:
        """Start a push of the latest checkpoint to every due witness lacking its cosignature.

        Returns how many pushes were started (they run on the worker pool).
        """
        latest = self.log.latest_checkpoint()
        pool = self._pool
        if latest is None or pool is None:
            return 0
        size, text = latest
        note = Note.parse(text)
        have = {(s.name, s.key_id) for s in note.signatures}
        now = time.monotonic()
        started = 0
        for target in self.targets:
            with self._lock:
                if target.busy or target.due > now or target.key in have:
                    continue
                target.busy = True
            pool.submit(self._push, target, size, note)
            started += 1
        return started

    def _bare(self, note: Note) -> Note:
        """The note with the log's own signature lines only (what a witness is sent)."""
        mine = tuple(
            s
            for s in note.signatures
            if (s.name, s.key_id) == (self.log_key.name, self.log_key.key_id)
        )
        return Note(note.text, mine) if mine else note

    def _push(self, target: _Target, size: int, note: Note) -> None:
        try:
            cosigned = target.pusher.push(self._bare(note))
            self._merge(size, cosigned.signature)
        except AccordError as exc:
            self._failed(target, exc.message, type(exc).__name__)
        except Exception as exc:  # a bug: keep pushing to the others
            _log.exception("pushing to the witness of %s failed", target.org)
            self._failed(target, str(exc), type(exc).__name__)
        else:
            with self._lock:
                target.failures = 0
                target.due = 0.0
                target.last_error = None
                target.cosigned_size = size
        finally:
            with self._lock:
                target.busy = False
            self._wake.set()

    def _failed(self, target: _Target, message: str, kind: str) -> None:
        with self._lock:
            target.failures += 1
            delay = min(self._retry_max_s, self._retry_s * 2 ** (target.failures - 1))
            target.due = time.monotonic() + delay * random.uniform(0.5, 1.0)  # noqa: S311
            target.last_error = f"{kind}: {message}"
            failures = target.failures
        _log.warning(
            "witness of %s did not cosign (%s, attempt %d): %s", target.org, kind, failures, message
        )

    def _merge(self, size: int, signature: Signature) -> None:
        """Add a verified cosignature to the note stored at ``size``."""
        with self._merge_lock:
            stored = self.log.checkpoint(size)
            if stored is None:
                return
            note = Note.parse(stored)
            if any(
                (s.name, s.key_id) == (signature.name, signature.key_id) for s in note.signatures
            ):
                return  # already holds a cosignature by that witness
            merged = note.with_signatures(signature)
            self.log.put_checkpoint(size, merged.format())
        if count_cosignatures(merged, self.witnesses) >= self.k:
            with self._lock:
                if self._served is None or size > self._served:
                    self._served = size

    # -- serving -------------------------------------------------------------------------

    def _find_served(self) -> None:
        """At start: the newest stored checkpoint with k cosignatures, if any (bounded scan)."""
        for size, text in self.log.recent_checkpoints(_SCAN_BACK):
            try:
                note = Note.parse(text)
            except AccordError:
                continue
            if count_cosignatures(note, self.witnesses) >= self.k:
                with self._lock:
                    if self._served is None or size > self._served:
                        self._served = size
                return

    def served_note(self) -> str | None:
        """The checkpoint to serve: the latest with k cosignatures, else the latest signed."""
        latest = self.log.latest_checkpoint()
        if latest is None or self.k == 0:
            return None if latest is None else latest[1]
        with self._lock:
            served = self._served
        if served is not None:
            note = self.log.checkpoint(served)
            if note is not None:
                return note
        return latest[1]

    def status(self) -> list[dict[str, Any]]:
        """Per witness: the size it last cosigned and why the last push failed, if it did."""
        with self._lock:
            return [
                {
                    "org": t.org,
                    "witness": t.pusher.witness.key_ref,
                    "cosigned_size": t.cosigned_size,
                    "failures": t.failures,
                    "last_error": t.last_error,
                }
                for t in self.targets
            ]
