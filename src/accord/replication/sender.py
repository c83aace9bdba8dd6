"""Sending: one lane (thread) per member, shipping outbox rows in batches, with backoff.

Each lane loops: take up to ``batch`` records due for its member from the
outbox (log order), send them in one signed ``POST /v1/replicate``, verify the
receipt batch (one signature check) and hand the receipts to the certifier;
then hand certificates to the member (``POST /v1/replicate/final``) for records
it already answered. A member that cannot be reached (or answers an error for
the whole request) makes its lane wait with exponential backoff, capped at 60 s
by default; a record the member refused waits on its own backoff while the rest
go on. Nothing here is lost on a crash: the outbox rows go only in the
transaction that stores the answer.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from accord.errors import AccordError, VerificationError
from accord.quorum import Consortium, SignedBatch, public_key
from accord.replication.backoff import Backoff
from accord.replication.certifier import Certifier
from accord.replication.outbox import FINAL, RECORD, Outbox
from accord.replication.wire import (
    FINAL_PATH,
    REPLICATE_PATH,
    FinalAnswer,
    ReplicateAnswer,
    certificates_body,
    records_body,
)
from accord.store.database import Database

__all__ = ["DEFAULT_BATCH", "Lane", "Shipper"]

_log = logging.getLogger("accord.replication")

DEFAULT_BATCH: Final = 500

#: ``post(org, path, body) -> parsed JSON answer``; raises the AccordError of an error answer.
Post = Callable[[str, str, bytes], Any]


class Shipper:
    """The work of every lane: what to send, how to read the answers."""

    def __init__(
        self,
        *,
        org: str,
        origin: str,
        db: Database,
        consortium: Consortium,
        outbox: Outbox,
        certifier: Certifier,
        bodies: Callable[[Sequence[bytes]], dict[bytes, bytes]],
        post: Post,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        self.org = org
        self._origin = origin
        self._db = db
        self._consortium = consortium
        self._outbox = outbox
        self._certifier = certifier
        self._bodies = bodies
        self._post = post
        self.batch = batch

    def step(self, target: str) -> bool:
        """One round for member ``target``: a batch of records, then a batch of certificates
        (so that neither starves the other); True if it did something (more may be due)."""
        sent = self._send_records(target)
        return self._send_finals(target) or sent

    # -- records to a member -------------------------------------------------------------

    def _send_records(self, target: str) -> bool:
        records = self._outbox.due(target, RECORD, self.batch)
        if not records:
            return False
        bodies = self._bodies(records)
        missing = {r: "the record's body is not readable here" for r in records if r not in bodies}
        sent = [r for r in records if r in bodies]
        errors: dict[bytes, str] = dict(missing)
        if sent:
            value = self._post(target, REPLICATE_PATH, records_body([bodies[r] for r in sent]))
            answer = ReplicateAnswer.from_json(value)
            for item in answer.refused:
                if item.record is not None:
                    errors[item.record] = f"{item.code}: {item.message}"
                elif 0 <= item.index < len(sent):
                    errors[sent[item.index]] = f"{item.code}: {item.message}"
            signed = self._verify(target, answer.receipts) if answer.receipts else []
            asked = set(sent)
            mine = [s for s in signed if s.receipt.record in asked]
            accepted = self._certifier.accept(target, mine)
            for r, message in accepted.refused.items():
                errors[r] = f"bad receipt: {message}"
                _log.warning("%s answered a bad receipt for %s: %s", target, r.hex(), message)
            answered = set(accepted.answered)
            for r in sent:
                if r not in answered and r not in errors:
                    errors[r] = "no receipt and no refusal in the answer"
        if errors:
            _log.info("%s did not store %d records; retrying them later", target, len(errors))
            self._outbox.retry_later(target, RECORD, errors)
        return True

    def _verify(self, target: str, batch: SignedBatch | None) -> list[Any]:
        if batch is None:
            return []
        member = self._consortium.member(target)
        if batch.batch.org != target or batch.batch.origin != member.origin:
            raise VerificationError(
                f"{target} answered a receipt batch of {batch.batch.org} at {batch.batch.origin}",
                org=target,
            )
        return batch.verify(public_key(member.log_key))

    # -- certificates to the other holders -----------------------------------------------

    def _send_finals(self, target: str) -> bool:
        records = self._outbox.due(target, FINAL, self.batch)
        if not records:
            return False
        texts = self._certifier.certificate_texts(records)
        sent = [r for r in records if r in texts]
        done = [r for r in records if r not in texts]
        retry: dict[bytes, str] = {}
        if sent:
            value = self._post(target, FINAL_PATH, certificates_body([texts[r] for r in sent]))
            answer = FinalAnswer.from_json(value)
            refused = {sent[x.index]: x for x in answer.refused if 0 <= x.index < len(sent)}
            for r in sent:
                item = refused.get(r)
                if item is None:
                    done.append(r)
                elif item.code == "not_found":  # it does not hold the record: nothing to do
                    _log.warning(
                        "%s does not hold %s; its certificate is not sent", target, r.hex()
                    )
                    done.append(r)
                else:
                    retry[r] = f"{item.code}: {item.message}"
        if done:
            with self._db.transaction() as tx:
                Outbox.done(tx, target, FINAL, done)
        self._outbox.retry_later(target, FINAL, retry)
        return True


class Lane:
    """A thread that runs ``step()`` while it finds work, sleeps when idle, backs off on errors.

    :meth:`wake` says there is new work (ends an idle sleep, not a backoff);
    :meth:`contact` says the member is up (ends a backoff too). ``ready()``
    False (e.g. a sealed node) makes it wait without counting a failure.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], bool],
        *,
        ready: Callable[[], bool],
        backoff: Backoff,
        idle_s: float = 0.5,
    ) -> None:
        self.name = name
        self._step = step
        self._ready = ready
        self._backoff = backoff
        self._idle_s = idle_s
        self._work = threading.Event()
        self._kick = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"accord-replicate-{self.name}", daemon=True
            )
            self._thread.start()

    def request_stop(self) -> None:
        """Ask the lane to stop after its current step (see :meth:`stop`)."""
        self._stopping.set()
        self._work.set()
        self._kick.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._work.set()

    def contact(self) -> None:
        self._kick.set()
        self._work.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._ready():
                self._stopping.wait(0.2)
                continue
            try:
                busy = self._step()
            except AccordError as exc:
                self._failed(f"{exc.code}: {exc.message}")
                continue
            except Exception as exc:  # a bug: keep the lane alive, and say so
                _log.exception("replication lane %s failed", self.name)
                self._failed(f"internal error: {type(exc).__name__}")
                continue
            self.failures = 0
            self.last_error = None
            if not busy:
                self._work.wait(self._idle_s)
                self._work.clear()

    def _failed(self, message: str) -> None:
        self.failures += 1
        self.last_error = message
        delay = self._backoff.delay_ms(self.failures, random.random()) / 1000  # noqa: S311
        _log.info("lane %s: %s; retrying in %.1f s", self.name, message, delay)
        self._kick.clear()
        self._kick.wait(delay)
        if self._kick.is_set():  # the member said it is up: try again at once
            self.failures = 0
