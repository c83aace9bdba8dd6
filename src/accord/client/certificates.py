"""Checking a certificate as a skeptic: against the consortium file, then in each member's log.

formats.md section 6; docs/replication.md section 5. Two levels:

1. :func:`check_certificate`: the certificate alone against the consortium file
   (every trust set is the consortium's, each threshold met by distinct members'
   receipts, each receipt signed by that member's log key and naming the
   certificate's principals). A member org's principal has the whole consortium
   as trust set (:func:`accord.quorum.member_trust_sets`).
2. :func:`check_in_logs`: for each receipt, ask that member's node (its URL in
   the consortium file) for its checkpoint, verified with its log key and the
   consortium's ``k`` witness cosignatures, then the leaf at the receipt's index
   and its inclusion proof, and check with
   :func:`accord.quorum.verify_receipt_in_log` that the leaf is a header of that
   record with that ``log_ts`` in the tree the checkpoint commits to. A member
   that signed a receipt for a record it did not append is caught here.

Until the node serves cosigned checkpoints, ``allow_unwitnessed=True`` accepts
a checkpoint with the log signature alone; each result then says
``witnessed=False``, and such a check does not defend against a log that shows
different histories to different readers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from accord.client.http import error_from_response
from accord.encoding import hex32
from accord.errors import (
    AccordError,
    BadProofError,
    MalformedError,
    NetworkError,
    QuorumNotMetError,
    VerificationError,
)
from accord.note import Checkpoint, Verifier, verify_cosigned_checkpoint
from accord.quorum import (
    Certificate,
    Consortium,
    Member,
    SignedReceipt,
    member_trust_sets,
    verify_certificate,
    verify_receipt_in_log,
)

__all__ = [
    "HttpLogs",
    "InclusionResult",
    "LogReader",
    "check_certificate",
    "check_in_logs",
    "check_receipt_in_log",
    "verified_checkpoint",
]


def check_certificate(cert: Certificate | str | bytes, consortium: Consortium) -> Certificate:
    """The certificate, if it verifies against ``consortium`` (formats.md section 6).

    Raises MalformedError for a certificate that does not parse and the
    VerificationError kinds of :func:`accord.quorum.verify_certificate`.
    """
    if not isinstance(cert, Certificate):
        cert = Certificate.parse(cert)
    verify_certificate(cert, consortium, member_trust_sets(consortium))
    return cert


class LogReader(Protocol):
    """What the inclusion check needs from a member's node (``HttpLogs`` over HTTP)."""

    def checkpoint(self, member: Member) -> str:
        """The member's latest checkpoint note (with cosignatures)."""

    def leaf(self, member: Member, index: int) -> bytes:
        """The log entry at ``index``."""

    def inclusion_proof(self, member: Member, index: int, size: int) -> list[bytes]:
        """The inclusion proof of entry ``index`` in the tree of ``size``."""


class HttpLogs:
    """:class:`LogReader` over the members' public log API (``/v1/checkpoint``, ...)."""

    def __init__(self, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpLogs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, member: Member, path: str, params: dict[str, Any] | None = None) -> Any:
        url = member.url.rstrip("/") + path
        try:
            response = self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise NetworkError(f"cannot reach {member.org} at {url}: {exc}") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def checkpoint(self, member: Member) -> str:
        text: str = self._get(member, "/v1/checkpoint").text
        return text

    def leaf(self, member: Member, index: int) -> bytes:
        value = _json(self._get(member, "/v1/entries", {"start": index, "end": index + 1}))
        entries = value.get("entries") if isinstance(value, dict) else None
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], str):
            raise MalformedError("entries answer", f"{member.org} did not answer one entry")
        return entries[0].encode("utf-8")

    def inclusion_proof(self, member: Member, index: int, size: int) -> list[bytes]:
        value = _json(self._get(member, "/v1/proofs/inclusion", {"index": index, "size": size}))
        proof = value.get("proof") if isinstance(value, dict) else None
        if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
            raise MalformedError("inclusion answer", f"{member.org} answered no proof list")
        return [hex32(h, "inclusion answer") for h in proof]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MalformedError("answer", "not JSON") from None


@dataclass(frozen=True, slots=True)
class InclusionResult:
    """What the inclusion check found for one receipt."""

    org: str
    index: int
    checkpoint_size: int | None
    witnesses: tuple[str, ...]
    witnessed: bool
    error: AccordError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "org": self.org,
            "index": self.index,
            "checkpoint_size": self.checkpoint_size,
            "witnesses": list(self.witnesses),
            "witnessed": self.witnessed,
            "ok": self.ok,
        }
        if self.error is not None:
            out["error"] = self.error.to_dict()["error"]
        return out


def verified_checkpoint(
    note: str, member: Member, consortium: Consortium, *, allow_unwitnessed: bool = False
) -> tuple[Checkpoint, tuple[str, ...], bool]:
    """(checkpoint, witnesses that cosigned it, witnessed) for ``member``'s checkpoint note.

    Checks its log signature with the member's log key and at least the
    consortium's ``witness.k`` cosignatures by the other members' witness keys
    (QuorumNotMetError otherwise, unless ``allow_unwitnessed``: then the log
    signature alone is accepted and ``witnessed`` is False), and that its origin
    is the member's (VerificationError).
    """
    log_key = Verifier.parse(member.log_key)
    witnesses = [Verifier.parse(m.witness_key) for m in consortium.members if m.org != member.org]
    k = min(consortium.witness_k, len(witnesses))
    try:
        checkpoint, cosigned = verify_cosigned_checkpoint(note, log_key, witnesses, k)
        witnessed = True
    except QuorumNotMetError:
        if not allow_unwitnessed:
            raise
        checkpoint, cosigned = verify_cosigned_checkpoint(note, log_key, witnesses, 0)
        witnessed = False
    if checkpoint.origin != member.origin:
        raise VerificationError(
            f"{member.org}'s checkpoint is of log {checkpoint.origin!r}, not {member.origin!r}",
            org=member.org,
        )
    return checkpoint, tuple(sorted(cosigned)), witnessed


def check_receipt_in_log(
    signed: SignedReceipt,
    consortium: Consortium,
    logs: LogReader,
    *,
    allow_unwitnessed: bool = False,
    wait_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> InclusionResult:
    """Check one receipt in its member's log (never raises an AccordError: see ``error``).

    When the member's checkpoint does not cover the receipt's index yet (it is
    signed every second or so, and witnessed after), it is fetched again for up
    to ``wait_s`` seconds.
    """
    receipt = signed.receipt
    member = consortium.member(receipt.org)
    size: int | None = None
    witnesses: tuple[str, ...] = ()
    witnessed = False
    try:
        deadline = time.monotonic() + wait_s
        while True:
            note = logs.checkpoint(member)
            checkpoint, witnesses, witnessed = verified_checkpoint(
                note, member, consortium, allow_unwitnessed=allow_unwitnessed
            )
            size = checkpoint.size
            if size > receipt.index or time.monotonic() >= deadline:
                break
            sleep(0.25)
        if receipt.index >= size:
            raise BadProofError(
                f"{receipt.org}'s latest checkpoint (size {size}) does not cover the "
                f"receipt's index {receipt.index}",
                org=receipt.org,
                index=receipt.index,
            )
        leaf = logs.leaf(member, receipt.index)
        proof = logs.inclusion_proof(member, receipt.index, size)
        verify_receipt_in_log(
            receipt, leaf, proof, size, checkpoint.root_hash, origin=checkpoint.origin
        )
    except AccordError as exc:
        return InclusionResult(receipt.org, receipt.index, size, witnesses, witnessed, exc)
    return InclusionResult(receipt.org, receipt.index, size, witnesses, witnessed)


def check_in_logs(
    cert: Certificate,
    consortium: Consortium,
    logs: LogReader | None = None,
    *,
    allow_unwitnessed: bool = False,
    wait_s: float = 10.0,
) -> list[InclusionResult]:
    """:func:`check_receipt_in_log` for every receipt of ``cert`` (in order)."""
    own = logs is None
    reader: LogReader = HttpLogs() if logs is None else logs
    try:
        return [
            check_receipt_in_log(
                signed, consortium, reader, allow_unwitnessed=allow_unwitnessed, wait_s=wait_s
            )
            for signed in cert.receipts
        ]
    finally:
        if own and isinstance(reader, HttpLogs):
            reader.close()
