"""Certificates: the receipts that make a record final (formats.md section 6).

A certificate names the record, its originating org, the trust set of every
principal the record is about, and signed receipts. It is valid when every
trust set equals the one the consortium file gives, each set's threshold is met
by receipts from distinct members of that set, and every receipt verifies
(signature by the member's log key from the consortium file, inclusion in its
batch, same record hash, and the same principals as the certificate: members
sign the principals they computed from the statement). One round of signed
storage receipts is enough for audit records, which never conflict
(reference/consortium.md, the box at the top).

The originating node assembles one with :class:`CertificateBuilder`; anyone
checks one with :func:`verify_certificate`, and, given a member's verified
checkpoint, :func:`verify_receipt_in_log` (from ``accord.quorum.logleaf``,
re-exported here) shows the receipt's leaf really is in that member's log.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import HASH_SIZE, canonical, hex32, parse_json
from accord.errors import (
    BadProofError,
    BadSignatureError,
    MalformedError,
    QuorumNotMetError,
    RootMismatchError,
    TooLargeError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.quorum.consortium import Consortium
from accord.quorum.logleaf import verify_receipt_in_log
from accord.quorum.names import is_org_id, is_principal
from accord.quorum.receipts import SignedReceipt, VerifiedBatches, verify_signed_receipt
from accord.quorum.trustset import MAX_TRUST_SET, TrustSet, TrustSetLookup
from accord.quorum.vkeys import public_key

__all__ = [
    "MAX_CERTIFICATE_SIZE",
    "Certificate",
    "CertificateBuilder",
    "PrincipalTrustSet",
    "verify_certificate",
    "verify_receipt_in_log",
]

MAX_CERTIFICATE_SIZE: Final = 4 << 20
_MAX_PRINCIPALS: Final = 64
_MAX_RECEIPTS: Final = 1024
_WHAT: Final = "certificate"


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise MalformedError(_WHAT, message)


def _object(obj: object, keys: tuple[str, ...], name: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise MalformedError(_WHAT, f"{name}: expected a JSON object")
    if set(obj) != set(keys):
        raise MalformedError(_WHAT, f"{name}: expected exactly the keys {list(keys)}")
    return obj


@dataclass(frozen=True, slots=True)
class PrincipalTrustSet:
    """One entry of a certificate's ``trust_sets``: a principal, its set, the claimed threshold.

    ``threshold`` is kept as the certificate states it; :func:`verify_certificate`
    refuses a certificate whose claim differs from the set's real threshold.
    """

    principal: str
    trust_set: TrustSet
    threshold: int

    def __post_init__(self) -> None:
        _need(is_principal(self.principal), "principal must be a 32-hex-digit pseudonym")
        _need(isinstance(self.trust_set, TrustSet), "trust_set must be a TrustSet")
        _need(
            type(self.threshold) is int and 1 <= self.threshold <= MAX_TRUST_SET,
            "threshold must be a positive integer",
        )

    @classmethod
    def of(cls, principal: str, trust_set: TrustSet) -> PrincipalTrustSet:
        """The entry for ``principal`` with the set's true threshold."""
        return cls(principal, trust_set, trust_set.threshold)

    def to_json(self) -> dict[str, Any]:
        out = {"principal": self.principal, **self.trust_set.to_json()}
        out["threshold"] = self.threshold
        return out

    @classmethod
    def from_json(cls, obj: object) -> PrincipalTrustSet:
        obj = _object(obj, ("principal", "members", "model", "f", "threshold"), "trust set")
        members = obj["members"]
        _need(
            isinstance(members, list) and all(isinstance(m, str) for m in members),
            "trust set members must be a list of org ids",
        )
        _need(members == sorted(set(members)), "trust set members must be sorted and unique")
        try:
            trust_set = TrustSet(tuple(members), obj["model"], obj["f"])
        except UsageError as exc:
            raise MalformedError(_WHAT, exc.message) from None
        return cls(obj["principal"], trust_set, obj["threshold"])


@dataclass(frozen=True, slots=True)
class Certificate:
    """A record's certificate (formats.md section 6). Shape is checked here, not validity."""

    record: bytes
    org: str
    trust_sets: tuple[PrincipalTrustSet, ...]
    receipts: tuple[SignedReceipt, ...]

    def __post_init__(self) -> None:
        _need(
            isinstance(self.record, bytes) and len(self.record) == HASH_SIZE,
            "record must be a 32-byte hash",
        )
        _need(is_org_id(self.org), "org is not an org id")
        _need(
            isinstance(self.trust_sets, tuple)
            and 1 <= len(self.trust_sets) <= _MAX_PRINCIPALS
            and all(isinstance(t, PrincipalTrustSet) for t in self.trust_sets),
            f"trust_sets must hold 1 to {_MAX_PRINCIPALS} entries",
        )
        principals = [t.principal for t in self.trust_sets]
        _need(len(set(principals)) == len(principals), "a principal appears twice in trust_sets")
        _need(
            isinstance(self.receipts, tuple)
            and len(self.receipts) <= _MAX_RECEIPTS
            and all(isinstance(r, SignedReceipt) for r in self.receipts),
            f"receipts must hold at most {_MAX_RECEIPTS} signed receipts",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "record": self.record.hex(),
            "org": self.org,
            "trust_sets": [t.to_json() for t in self.trust_sets],
            "receipts": [r.to_json() for r in self.receipts],
        }

    @classmethod
    def from_json(cls, obj: object) -> Certificate:
        """Strict: exactly the keys of formats.md section 6; MalformedError("certificate", ...)."""
        obj = _object(obj, ("v", "record", "org", "trust_sets", "receipts"), "certificate")
        _need(type(obj["v"]) is int and obj["v"] == 1, "v must be 1")
        _need(isinstance(obj["record"], str), "record must be a hex string")
        sets, receipts = obj["trust_sets"], obj["receipts"]
        _need(isinstance(sets, list) and len(sets) <= _MAX_PRINCIPALS, "trust_sets: bad list")
        _need(isinstance(receipts, list) and len(receipts) <= _MAX_RECEIPTS, "receipts: bad list")
        try:
            signed = tuple(SignedReceipt.from_json(r) for r in receipts)
        except MalformedError as exc:
            raise MalformedError(_WHAT, exc.message) from None
        return cls(
            hex32(obj["record"], _WHAT),
            obj["org"],
            tuple(PrincipalTrustSet.from_json(t) for t in sets),
            signed,
        )

    def format(self) -> str:
        """Canonical JSON text (RFC 8785)."""
        return canonical(self.to_json()).decode("utf-8")

    @classmethod
    def parse(cls, data: str | bytes) -> Certificate:
        """Parse certificate JSON strictly; TooLargeError above 4 MiB."""
        if not isinstance(data, str | bytes):
            raise MalformedError(_WHAT, "expected JSON text")
        if len(data) > MAX_CERTIFICATE_SIZE:
            raise TooLargeError(_WHAT, f"larger than {MAX_CERTIFICATE_SIZE} bytes")
        return cls.from_json(parse_json(data, _WHAT))

    @property
    def signers(self) -> frozenset[str]:
        return frozenset(r.receipt.org for r in self.receipts)


# -- verification -----------------------------------------------------------------


def _check_receipt(
    signed: SignedReceipt,
    label: str,
    record: bytes,
    consortium: Consortium,
    principals: frozenset[str],
    verified: VerifiedBatches | None,
) -> None:
    """Verify one receipt for ``record`` about ``principals`` against the consortium file.

    ``label`` says which receipt in messages (``receipt 2``).
    """
    receipt = signed.receipt
    org = receipt.org
    if org not in consortium.orgs:
        raise UnknownKeyError(
            f"{label} is signed by {org!r}, which is not a member of consortium "
            f"{consortium.id!r}: no key is known for it",
            org=org,
        )
    member = consortium.member(org)
    where = f"{label} from {org}"
    if receipt.record != record:
        raise VerificationError(
            f"{where} is for record {receipt.record.hex()}, not {record.hex()}", org=org
        )
    if receipt.origin != member.origin:
        raise VerificationError(
            f"{where} names log {receipt.origin!r}; the consortium file gives {member.origin!r}",
            org=org,
        )
    if frozenset(receipt.principals) != principals:
        raise VerificationError(
            f"{where} names principals {list(receipt.principals)}, but the certificate "
            f"covers {sorted(principals)}",
            org=org,
        )
    try:
        verify_signed_receipt(signed, public_key(member.log_key), verified=verified)
    except BadSignatureError:
        raise BadSignatureError(
            f"{where}: the batch signature does not verify with {org}'s log key "
            "from the consortium file",
            org=org,
        ) from None
    except RootMismatchError as exc:
        raise RootMismatchError(
            f"{where} is not in its signed batch: {exc.message}",
            expected=exc.expected,
            computed=exc.computed,
            org=org,
        ) from None
    except BadProofError as exc:
        raise BadProofError(f"{where} is not in its signed batch: {exc.message}", org=org) from None
    except VerificationError as exc:
        raise VerificationError(f"{where}: {exc.message}", org=org) from None


def verify_certificate(
    cert: Certificate,
    consortium: Consortium,
    trust_set_for: TrustSetLookup | None = None,
    *,
    principals: Collection[str] | None = None,
    verified: VerifiedBatches | None = None,
) -> None:
    """Raise unless ``cert`` shows its record is final (formats.md section 6).

    ``trust_set_for`` gives a principal's own trust set (None: the consortium's
    default; ``accord.quorum.member_trust_sets`` adds the member orgs'
    principals). Every receipt must name exactly the certificate's principals
    (members sign the principals they computed from the statement), so a
    certificate relabelled to name a principal with a weaker trust set, or
    leaving one out, does not verify. ``principals``, when given, are the
    record's principals as the verifier knows them (from the record itself);
    the certificate must cover exactly those. ``verified`` remembers batch
    signatures already checked (one Ed25519 verification per batch when many
    certificates share batches).

    Raises VerificationError when the originating org is not a member, the
    principals differ (from ``principals`` or in a receipt), or a trust set (or
    its claimed threshold) differs from the consortium's; UnknownKeyError for a
    receipt from an org outside the consortium (or a trust set naming one);
    VerificationError for a receipt of another record or log; BadSignatureError
    naming the member whose signature fails; BadProofError/RootMismatchError for
    a receipt not in its batch; and QuorumNotMetError naming the set and how
    many valid receipts of how many needed. Each member counts once per set,
    however many receipts it gave.
    """
    if cert.org not in consortium.orgs:
        raise VerificationError(
            f"the certificate's originating org {cert.org!r} is not a member of "
            f"consortium {consortium.id!r}",
            org=cert.org,
        )
    listed = {t.principal for t in cert.trust_sets}
    if principals is not None and listed != set(principals):
        raise VerificationError(
            f"the certificate covers principals {sorted(listed)}, "
            f"but the record is about {sorted(principals)}",
        )
    for entry in cert.trust_sets:
        p, claimed = entry.principal, entry.trust_set
        if entry.threshold != claimed.threshold:
            raise VerificationError(
                f"trust set of principal {p} claims threshold {entry.threshold}, "
                f"but a {claimed.describe()} needs {claimed.threshold}",
                principal=p,
            )
        expected = consortium.trust_set_for(p, trust_set_for)
        if claimed != expected:
            raise VerificationError(
                f"trust set of principal {p} in the certificate ({claimed.describe()}) "
                f"differs from the consortium's ({expected.describe()})",
                principal=p,
            )
    covered = frozenset(listed)
    for j, signed in enumerate(cert.receipts):
        _check_receipt(signed, f"receipt {j}", cert.record, consortium, covered, verified)
    signers = cert.signers
    for entry in cert.trust_sets:
        _require_quorum(entry.principal, entry.trust_set, signers)


def _require_quorum(principal: str, trust_set: TrustSet, signers: frozenset[str]) -> None:
    have = sorted(signers.intersection(trust_set.members))
    if len(have) < trust_set.threshold:
        missing = sorted(set(trust_set.members) - signers)
        raise QuorumNotMetError(
            f"trust set of principal {principal} ({trust_set.describe()}) has "
            f"{len(have)} valid receipt{'s' if len(have) != 1 else ''} of "
            f"{trust_set.threshold} needed (from: {', '.join(have) or 'none'}; "
            f"missing: {', '.join(missing)})",
            principal=principal,
            have=len(have),
            needed=trust_set.threshold,
        )


# -- assembly (the originating node) ----------------------------------------------


class CertificateBuilder:
    """The originating node's pure state for one record's certificate.

    Construct with the record hash, the originating org, and the trust set of
    every principal the record is about (``Consortium.trust_set_for``). Feed
    each receipt as it arrives with :meth:`add`; when :attr:`complete`, take
    :meth:`certificate`. Not thread-safe: the shell serializes calls.
    """

    __slots__ = ("_consortium", "_org", "_receipts", "_record", "_sets")

    def __init__(
        self,
        record: bytes,
        org: str,
        trust_sets: Mapping[str, TrustSet],
        consortium: Consortium,
    ) -> None:
        if not isinstance(record, bytes) or len(record) != HASH_SIZE:
            raise UsageError("record must be a 32-byte hash")
        consortium.member(org)
        if not trust_sets:
            raise UsageError("a record needs the trust set of at least one principal")
        for principal, ts in trust_sets.items():
            if not is_principal(principal) or not isinstance(ts, TrustSet):
                raise UsageError(f"bad trust set entry for principal {principal!r}")
            outside = [m for m in ts.members if m not in consortium.orgs]
            if outside:
                raise UnknownKeyError(
                    f"trust set of principal {principal} names non-members {outside}"
                )
        self._record = record
        self._org = org
        self._sets = dict(sorted(trust_sets.items()))
        self._consortium = consortium
        self._receipts: dict[str, SignedReceipt] = {}

    @property
    def record(self) -> bytes:
        return self._record

    @property
    def signers(self) -> frozenset[str]:
        return frozenset(self._receipts)

    def add(self, signed: SignedReceipt, *, verified: VerifiedBatches | None = None) -> bool:
        """Take one receipt; True if it was kept.

        Ignored (False): a receipt from an org in none of the trust sets (non-members
        of the consortium included) and a second receipt from an org already
        counted. Raised (the member answered wrongly; the shell may retry it):
        VerificationError for another record, log or set of principals,
        BadSignatureError or a proof error for a receipt that does not verify.
        ``verified`` remembers batch signatures already checked.
        """
        org = signed.receipt.org
        if org in self._receipts or not any(org in ts.members for ts in self._sets.values()):
            return False
        _check_receipt(
            signed, "receipt", self._record, self._consortium, frozenset(self._sets), verified
        )
        self._receipts[org] = signed
        return True

    def missing(self) -> dict[str, int]:
        """principal -> how many more receipts its set needs (only unmet sets)."""
        out = {}
        for principal, ts in self._sets.items():
            short = ts.threshold - ts.count(self._receipts)
            if short > 0:
                out[principal] = short
        return out

    def waiting_for(self) -> frozenset[str]:
        """Orgs whose receipt would still help: members of unmet sets not yet heard from."""
        unmet = self.missing()
        return frozenset(
            org
            for principal in unmet
            for org in self._sets[principal].members
            if org not in self._receipts
        )

    @property
    def complete(self) -> bool:
        """True when every trust set's threshold is met."""
        return not self.missing()

    def certificate(self) -> Certificate:
        """The certificate (receipts ordered by org); UsageError before :attr:`complete`."""
        if not self.complete:
            short = ", ".join(f"{p} needs {n} more" for p, n in self.missing().items())
            raise UsageError(f"the certificate is not complete: {short}")
        return Certificate(
            record=self._record,
            org=self._org,
            trust_sets=tuple(PrincipalTrustSet.of(p, ts) for p, ts in self._sets.items()),
            receipts=tuple(self._receipts[o] for o in sorted(self._receipts)),
        )
