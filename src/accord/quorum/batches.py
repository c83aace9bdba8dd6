"""A whole receipt batch in its compact wire form (formats.md section 6).

A member that stored the records of a replication request answers one
:class:`SignedBatch`: the batch, its signature and the receipts in batch order,
without per-receipt proofs. The receiver rebuilds the batch tree, checks the one
signature and takes each receipt with its position and inclusion proof
(:meth:`SignedBatch.verify`), ready for a certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.encoding import b64decode, b64encode, sign
from accord.errors import MalformedError, RootMismatchError, VerificationError
from accord.merkle import MemoryTree
from accord.quorum.receipts import (
    DOMAIN,
    MAX_BATCH,
    Receipt,
    ReceiptBatch,
    SignedReceipt,
    VerifiedBatches,
    check_batch,
    check_batch_signature,
)

__all__ = ["SignedBatch", "sign_batch"]

_SIG_SIZE: Final = 64
_WHAT: Final = "receipt batch"


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise MalformedError(_WHAT, message)


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """A whole receipt batch as a member answers it: the batch, its signature, the receipts.

    The compact wire form (no per-receipt proofs): the receiver rebuilds the
    batch tree from the receipts. JSON: ``{"batch": {...}, "sig": b64,
    "receipts": [receipt, ...]}`` with the receipts in batch order.
    """

    batch: ReceiptBatch
    sig: bytes
    receipts: tuple[Receipt, ...]

    def __post_init__(self) -> None:
        _need(isinstance(self.batch, ReceiptBatch), "batch must be a ReceiptBatch")
        _need(
            isinstance(self.sig, bytes) and len(self.sig) == _SIG_SIZE,
            "sig must be a 64-byte Ed25519 signature",
        )
        _need(
            isinstance(self.receipts, tuple) and all(isinstance(r, Receipt) for r in self.receipts),
            "receipts must be a tuple of Receipt",
        )
        _need(
            len(self.receipts) == self.batch.count,
            f"the batch counts {self.batch.count} receipts, {len(self.receipts)} are given",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch.to_json(),
            "sig": b64encode(self.sig),
            "receipts": [r.to_json() for r in self.receipts],
        }

    @classmethod
    def from_json(cls, obj: object) -> SignedBatch:
        if not isinstance(obj, dict):
            raise MalformedError(_WHAT, "expected a JSON object")
        _need(set(obj) == {"batch", "sig", "receipts"}, "expected the keys batch, sig, receipts")
        _need(isinstance(obj["sig"], str), "sig must be a base64 string")
        receipts = obj["receipts"]
        _need(
            isinstance(receipts, list) and 1 <= len(receipts) <= MAX_BATCH,
            f"receipts must be a list of 1 to {MAX_BATCH} receipts",
        )
        return cls(
            ReceiptBatch.from_json(obj["batch"]),
            b64decode(obj["sig"], _WHAT),
            tuple(Receipt.from_json(r) for r in receipts),
        )

    def signed_receipts(self) -> list[SignedReceipt]:
        """Each receipt with its position and inclusion proof in the batch tree.

        Raises RootMismatchError when the receipts do not make the batch's root
        (the signature is not checked here: see :meth:`verify`).
        """
        tree = MemoryTree(r.leaf_hash for r in self.receipts)
        root = tree.root()
        if root != self.batch.root:
            raise RootMismatchError(
                f"the receipts of {self.batch.org}'s batch do not make its signed root",
                expected=self.batch.root,
                computed=root,
            )
        return [
            SignedReceipt(r, self.batch, self.sig, i, tuple(tree.inclusion_proof(i)))
            for i, r in enumerate(self.receipts)
        ]

    def verify(
        self, public_key: Ed25519PublicKey, verified: VerifiedBatches | None = None
    ) -> list[SignedReceipt]:
        """Check the whole batch at once and return its receipts, each with its proof.

        Checks (formats.md section 6): every receipt is of the batch's org and
        origin (VerificationError); the receipts make the batch's root
        (RootMismatchError); the signature by ``public_key`` (BadSignatureError).
        One Ed25519 verification covers every receipt.
        """
        for r in self.receipts:
            if r.org != self.batch.org or r.origin != self.batch.origin:
                raise VerificationError(
                    f"receipt of {r.org} at {r.origin} sits in a batch of "
                    f"{self.batch.org} at {self.batch.origin}",
                    org=r.org,
                )
        proven = self.signed_receipts()
        check_batch_signature(self.batch, self.sig, public_key, verified)
        return proven


def sign_batch(
    receipts: Sequence[Receipt], org: str, origin: str, ts: int, key: Ed25519PrivateKey
) -> SignedBatch:
    """Sign ``receipts`` as one batch with ``org``'s log key (formats.md section 6).

    Preconditions: 1..MAX_BATCH receipts, each of ``org`` and ``origin`` (else
    UsageError). The compact form; :func:`sign_receipts` gives each receipt
    with its proof.
    """
    tree = MemoryTree(r.leaf_hash for r in check_batch(receipts, org, origin))
    batch = ReceiptBatch(org, origin, ts, len(receipts), tree.root())
    return SignedBatch(batch, sign(key, DOMAIN, batch.to_json()), tuple(receipts))
