"""Storage receipts: "record H is at index i of my log", signed in batches (formats.md section 6).

A member that stored records answers one **receipt batch**, signed by its log
key over ``"accord/receipt/v1\\n" || canonical(batch)``::

    {"v": 1, "org", "origin", "ts", "count": k, "root": hex RFC 9162 root}

where ``root`` is the Merkle root over the k receipt leaf hashes
``leaf_hash(canonical(receipt))``. A receipt is proven by the batch, its
signature, its position and an inclusion proof in the batch tree: one
signature covers a whole batch, and each receipt travels on its own.

Each receipt names the record's ``principals`` (their sorted pseudonyms, which
the member computed itself from the statement), so a certificate cannot be
relabelled to name a principal with a weaker trust set.

:class:`VerifiedBatches` remembers batch signatures already checked, so the
receipts of one batch cost one Ed25519 verification, not one each (the compact
wire form of a whole batch is in ``accord.quorum.batches``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.encoding import (
    HASH_SIZE,
    b64decode,
    b64encode,
    canonical,
    hex32,
    sign,
)
from accord.errors import BadSignatureError, MalformedError, UsageError, VerificationError
from accord.merkle import MemoryTree, leaf_hash, verify_inclusion
from accord.quorum.names import is_json_int, is_org_id, is_origin, is_principal

__all__ = [
    "DOMAIN",
    "MAX_BATCH",
    "MAX_PRINCIPALS",
    "Receipt",
    "ReceiptBatch",
    "SignedReceipt",
    "VerifiedBatches",
    "check_batch",
    "check_batch_signature",
    "sign_receipts",
    "verify_signed_receipt",
]

DOMAIN: Final = "accord/receipt/v1\n"
#: The most receipts one batch may hold (bounds the proof length at 16 hashes).
MAX_BATCH: Final = 1 << 16
#: The most principals one record (so one receipt) may name.
MAX_PRINCIPALS: Final = 64
_SIG_SIZE: Final = 64


def _need(ok: bool, what: str, message: str) -> None:
    if not ok:
        raise MalformedError(what, message)


def _fields(obj: object, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``obj`` as a JSON object with exactly ``keys``."""
    if not isinstance(obj, dict):
        raise MalformedError(what, "expected a JSON object")
    extra = sorted(set(obj) - set(keys))
    missing = [k for k in keys if k not in obj]
    _need(not extra, what, f"unknown keys {extra}")
    _need(not missing, what, f"missing keys {missing}")
    return obj


@dataclass(frozen=True, slots=True)
class Receipt:
    """One member's statement that record ``record`` is at ``index`` of its log ``origin``.

    ``record`` is the 32-byte record hash; ``log_ts`` the header's log_ts (ms);
    ``principals`` the sorted, distinct pseudonyms (32 hex digits) of the
    record's principals as the member computed them (formats.md sections 5-6).
    Raises MalformedError("receipt", ...) when a field is out of shape.
    """

    record: bytes
    org: str
    origin: str
    index: int
    log_ts: int
    principals: tuple[str, ...]
    _leaf: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _need(
            isinstance(self.record, bytes) and len(self.record) == HASH_SIZE,
            "receipt",
            "record must be a 32-byte hash",
        )
        _need(is_org_id(self.org), "receipt", "org is not an org id")
        _need(is_origin(self.origin), "receipt", "origin is not a log origin")
        _need(is_json_int(self.index), "receipt", "index must be an integer in [0, 2**53)")
        _need(is_json_int(self.log_ts), "receipt", "log_ts must be an integer in [0, 2**53)")
        p = self.principals
        _need(
            isinstance(p, tuple)
            and 1 <= len(p) <= MAX_PRINCIPALS
            and all(is_principal(x) for x in p),
            "receipt",
            f"principals must be 1 to {MAX_PRINCIPALS} pseudonyms of 32 hex digits",
        )
        _need(list(p) == sorted(set(p)), "receipt", "principals must be sorted and distinct")
        object.__setattr__(self, "_leaf", leaf_hash(canonical(self.to_json())))

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record.hex(),
            "org": self.org,
            "origin": self.origin,
            "index": self.index,
            "log_ts": self.log_ts,
            "principals": list(self.principals),
        }

    @classmethod
    def from_json(cls, obj: object) -> Receipt:
        d = _fields(obj, "receipt", ("record", "org", "origin", "index", "log_ts", "principals"))
        _need(isinstance(d["record"], str), "receipt", "record must be a hex string")
        principals = d["principals"]
        _need(
            isinstance(principals, list) and len(principals) <= MAX_PRINCIPALS,
            "receipt",
            f"principals must be a list of at most {MAX_PRINCIPALS} pseudonyms",
        )
        return cls(
            hex32(d["record"], "receipt"),
            d["org"],
            d["origin"],
            d["index"],
            d["log_ts"],
            tuple(principals),
        )

    @property
    def leaf_hash(self) -> bytes:
        """``leaf_hash(canonical(receipt))``: this receipt's leaf in its batch tree."""
        return self._leaf


@dataclass(frozen=True, slots=True)
class ReceiptBatch:
    """The signed part of a batch: who, when (``ts``, ms), how many, and their Merkle root."""

    org: str
    origin: str
    ts: int
    count: int
    root: bytes
    _message: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _need(is_org_id(self.org), "receipt batch", "org is not an org id")
        _need(is_origin(self.origin), "receipt batch", "origin is not a log origin")
        _need(is_json_int(self.ts), "receipt batch", "ts must be an integer in [0, 2**53)")
        _need(
            type(self.count) is int and 1 <= self.count <= MAX_BATCH,
            "receipt batch",
            f"count must be an integer from 1 to {MAX_BATCH}",
        )
        _need(
            isinstance(self.root, bytes) and len(self.root) == HASH_SIZE,
            "receipt batch",
            "root must be a 32-byte hash",
        )
        object.__setattr__(self, "_message", DOMAIN.encode("ascii") + canonical(self.to_json()))

    @property
    def signed_message(self) -> bytes:
        """What the batch signature covers: ``"accord/receipt/v1\\n" || canonical(batch)``."""
        return self._message

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "org": self.org,
            "origin": self.origin,
            "ts": self.ts,
            "count": self.count,
            "root": self.root.hex(),
        }

    @classmethod
    def from_json(cls, obj: object) -> ReceiptBatch:
        d = _fields(obj, "receipt batch", ("v", "org", "origin", "ts", "count", "root"))
        _need(type(d["v"]) is int and d["v"] == 1, "receipt batch", "v must be 1")
        _need(isinstance(d["root"], str), "receipt batch", "root must be a hex string")
        root = hex32(d["root"], "receipt batch")
        return cls(d["org"], d["origin"], d["ts"], d["count"], root)


@dataclass(frozen=True, slots=True)
class SignedReceipt:
    """A receipt with what proves it: its batch, the batch signature, position and proof.

    This is one element of a certificate's ``receipts`` (formats.md section 6).
    Shape only is checked here; :func:`verify_signed_receipt` checks the proof.
    """

    receipt: Receipt
    batch: ReceiptBatch
    sig: bytes
    position: int
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        what = "signed receipt"
        _need(isinstance(self.receipt, Receipt), what, "receipt must be a Receipt")
        _need(isinstance(self.batch, ReceiptBatch), what, "batch must be a ReceiptBatch")
        _need(
            isinstance(self.sig, bytes) and len(self.sig) == _SIG_SIZE,
            what,
            "sig must be a 64-byte Ed25519 signature",
        )
        _need(
            type(self.position) is int and 0 <= self.position < MAX_BATCH,
            what,
            f"position must be an integer from 0 to {MAX_BATCH - 1}",
        )
        _need(
            isinstance(self.proof, tuple)
            and len(self.proof) <= 64
            and all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in self.proof),
            what,
            "proof must be a tuple of at most 64 32-byte hashes",
        )

    @property
    def org(self) -> str:
        return self.receipt.org

    def to_json(self) -> dict[str, Any]:
        return {
            "receipt": self.receipt.to_json(),
            "batch": self.batch.to_json(),
            "sig": b64encode(self.sig),
            "position": self.position,
            "proof": [h.hex() for h in self.proof],
        }

    @classmethod
    def from_json(cls, obj: object) -> SignedReceipt:
        what = "signed receipt"
        d = _fields(obj, what, ("receipt", "batch", "sig", "position", "proof"))
        _need(isinstance(d["sig"], str), what, "sig must be a base64 string")
        sig = b64decode(d["sig"], what)
        proof = d["proof"]
        _need(isinstance(proof, list) and len(proof) <= 64, what, "proof must be a short list")
        _need(all(isinstance(h, str) for h in proof), what, "proof hashes must be hex strings")
        hashes = tuple(hex32(h, what) for h in proof)
        receipt = Receipt.from_json(d["receipt"])
        batch = ReceiptBatch.from_json(d["batch"])
        return cls(receipt, batch, sig, d["position"], hashes)


class VerifiedBatches:
    """Batch signatures already verified, so each batch's Ed25519 check runs once.

    Keys are (public key, canonical batch, signature): a hit means exactly this
    signature by exactly this key over exactly this batch verified before.
    Bounded: past ``max_entries`` the oldest are forgotten (and would simply be
    verified again). Not thread-safe: the shell serializes calls.
    """

    __slots__ = ("_seen", "max_entries")

    def __init__(self, max_entries: int = 4096) -> None:
        if type(max_entries) is not int or max_entries < 1:
            raise UsageError("max_entries must be a positive integer")
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[bytes, bytes, bytes], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def check(
        self, public_key: Ed25519PublicKey, batch: ReceiptBatch, sig: bytes, what: str
    ) -> None:
        """Verify the batch signature unless this exact one verified before."""
        key = (public_key.public_bytes_raw(), batch.signed_message, sig)
        if key in self._seen:
            self._seen.move_to_end(key)
            return
        check_batch_signature(batch, sig, public_key, None, what)
        self._seen[key] = None
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)


def check_batch_signature(
    batch: ReceiptBatch,
    sig: bytes,
    public_key: Ed25519PublicKey,
    verified: VerifiedBatches | None,
    what: str | None = None,
) -> None:
    """BadSignatureError unless ``sig`` is ``public_key``'s signature of ``batch``."""
    what = what or f"receipt batch signature of {batch.org}"
    if verified is not None:
        verified.check(public_key, batch, sig, what)
        return
    try:
        public_key.verify(sig, batch.signed_message)
    except InvalidSignature:
        raise BadSignatureError(f"{what} does not verify") from None


def sign_receipts(
    receipts: Sequence[Receipt], org: str, origin: str, ts: int, key: Ed25519PrivateKey
) -> list[SignedReceipt]:
    """Sign ``receipts`` as one batch with ``org``'s log key (formats.md section 6).

    Preconditions: 1..MAX_BATCH receipts, each of ``org`` and ``origin`` (else
    UsageError). Returns one SignedReceipt per receipt, in order, each with its
    position and inclusion proof in the batch tree.
    """
    tree = MemoryTree(r.leaf_hash for r in check_batch(receipts, org, origin))
    batch = ReceiptBatch(org, origin, ts, len(receipts), tree.root())
    sig = sign(key, DOMAIN, batch.to_json())
    return [
        SignedReceipt(r, batch, sig, i, tuple(tree.inclusion_proof(i)))
        for i, r in enumerate(receipts)
    ]


def check_batch(receipts: Sequence[Receipt], org: str, origin: str) -> Sequence[Receipt]:
    """``receipts`` if they can form one batch of ``org`` at ``origin``; UsageError otherwise."""
    if not 1 <= len(receipts) <= MAX_BATCH:
        raise UsageError(f"a receipt batch holds 1 to {MAX_BATCH} receipts, not {len(receipts)}")
    for r in receipts:
        if not isinstance(r, Receipt) or r.org != org or r.origin != origin:
            raise UsageError(f"every receipt in a batch of {org} must be {org}'s, at {origin}")
    return receipts


def verify_signed_receipt(
    signed: SignedReceipt,
    public_key: Ed25519PublicKey,
    *,
    verified: VerifiedBatches | None = None,
) -> Receipt:
    """Return the receipt if ``signed`` is proven by a batch that ``public_key`` signed.

    Checks (formats.md section 6): the receipt's org and origin equal the
    batch's (VerificationError); the batch signature by ``public_key``
    (BadSignatureError; skipped when ``verified`` already holds this exact
    signature); the receipt's leaf at ``position`` of the batch tree of
    ``count`` leaves leads to ``root`` (BadProofError, RootMismatchError).
    """
    batch, receipt = signed.batch, signed.receipt
    if receipt.org != batch.org or receipt.origin != batch.origin:
        raise VerificationError(
            f"receipt of {receipt.org} at {receipt.origin} sits in a batch of "
            f"{batch.org} at {batch.origin}",
            org=receipt.org,
        )
    check_batch_signature(batch, signed.sig, public_key, verified)
    verify_inclusion(signed.position, batch.count, receipt.leaf_hash, signed.proof, batch.root)
    return receipt
