"""Certificate assembly at the originating node, and certificates kept by the other holders.

DESIGN.md section 3 step 3, reference/consortium.md (the box at the top): the
receipts that meet each trust set's threshold are the certificate; the record is
``pending`` until then and ``final`` after, and a final record never changes
status (every status change is ``WHERE status = 'pending'``).

The originating node keeps one :class:`~accord.quorum.CertificateBuilder` per
pending record (cached in memory, rebuilt from ``repl_pending`` and
``repl_receipts`` after a restart). Each receipt is verified before it is kept
(batch signatures once per batch, :class:`~accord.quorum.VerifiedBatches`).
When it is in a record's trust set, the node's own receipt counts like any
other: it is signed (one signature for the records of each member's answer)
when another member's receipt arrives, since no certificate can complete before.
When a builder completes, one transaction stores the certificate, sets the
record final in ``records`` and the ``record_status`` projection, forgets its
pending state and queues the certificate for the other holders. A holder that
is sent a certificate verifies it against the consortium file before it stores
it (never persist unverified remote data).

All methods are thread-safe (one lock: assembly is short and serial by design).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from accord.encoding import canonical, parse_json
from accord.errors import AccordError, ForbiddenError, NotFoundError, VerificationError
from accord.quorum import (
    Certificate,
    CertificateBuilder,
    Consortium,
    Receipt,
    SignedBatch,
    SignedReceipt,
    TrustSetLookup,
    VerifiedBatches,
    verify_certificate,
)
from accord.replication.outbox import FINAL, RECORD, Outbox
from accord.replication.placement import Placement
from accord.replication.wire import Refused
from accord.store.database import Database, Tx

__all__ = ["Accepted", "Certifier", "Tracked"]

_log = logging.getLogger("accord.replication")
_IN_CHUNK: Final = 500


def _chunks(items: Sequence[bytes]) -> Iterable[Sequence[bytes]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


@dataclass(frozen=True, slots=True)
class Tracked:
    """A new record of this node that needs a certificate: hash, log index, log_ts, placement."""

    record: bytes
    seq: int
    log_ts: int
    placement: Placement


@dataclass
class Accepted:
    """What became of one member's receipts."""

    answered: list[bytes] = field(default_factory=list)
    refused: dict[bytes, str] = field(default_factory=dict)
    finalized: list[bytes] = field(default_factory=list)


@dataclass
class _State:
    seq: int
    log_ts: int
    placement: Placement
    builder: CertificateBuilder


class Certifier:
    """The certificate side of replication for the node of ``org``."""

    def __init__(
        self,
        db: Database,
        consortium: Consortium,
        org: str,
        lookup: TrustSetLookup,
        clock_ms: Callable[[], int],
        *,
        sign: Callable[[list[Receipt]], SignedBatch] | None = None,
        cache_size: int = 100_000,
    ) -> None:
        """``sign`` signs this node's own receipts as one batch (with its log key); without
        it, this node's own receipts are not made (it must get them like any other)."""
        self._db = db
        self._sign = sign
        self._origin = consortium.member(org).origin
        self._consortium = consortium
        self._org = org
        self._lookup = lookup
        self._clock_ms = clock_ms
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._states: OrderedDict[bytes, _State] = OrderedDict()
        self._verified = VerifiedBatches()
        self._placements: dict[str, Placement] = {}  # stored text -> parsed (few distinct)

    # -- in the append's transaction ---------------------------------------------------

    def track(self, tx: Tx, items: Sequence[Tracked]) -> None:
        """Remember new pending records and queue them for every other holder."""
        if not items:
            return
        now = self._clock_ms()
        tx.executemany(
            "INSERT INTO repl_pending (record, seq, log_ts, placement, created_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            [(t.record, t.seq, t.log_ts, t.placement.format(), now) for t in items],
        )
        Outbox.enqueue(
            tx,
            RECORD,
            [
                (org, t.record, t.seq)
                for t in items
                for org in t.placement.holders
                if org != self._org
            ],
        )

    # -- the originating node: receipts in, certificates out ------------------------------

    def placements(self, records: Sequence[bytes]) -> dict[bytes, tuple[int, Placement]]:
        """(log index, placement) of those ``records`` that are still pending."""
        with self._lock:
            states = self._load(records)
        return {r: (s.seq, s.placement) for r, s in states.items()}

    def _load(self, records: Sequence[bytes]) -> dict[bytes, _State]:
        """The states of the pending ones among ``records`` (cache, else the database)."""
        found: dict[bytes, _State] = {}
        missing = []
        for r in records:
            state = self._states.get(r)
            if state is None:
                missing.append(r)
            else:
                self._states.move_to_end(r)
                found[r] = state
        for chunk in _chunks(missing):
            marks = ",".join("?" * len(chunk))
            rows = self._db.fetchall(
                "SELECT record, seq, log_ts, placement FROM repl_pending"  # noqa: S608
                f" WHERE record IN ({marks})",
                chunk,
            )
            kept = self._db.fetchall(
                f"SELECT record, receipt FROM repl_receipts WHERE record IN ({marks})",  # noqa: S608
                chunk,
            )
            stored: dict[bytes, list[str]] = {}
            for record, text in kept:
                stored.setdefault(bytes(record), []).append(str(text))
            for record, seq, log_ts, text in rows:
                r = bytes(record)
                placement = self._placement(str(text))
                builder = CertificateBuilder(r, self._org, placement.sets, self._consortium)
                for receipt_text in stored.get(r, ()):
                    try:
                        builder.add(
                            SignedReceipt.from_json(parse_json(receipt_text, "receipt")),
                            verified=self._verified,
                        )
                    except AccordError as exc:  # stored only after verifying: a bug or tampering
                        _log.error("dropping a stored receipt of %s: %s", r.hex(), exc.message)
                state = _State(int(seq), int(log_ts), placement, builder)
                found[r] = state
                self._states[r] = state
        while len(self._states) > self._cache_size:
            self._states.popitem(last=False)
        return found

    def _placement(self, text: str) -> Placement:
        found = self._placements.get(text)
        if found is None:
            if len(self._placements) > 10_000:
                self._placements.clear()
            found = self._placements[text] = Placement.parse(text)
        return found

    def accept(self, target: str, receipts: Sequence[SignedReceipt]) -> Accepted:
        """Take ``target``'s receipts (for records sent to it); store, and finalize the complete.

        A receipt that does not verify (another record, log or set of
        principals, a bad signature or proof) is refused: its outbox row waits
        and is sent again. Receipts for records that are already final are
        answered and dropped.
        """
        out = Accepted()
        with self._lock:
            states = self._load(list(dict.fromkeys(s.receipt.record for s in receipts)))
            self._add_own(states)
            keep: list[tuple[bytes, str, str]] = []
            complete: list[tuple[Certificate, _State]] = []
            for signed in receipts:
                r = signed.receipt.record
                state = states.get(r)
                if state is None or state.builder.complete:
                    out.answered.append(r)
                    continue
                try:
                    kept = state.builder.add(signed, verified=self._verified)
                except VerificationError as exc:
                    out.refused[r] = exc.message
                    continue
                out.answered.append(r)
                if not kept:
                    continue
                if state.builder.complete:
                    complete.append((state.builder.certificate(), state))
                else:
                    keep.append((r, signed.org, canonical(signed.to_json()).decode("utf-8")))
            try:
                with self._db.transaction() as tx:
                    if keep:
                        tx.executemany(
                            "INSERT INTO repl_receipts (record, org, receipt) VALUES (?, ?, ?)"
                            " ON CONFLICT (record, org) DO NOTHING",
                            keep,
                        )
                    self._finalize(tx, complete)
                    Outbox.done(tx, target, RECORD, out.answered)
            except AccordError:
                for r in states:  # the cache may be ahead of the database: rebuild next time
                    self._states.pop(r, None)
                raise
            for cert, _ in complete:
                self._states.pop(cert.record, None)
                out.finalized.append(cert.record)
        return out

    def _add_own(self, states: dict[bytes, _State]) -> None:
        """Sign and add this node's own receipt to each builder that needs one."""
        if self._sign is None:
            return
        wanted = [
            (r, s)
            for r, s in states.items()
            if not s.builder.complete
            and self._org in s.placement.holders
            and self._org not in s.builder.signers
        ]
        if not wanted:
            return
        receipts = [
            Receipt(r, self._org, self._origin, s.seq, s.log_ts, s.placement.principals)
            for r, s in wanted
        ]
        for (_, state), signed in zip(wanted, self._sign(receipts).signed_receipts(), strict=True):
            state.builder.add(signed, verified=self._verified)

    def _finalize(self, tx: Tx, complete: Sequence[tuple[Certificate, _State]]) -> None:
        if not complete:
            return
        now = self._clock_ms()
        tx.executemany(
            "INSERT INTO certificates (record, org, certificate, final_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (record) DO NOTHING",
            [(c.record, c.org, c.format(), now) for c, _ in complete],
        )
        _set_final(tx, [c.record for c, _ in complete])
        tx.executemany(
            "DELETE FROM repl_pending WHERE record = ?", [(c.record,) for c, _ in complete]
        )
        tx.executemany(
            "DELETE FROM repl_receipts WHERE record = ?", [(c.record,) for c, _ in complete]
        )
        Outbox.enqueue(
            tx,
            FINAL,
            [
                (org, c.record, s.seq)
                for c, s in complete
                for org in s.placement.holders
                if org != self._org
            ],
        )

    # -- the other holders ---------------------------------------------------------------

    def store_certificates(
        self, sender: str, certificates: Sequence[tuple[int, Certificate]]
    ) -> tuple[int, list[Refused]]:
        """Verify and store certificates the originating node ``sender`` sent (by position).

        Each must be ``sender``'s own record (ForbiddenError), held here
        (NotFoundError), and verify against the consortium file
        (VerificationError and its kinds). Returns how many were stored and the
        refusals.
        """
        refused: list[Refused] = []
        good: list[Certificate] = []
        held = self._held([c.record for _, c in certificates])
        with self._lock:
            for i, cert in certificates:
                try:
                    if cert.org != sender:
                        raise ForbiddenError(
                            f"a certificate of {cert.org}'s record is sent by {cert.org}, "
                            f"not {sender}"
                        )
                    if cert.record not in held:
                        raise NotFoundError(f"record {cert.record.hex()} is not held here")
                    verify_certificate(
                        cert, self._consortium, self._lookup, verified=self._verified
                    )
                except AccordError as exc:
                    refused.append(Refused.of(i, cert.record, exc))
                    continue
                good.append(cert)
        if good:
            now = self._clock_ms()
            with self._db.transaction() as tx:
                tx.executemany(
                    "INSERT INTO certificates (record, org, certificate, final_ms)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (record) DO NOTHING",
                    [(c.record, c.org, c.format(), now) for c in good],
                )
                _set_final(tx, [c.record for c in good])
        return len(good), refused

    def _held(self, records: Sequence[bytes]) -> set[bytes]:
        held: set[bytes] = set()
        for chunk in _chunks(list(records)):
            marks = ",".join("?" * len(chunk))
            held.update(
                bytes(row[0])
                for row in self._db.fetchall(
                    f"SELECT hash FROM records WHERE hash IN ({marks})",  # noqa: S608
                    chunk,
                )
            )
        return held

    def certificate(self, record: bytes) -> str | None:
        """The stored certificate of ``record`` (canonical JSON), if it is final here."""
        row = self._db.fetchone("SELECT certificate FROM certificates WHERE record = ?", (record,))
        return None if row is None else str(row[0])

    def certificate_texts(self, records: Sequence[bytes]) -> dict[bytes, str]:
        out: dict[bytes, str] = {}
        for chunk in _chunks(list(records)):
            marks = ",".join("?" * len(chunk))
            for record, text in self._db.fetchall(
                f"SELECT record, certificate FROM certificates WHERE record IN ({marks})",  # noqa: S608
                chunk,
            ):
                out[bytes(record)] = str(text)
        return out


def _set_final(tx: Tx, records: Sequence[bytes]) -> None:
    """pending -> final, in ``records`` and the projection; never the other way."""
    tx.executemany(
        "UPDATE records SET status = 'final' WHERE hash = ? AND status = 'pending'",
        [(r,) for r in records],
    )
    tx.executemany(
        "UPDATE record_status SET status = 'final' WHERE record = ? AND status = 'pending'",
        [(r.hex(),) for r in records],
    )
