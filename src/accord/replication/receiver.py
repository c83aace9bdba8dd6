"""A member receiving records to replicate: check each on its own, append, sign receipts.

DESIGN.md section 3 step 3. For each record of a ``POST /v1/replicate`` request
(the sender is already authenticated as a consortium member), in order:

1. the signed statement parses and validates against its schema (MalformedError);
2. its org is a consortium member (ForbiddenError);
3. this node is in the trust set of one of its principals (ForbiddenError): a
   member stores only what it is responsible for;
4. the signature: by a registered, unrevoked source of that org (UnknownKeyError,
   ForbiddenError, BadSignatureError), or for ``accord.source`` (source name
   ``log``) by the org's log key from the consortium file.

Records already held skip the checks (the record hash covers the whole signed
statement, so it is the very statement checked when it was stored) and are
answered with their existing index. New ones are appended through the node's
sequencer (bodies encrypted like any), with the sender as the origin org.
Source registrations are appended before the records after them are checked,
so a registration and the first statements of that source may travel together.
One receipt batch (formats.md section 6) covers every record held; each refused
record gets an entry instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.errors import AccordError, ForbiddenError
from accord.quorum import Consortium, Receipt, SignedBatch, TrustSetLookup
from accord.records import SignedStatement
from accord.replication.placement import Placement, Placer, Pseudonym
from accord.replication.wire import Refused, ReplicateAnswer

__all__ = ["LOG_SOURCE_NAME", "Receiver"]

_log = logging.getLogger("accord.replication")

#: The source name of statements signed by an org's log key (accord.node.sources.LOG_SOURCE).
LOG_SOURCE_NAME: Final = "log"
_CHUNK: Final = 128

P = TypeVar("P")


class Receiver(Generic[P]):
    """Checks and appends replicated records for the node of ``org``.

    The node's parts come in as narrow callables: ``source_key(org, name)`` (the
    registry), ``log_key(org)`` (from the consortium file), ``prepare(signed,
    origin_org)`` (encrypt the body), ``append(prepared)`` (the sequencer, all or
    nothing), ``locate(hashes) -> {hash: (log_index, log_ts)}`` and
    ``sign(receipts) -> SignedBatch`` (this node's log key).
    """

    def __init__(
        self,
        *,
        org: str,
        origin: str,
        consortium: Consortium,
        lookup: TrustSetLookup,
        pseudonym: Pseudonym,
        source_key: Callable[[str, str], Ed25519PublicKey],
        log_key: Callable[[str], Ed25519PublicKey],
        prepare: Callable[[SignedStatement, str], P],
        append: Callable[[list[P]], object],
        locate: Callable[[Sequence[bytes]], dict[bytes, tuple[int, int]]],
        sign: Callable[[list[Receipt]], SignedBatch],
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._org = org
        self._origin = origin
        self._consortium = consortium
        self._lookup = lookup
        self._pseudonym = pseudonym
        self._source_key = source_key
        self._log_key = log_key
        self._prepare = prepare
        self._append = append
        self._locate = locate
        self._sign = sign
        self._executor = executor
        self._place = Placer(consortium, pseudonym, lookup)

    def placement(self, signed: SignedStatement) -> Placement:
        return self._place(signed.statement)

    def check(self, signed: SignedStatement) -> Placement:
        """Checks 2-4 above for one parsed statement; its placement if it passes."""
        st = signed.statement
        if st.org not in self._place.members:
            raise ForbiddenError(
                f"org {st.org!r} is not a member of consortium {self._consortium.id!r}",
                org=st.org,
            )
        placement = self.placement(signed)
        if self._org not in placement.holders:
            raise ForbiddenError(
                f"{self._org} is in none of the trust sets of this record's principals "
                f"(holders: {', '.join(placement.holders)})",
                holders=list(placement.holders),
            )
        if st.schema == "accord.source":
            if st.source != LOG_SOURCE_NAME:
                raise ForbiddenError("a source registration is signed by the org's log key")
            key = self._log_key(st.org)
        else:
            key = self._source_key(st.org, st.source)
        signed.verify(key)
        return placement

    def process(self, sender: str, items: Sequence[Any]) -> ReplicateAnswer:
        """Check, append and answer the records of one request from member ``sender``."""
        refused: list[Refused] = []
        parsed: list[tuple[int, SignedStatement]] = []
        for i, value in enumerate(items):
            try:
                parsed.append((i, SignedStatement.from_json(value)))
            except AccordError as exc:
                refused.append(Refused.of(i, None, exc))
        known = self._locate([s.record_hash for _, s in parsed])
        accepted: dict[bytes, Placement] = {}  # record -> placement, in request order
        segment: list[tuple[int, SignedStatement]] = []
        for i, signed in parsed:
            h = signed.record_hash
            if h in accepted:
                continue
            if h in known:
                accepted[h] = self.placement(signed)
            elif signed.statement.schema == "accord.source":
                self._flush(sender, segment, accepted, refused)
                self._flush(sender, [(i, signed)], accepted, refused)
                segment = []
            else:
                segment.append((i, signed))
        self._flush(sender, segment, accepted, refused)
        if not accepted:
            return ReplicateAnswer(None, tuple(sorted(refused, key=lambda r: r.index)))
        where = self._locate(list(accepted))
        receipts = []
        for h, placement in accepted.items():
            index, log_ts = where[h]
            receipts.append(
                Receipt(h, self._org, self._origin, index, log_ts, placement.principals)
            )
        return ReplicateAnswer(self._sign(receipts), tuple(sorted(refused, key=lambda r: r.index)))

    def _check_chunk(
        self, chunk: Sequence[tuple[int, SignedStatement]], sender: str
    ) -> list[tuple[int, SignedStatement, Placement | AccordError, P | None]]:
        out: list[tuple[int, SignedStatement, Placement | AccordError, P | None]] = []
        for i, signed in chunk:
            try:
                placement = self.check(signed)
                out.append((i, signed, placement, self._prepare(signed, sender)))
            except AccordError as exc:
                out.append((i, signed, exc, None))
        return out

    def _flush(
        self,
        sender: str,
        segment: list[tuple[int, SignedStatement]],
        accepted: dict[bytes, Placement],
        refused: list[Refused],
    ) -> None:
        """Check a run of records (in parallel when long) and append the good ones."""
        if not segment:
            return
        chunks = [segment[i : i + _CHUNK] for i in range(0, len(segment), _CHUNK)]
        if len(chunks) == 1 or self._executor is None:
            results = [r for c in chunks for r in self._check_chunk(c, sender)]
        else:
            futures = [self._executor.submit(self._check_chunk, c, sender) for c in chunks]
            results = [r for f in futures for r in f.result()]
        prepared: list[P] = []
        for i, signed, outcome, prep in results:
            if isinstance(outcome, AccordError):
                refused.append(Refused.of(i, signed.record_hash, outcome))
                _log.info(
                    "refused a record from %s: %s (%s)", sender, outcome.code, outcome.message
                )
            elif prep is not None and signed.record_hash not in accepted:
                prepared.append(prep)
                accepted[signed.record_hash] = outcome
        if prepared:
            self._append(prepared)
        segment.clear()
