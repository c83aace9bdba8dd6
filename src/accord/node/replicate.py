"""Quorum replication in a running node: the wiring of accord.replication (docs/replication.md).

A node of a consortium builds one :class:`Replication` (``node.replication``):

- status: a new record of this node is ``pending`` unless this node alone meets
  every trust set of its principals; a replicated record is ``pending`` here
  until its certificate arrives;
- a planner batch writer queues, in the append's transaction, each new pending
  record of this node for every member of its trust sets (this node too, when
  it is in one: it signs its own receipt);
- one lane per member sends the queue in batches (``POST /v1/replicate``), feeds
  the receipts to the certifier, which stores the certificate and sets the
  record final when every threshold is met, then hands the certificate to the
  other holders (``POST /v1/replicate/final``);
- as a receiver it checks, appends and answers records other members send.

Requests between nodes are signed (formats.md section 7) and authenticated
with the node's replay guard.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.client.http import error_from_response
from accord.encoding import parse_json
from accord.errors import AccordError, MalformedError
from accord.node.ingest import Prepared
from accord.node.planner import Appended
from accord.quorum import (
    Certificate,
    Receipt,
    SignedBatch,
    member_trust_sets,
    public_key,
    sign_batch,
)
from accord.records import SignedStatement
from accord.replication import (
    HELLO_PATH,
    REPLICATION_STEPS,
    Backoff,
    Certifier,
    Lane,
    Outbox,
    Placement,
    Placer,
    Receiver,
    Shipper,
    Tracked,
)
from accord.replication.wire import FinalAnswer, Refused, items_of
from accord.store.database import Tx

if TYPE_CHECKING:
    from accord.node.service import Node

__all__ = ["Replication"]

_log = logging.getLogger("accord.replication")
_BODY_CACHE: Final = 50_000
_IN_CHUNK: Final = 500


class Replication:
    """Replication for ``node`` (which must belong to a consortium)."""

    def __init__(self, node: Node, *, backoff: Backoff | None = None, batch: int = 500) -> None:
        consortium = node.consortium
        if consortium is None or node.peers is None:
            raise MalformedError("node config", "replication needs a consortium file")
        self.node = node
        self.org = node.org
        self.consortium = consortium
        self._peers = node.peers
        node.db.migrate("replication", REPLICATION_STEPS)
        self.lookup = member_trust_sets(consortium)
        self._place = Placer(consortium, node._pseudonym, self.lookup)
        self.backoff = backoff or Backoff()
        self.outbox = Outbox(node.db, node.clock_ms, self.backoff)
        self.certifier = Certifier(
            node.db, consortium, self.org, self.lookup, node.clock_ms, sign=self._sign
        )
        self._log_keys = {m.org: public_key(m.log_key) for m in consortium.members}
        self.receiver: Receiver[Prepared] = Receiver(
            org=self.org,
            origin=node.origin,
            consortium=consortium,
            lookup=self.lookup,
            pseudonym=node._pseudonym,
            source_key=node.registry.key_for,
            log_key=self._log_key,
            prepare=node.validator.prepare,
            append=node._append,
            locate=self.locate,
            sign=self._sign,
            executor=node.executor,
        )
        self.shipper = Shipper(
            org=self.org,
            origin=node.origin,
            db=node.db,
            consortium=consortium,
            outbox=self.outbox,
            certifier=self.certifier,
            bodies=self.bodies,
            post=self._post,
            batch=batch,
        )
        self.lanes = {
            org: Lane(
                org,
                self._stepper(org),
                ready=lambda: not node.sealed,
                backoff=self.backoff,
            )
            for org in consortium.orgs
            if org != self.org
        }
        self._bodies: OrderedDict[bytes, bytes] = OrderedDict()
        self._bodies_lock = threading.Lock()
        self._stopping = threading.Event()
        node.planner.writers.append(self._write)
        node.planner.listeners.append(self._committed)

    def _stepper(self, org: str) -> Any:
        return lambda: self.shipper.step(org)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        for lane in self.lanes.values():
            lane.start()
        threading.Thread(target=self._hello, name="accord-replicate-hello", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        for lane in self.lanes.values():
            lane.request_stop()
        for lane in self.lanes.values():
            lane.stop()

    def _hello(self) -> None:
        """Each time the node becomes unsealed (at start, or later), tell every member it is
        up, so that lanes backing off towards it retry now."""
        stopping = self._stopping
        announced = False
        while not stopping.wait(0.2):
            if self.node.sealed:
                announced = False
                continue
            if announced:
                continue
            announced = True
            for org in self.consortium.orgs:
                if org != self.org and not stopping.is_set():
                    try:
                        self._post(org, HELLO_PATH, b"")
                    except AccordError as exc:
                        _log.info("hello to %s: %s", org, exc.message)

    # -- status and the append's transaction ----------------------------------------------

    def placement(self, signed: SignedStatement) -> Placement:
        return self._place(signed.statement)

    def initial_status(self, prepared: Prepared) -> str:
        """``final`` only for this node's records whose every trust set it meets alone."""
        if prepared.origin_org != self.org:
            return "pending"
        alone = self.placement(prepared.signed).satisfied_by({self.org})
        return "final" if alone else "pending"

    def _write(self, tx: Tx, appended: list[Appended]) -> None:
        items = [
            Tracked(
                a.prepared.signed.record_hash,
                a.log_index,
                a.header.log_ts,
                self.placement(a.prepared.signed),
            )
            for a in appended
            if a.prepared.origin_org == self.org and a.status == "pending"
        ]
        self.certifier.track(tx, items)

    def _committed(self, appended: list[Appended]) -> None:
        mine = [a for a in appended if a.prepared.origin_org == self.org and a.status == "pending"]
        if not mine:
            return
        with self._bodies_lock:
            for a in mine:
                self._bodies[a.prepared.signed.record_hash] = a.prepared.signed.body
            while len(self._bodies) > _BODY_CACHE:
                self._bodies.popitem(last=False)
        for lane in self.lanes.values():
            lane.wake()

    # -- the node's parts as narrow callables ---------------------------------------------

    def _log_key(self, org: str) -> Ed25519PublicKey:
        return self._log_keys[org]

    def _sign(self, receipts: list[Receipt]) -> SignedBatch:
        key = self.node._keys().log.ed25519()
        return sign_batch(receipts, self.org, self.node.origin, self.node.clock_ms(), key)

    def locate(self, records: Sequence[bytes]) -> dict[bytes, tuple[int, int]]:
        """(log index, log_ts) of those ``records`` held here."""
        out: dict[bytes, tuple[int, int]] = {}
        records = list(records)
        for i in range(0, len(records), _IN_CHUNK):
            chunk = records[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for h, index, log_ts in self.node.db.fetchall(
                f"SELECT hash, log_index, log_ts FROM records WHERE hash IN ({marks})",  # noqa: S608
                chunk,
            ):
                out[bytes(h)] = (int(index), int(log_ts))
        return out

    def forget_bodies(self, records: Sequence[bytes]) -> None:
        """Drop the in-memory bodies of ``records`` (their data key was shredded)."""
        with self._bodies_lock:
            for r in records:
                self._bodies.pop(r, None)

    def bodies(self, records: Sequence[bytes]) -> dict[bytes, bytes]:
        """The bodies (signed statements) of ``records``: recent ones from memory, else
        decrypted from the database (SealedError while sealed)."""
        out: dict[bytes, bytes] = {}
        with self._bodies_lock:
            for r in records:
                body = self._bodies.get(r)
                if body is not None:
                    out[r] = body
        for r in records:
            if r in out:
                continue
            try:
                _, _, principal = self.node.record_row(r)
                if principal is not None:
                    out[r] = self.node.body(r, principal)
            except AccordError as exc:
                if exc.code == "sealed":
                    raise
                _log.warning("cannot read the body of %s: %s", r.hex(), exc.message)
        return out

    def _post(self, org: str, path: str, body: bytes) -> Any:
        response = self._peers.request(org, "POST", path, body)
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            return parse_json(response.content, "replication answer")
        except MalformedError:
            raise MalformedError("replication answer", f"{org} answered non-JSON") from None

    # -- what the routes call ---------------------------------------------------------------

    def heard_from(self, org: str) -> None:
        """A member just sent a signed request: it is up."""
        lane = self.lanes.get(org)
        if lane is not None:
            lane.contact()

    def process_replicate(self, sender: str, value: Any) -> bytes:
        """Check, append and answer the records member ``sender`` sent (canonical JSON)."""
        self.node._keys()
        answer = self.receiver.process(sender, items_of(value, "records"))
        return answer.format()

    def process_final(self, sender: str, value: Any) -> dict[str, Any]:
        """Verify and keep the certificates member ``sender`` sent for records held here."""
        certs: list[tuple[int, Certificate]] = []
        refused: list[Refused] = []
        for i, item in enumerate(items_of(value, "certificates")):
            try:
                certs.append((i, Certificate.from_json(item)))
            except AccordError as exc:
                refused.append(Refused.of(i, None, exc))
        stored, more = self.certifier.store_certificates(sender, certs)
        answer = FinalAnswer(stored, tuple(sorted(refused + more, key=lambda r: r.index)))
        return answer.to_json()

    def certificate(self, record: bytes) -> dict[str, Any] | None:
        text = self.certifier.certificate(record)
        return None if text is None else Certificate.parse(text).to_json()

    def status(self) -> dict[str, Any]:
        """Queues and lane states, for operators and tests."""
        waiting = self.outbox.waiting()
        row = self.node.db.fetchone("SELECT COUNT(*) FROM repl_pending")
        return {
            "org": self.org,
            "pending": int(row[0]) if row else 0,
            "lanes": {
                org: {
                    "queued": waiting.get(org, {}),
                    "failures": lane.failures,
                    "last_error": lane.last_error,
                }
                for org, lane in self.lanes.items()
            },
        }
