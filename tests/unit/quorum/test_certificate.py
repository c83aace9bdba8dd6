"""Certificates: the builder, verify_certificate's happy path and every failure, strict JSON."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from accord.encoding import canonical
from accord.errors import (
    BadSignatureError,
    MalformedError,
    QuorumNotMetError,
    RootMismatchError,
    TooLargeError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.quorum import (
    BYZANTINE,
    Certificate,
    CertificateBuilder,
    Consortium,
    PrincipalTrustSet,
    TrustSet,
    VerifiedBatches,
    sign_receipts,
    verify_certificate,
)
from accord.quorum.vkeys import SIGTYPE_ED25519, vkey_for
from tests.unit.quorum.fixtures import (
    P1,
    P2,
    RECORD,
    builder_for,
    consortium,
    log_key,
    origin,
    receipt,
    signed,
)

C = consortium()  # cornell, nyu, mskcc; default: majority of the three (2)
OTHER_RECORD = bytes(32)


def _cert(*orgs: str, trust: TrustSet | None = None, principal: str = P1) -> Certificate:
    """A certificate with exactly the given receipts (not necessarily a valid one)."""
    ts = trust or C.trust
    return Certificate(
        RECORD, "cornell", (PrincipalTrustSet.of(principal, ts),), tuple(signed(o) for o in orgs)
    )


# -- the builder --------------------------------------------------------------------


def test_builder_completes_at_the_threshold() -> None:
    b = builder_for(("cornell", "nyu", "mskcc"), C)
    assert not b.complete
    assert b.missing() == {P1: 2}
    assert b.waiting_for() == {"cornell", "nyu", "mskcc"}
    assert b.add(signed("cornell"))
    assert b.missing() == {P1: 1}
    assert b.waiting_for() == {"nyu", "mskcc"}
    with pytest.raises(UsageError, match="not complete"):
        b.certificate()
    assert b.add(signed("mskcc"))
    assert b.complete
    assert b.waiting_for() == frozenset()
    cert = b.certificate()
    assert [r.receipt.org for r in cert.receipts] == ["cornell", "mskcc"]
    verify_certificate(cert, C)


def test_builder_ignores_duplicates_and_non_members() -> None:
    outsider_key = log_key("stanford")
    outsider = sign_receipts(
        [dataclasses.replace(receipt("cornell"), org="stanford", origin=origin("stanford"))],
        "stanford",
        origin("stanford"),
        1,
        outsider_key,
    )[0]
    b = builder_for(("cornell", "nyu"), C)  # a set of two: both needed
    assert b.add(signed("cornell"))
    assert not b.add(signed("cornell"))  # duplicate
    assert not b.add(signed("cornell", ts=99))  # another batch, same org: still a duplicate
    assert not b.add(outsider)  # not in the consortium
    assert not b.add(signed("mskcc"))  # a member, but not of this record's set
    assert b.signers == {"cornell"}
    assert not b.complete
    assert b.add(signed("nyu"))
    assert b.complete
    assert b.certificate().signers == {"cornell", "nyu"}


def test_builder_refuses_receipts_that_do_not_verify() -> None:
    b = builder_for(("cornell", "nyu", "mskcc"), C)
    with pytest.raises(VerificationError, match="is for record"):
        b.add(signed("nyu", record=OTHER_RECORD))
    forged = dataclasses.replace(signed("nyu"), sig=signed("mskcc").sig)
    with pytest.raises(BadSignatureError, match="nyu's log key"):
        b.add(forged)
    assert b.signers == frozenset()  # nothing wrong was kept
    assert b.add(signed("nyu"))


def test_builder_needs_every_principals_quorum() -> None:
    """A disclosure about two patients with different trust sets needs both quorums."""
    orgs = ("cornell", "nyu", "mskcc", "bellevue", "mount-sinai")
    c5 = consortium(orgs)
    sets = {
        P1: TrustSet(("cornell", "nyu", "mskcc")),  # 2 of 3
        P2: TrustSet(("cornell", "bellevue", "mount-sinai", "nyu"), BYZANTINE, 1),  # 3 of 4
    }
    b = CertificateBuilder(RECORD, "cornell", sets, c5)
    assert b.missing() == {P1: 2, P2: 3}
    both = (P1, P2)
    b.add(signed("cornell", principals=both))
    b.add(signed("nyu", principals=both))
    assert b.missing() == {P2: 1}  # P1 is met by cornell and nyu
    assert not b.complete
    assert b.waiting_for() == {"bellevue", "mount-sinai"}  # mskcc would not help
    b.add(signed("mskcc", principals=both))
    assert not b.complete
    b.add(signed("mount-sinai", principals=both))
    assert b.complete
    cert = b.certificate()
    assert [t.principal for t in cert.trust_sets] == [P1, P2]
    verify_certificate(cert, c5, lambda p: sets[p])
    with pytest.raises(VerificationError, match="differs from the consortium's"):
        verify_certificate(cert, c5)  # with the default sets, P2's entry is wrong


@pytest.mark.parametrize(
    ("mutation", "principals"), [("another principal", (P2,)), ("one more", (P1, P2))]
)
def test_builder_refuses_receipts_naming_other_principals(
    mutation: str, principals: tuple[str, ...]
) -> None:
    b = builder_for(("cornell", "nyu", "mskcc"), C)
    with pytest.raises(VerificationError, match="names principals"):
        b.add(signed("nyu", principals=principals))
    assert b.signers == frozenset()


def test_builder_with_a_memo_verifies_each_batch_once() -> None:
    memo = VerifiedBatches()
    b = builder_for(("cornell", "nyu", "mskcc"), C)
    assert b.add(signed("nyu"), verified=memo)
    assert len(memo) == 1
    forged = dataclasses.replace(signed("cornell"), sig=signed("mskcc").sig)
    with pytest.raises(BadSignatureError):
        b.add(forged, verified=memo)
    assert b.add(signed("cornell"), verified=memo)
    assert len(memo) == 2


def test_builder_preconditions() -> None:
    with pytest.raises(UsageError):
        CertificateBuilder(b"short", "cornell", {P1: C.trust}, C)
    with pytest.raises(UsageError, match="at least one principal"):
        CertificateBuilder(RECORD, "cornell", {}, C)
    with pytest.raises(UnknownKeyError):
        CertificateBuilder(RECORD, "cornell", {P1: TrustSet(("cornell", "stanford"))}, C)
    with pytest.raises(UsageError):
        CertificateBuilder(RECORD, "cornell", {"patient-1": C.trust}, C)


# -- verify_certificate ---------------------------------------------------------------


def test_valid_certificates_verify() -> None:
    verify_certificate(_cert("cornell", "nyu"), C)
    verify_certificate(_cert("nyu", "mskcc", "cornell"), C)
    verify_certificate(_cert("cornell", "nyu"), C, principals=[P1])
    verify_certificate(_cert("cornell", "nyu"), C, lambda p: None)


def test_missing_receipt_below_threshold() -> None:
    with pytest.raises(QuorumNotMetError) as info:
        verify_certificate(_cert("nyu"), C)
    assert info.value.message == (
        f"trust set of principal {P1} (majority of [cornell, mskcc, nyu], threshold 2) "
        "has 1 valid receipt of 2 needed (from: nyu; missing: cornell, mskcc)"
    )
    assert info.value.details == {"principal": P1, "have": 1, "needed": 2}
    with pytest.raises(QuorumNotMetError, match="has 0 valid receipts of 2 needed"):
        verify_certificate(_cert(), C)


def test_duplicated_signer_counts_once() -> None:
    cert = dataclasses.replace(
        _cert("nyu"), receipts=(signed("nyu"), signed("nyu", ts=42), signed("nyu"))
    )
    with pytest.raises(QuorumNotMetError, match="1 valid receipt of 2 needed"):
        verify_certificate(cert, C)


def test_receipt_for_another_record() -> None:
    cert = dataclasses.replace(
        _cert("cornell"), receipts=(signed("cornell"), signed("nyu", record=OTHER_RECORD))
    )
    with pytest.raises(VerificationError, match="receipt 1 from nyu is for record 0000"):
        verify_certificate(cert, C)


def test_receipt_from_a_non_member() -> None:
    stanford = sign_receipts(
        [dataclasses.replace(receipt("cornell"), org="stanford", origin=origin("stanford"))],
        "stanford",
        origin("stanford"),
        1,
        log_key("stanford"),
    )[0]
    cert = dataclasses.replace(
        _cert("cornell", "nyu"), receipts=(*_cert("cornell", "nyu").receipts, stanford)
    )
    with pytest.raises(UnknownKeyError, match="receipt 2 is signed by 'stanford'"):
        verify_certificate(cert, C)


def test_receipt_from_a_member_outside_the_set_does_not_count() -> None:
    two = TrustSet(("cornell", "nyu"))
    cert = _cert("cornell", "mskcc", trust=two)
    with pytest.raises(QuorumNotMetError, match="1 valid receipt of 2 needed"):
        verify_certificate(cert, C, lambda p: two)


def test_forged_signature() -> None:
    good = signed("nyu")
    forged = dataclasses.replace(good, sig=log_key("cornell").sign(b"anything"))
    cert = dataclasses.replace(_cert("cornell"), receipts=(signed("cornell"), forged))
    with pytest.raises(BadSignatureError) as info:
        verify_certificate(cert, C)
    assert "receipt 1 from nyu" in info.value.message
    assert info.value.details["org"] == "nyu"


def test_receipt_signed_by_another_members_key() -> None:
    """cornell signs a batch claiming to be nyu's: it must not count for nyu."""
    r = receipt("nyu")
    fake = sign_receipts([r], "nyu", origin("nyu"), 1, log_key("cornell"))[0]
    cert = dataclasses.replace(_cert("cornell"), receipts=(signed("cornell"), fake))
    with pytest.raises(BadSignatureError, match="nyu's log key"):
        verify_certificate(cert, C)


def test_wrong_key_in_consortium() -> None:
    members = list(C.members)
    i = C.orgs.index("nyu")
    members[i] = dataclasses.replace(
        members[i],
        log_key=vkey_for(origin("nyu"), SIGTYPE_ED25519, log_key("impostor").public_key()),
    )
    wrong = Consortium(C.id, tuple(members), C.witness_k, C.trust)
    verify_certificate(_cert("cornell", "mskcc"), wrong)  # nyu not involved: fine
    with pytest.raises(BadSignatureError, match="receipt 1 from nyu"):
        verify_certificate(_cert("cornell", "nyu"), wrong)


def test_receipt_from_another_log_of_the_member() -> None:
    r = dataclasses.replace(receipt("nyu"), origin="accord.example/other/nyu")
    other_log = sign_receipts([r], "nyu", r.origin, 1, log_key("nyu"))[0]
    cert = dataclasses.replace(_cert("cornell"), receipts=(signed("cornell"), other_log))
    with pytest.raises(VerificationError, match=re.escape("names log 'accord.example/other/nyu'")):
        verify_certificate(cert, C)


def test_receipt_not_in_its_batch() -> None:
    bad = dataclasses.replace(signed("nyu"), receipt=dataclasses.replace(receipt("nyu"), index=8))
    cert = dataclasses.replace(_cert("cornell"), receipts=(signed("cornell"), bad))
    with pytest.raises(RootMismatchError, match="receipt 1 from nyu is not in its signed batch"):
        verify_certificate(cert, C)


def test_tampered_trust_set_claiming_a_lower_threshold() -> None:
    cert = _cert("nyu")
    entry = cert.trust_sets[0]
    lowered = dataclasses.replace(cert, trust_sets=(dataclasses.replace(entry, threshold=1),))
    with pytest.raises(VerificationError, match="claims threshold 1, but a majority of"):
        verify_certificate(lowered, C)


@pytest.mark.parametrize(
    ("mutation", "trust"),
    [
        ("fewer members", TrustSet(("nyu",))),
        ("other members", TrustSet(("cornell", "nyu"))),
        ("byzantine instead of majority", TrustSet(("cornell", "mskcc", "nyu"), BYZANTINE, 0)),
    ],
)
def test_tampered_trust_set_differing_from_the_consortium(mutation: str, trust: TrustSet) -> None:
    cert = _cert("nyu", trust=trust)
    with pytest.raises(VerificationError, match="differs from the consortium's"):
        verify_certificate(cert, C)


def test_principals_must_match_when_known() -> None:
    with pytest.raises(VerificationError, match="but the record is about"):
        verify_certificate(_cert("cornell", "nyu"), C, principals=[P1, P2])
    with pytest.raises(VerificationError, match="but the record is about"):
        verify_certificate(_cert("cornell", "nyu"), C, principals=[P2])


def test_substituted_principal_is_caught_by_the_signed_principals() -> None:
    """Receipts sign the principals (formats.md section 6): a certificate for P1, whose
    own set needs both cornell and nyu, relabelled as P2 (default set, 2 of 3), fails
    even when the verifier does not know the record's principals."""
    own = {P1: TrustSet(("cornell", "nyu"))}
    lookup = own.get
    relabelled = _cert("cornell", "mskcc", principal=P2)
    with pytest.raises(VerificationError, match=f"names principals \\['{P1}'\\]"):
        verify_certificate(relabelled, C, lookup)
    with pytest.raises(VerificationError, match="but the record is about"):
        verify_certificate(relabelled, C, lookup, principals=[P1])
    honest = _cert("cornell", "mskcc", trust=own[P1])
    with pytest.raises(QuorumNotMetError, match="1 valid receipt of 2 needed"):
        verify_certificate(honest, C, lookup)


def test_a_principal_left_out_of_the_certificate_is_caught() -> None:
    """A record about P1 and P2 certified as if it were about P1 alone (P2's set is
    stricter): the receipts name both, so the certificate does not verify."""
    both = (P1, P2)
    cert = Certificate(
        RECORD,
        "cornell",
        (PrincipalTrustSet.of(P1, C.trust),),
        (signed("cornell", principals=both), signed("nyu", principals=both)),
    )
    with pytest.raises(VerificationError, match="but the certificate covers"):
        verify_certificate(cert, C)
    full = dataclasses.replace(
        cert, trust_sets=(PrincipalTrustSet.of(P1, C.trust), PrincipalTrustSet.of(P2, C.trust))
    )
    verify_certificate(full, C)


def test_one_receipt_naming_other_principals_spoils_the_certificate() -> None:
    cert = dataclasses.replace(
        _cert("cornell", "nyu"), receipts=(signed("cornell"), signed("nyu", principals=(P2,)))
    )
    with pytest.raises(VerificationError, match="receipt 1 from nyu names principals"):
        verify_certificate(cert, C)


def test_verify_certificate_with_a_memo_still_refuses_forgeries() -> None:
    memo = VerifiedBatches()
    verify_certificate(_cert("cornell", "nyu"), C, verified=memo)
    assert len(memo) == 2
    verify_certificate(_cert("cornell", "nyu"), C, verified=memo)
    assert len(memo) == 2
    forged = dataclasses.replace(signed("nyu"), sig=signed("mskcc").sig)
    cert = dataclasses.replace(_cert("cornell"), receipts=(signed("cornell"), forged))
    with pytest.raises(BadSignatureError):
        verify_certificate(cert, C, verified=memo)


def test_originating_org_must_be_a_member() -> None:
    cert = dataclasses.replace(_cert("cornell", "nyu"), org="stanford")
    with pytest.raises(VerificationError, match="originating org 'stanford'"):
        verify_certificate(cert, C)


def test_trust_set_naming_a_non_member_is_refused() -> None:
    with pytest.raises(UnknownKeyError, match="not members of the consortium"):
        verify_certificate(_cert("cornell", "nyu"), C, lambda p: TrustSet(("nyu", "stanford")))


# -- JSON ----------------------------------------------------------------------------


def test_json_round_trip_and_shape() -> None:
    cert = _cert("cornell", "nyu")
    assert Certificate.parse(cert.format()) == cert
    assert Certificate.parse(cert.format().encode()) == cert
    assert Certificate.from_json(cert.to_json()) == cert
    d = cert.to_json()
    assert list(d) == ["v", "record", "org", "trust_sets", "receipts"]
    assert d["trust_sets"] == [
        {
            "principal": P1,
            "members": ["cornell", "mskcc", "nyu"],
            "model": "majority",
            "f": 0,
            "threshold": 2,
        }
    ]
    assert set(d["receipts"][0]) == {"receipt", "batch", "sig", "position", "proof"}
    assert cert.format() == canonical(d).decode()


def _cert_json() -> dict[str, Any]:
    return _cert("cornell", "nyu").to_json()


def _with(**changes: Any) -> dict[str, Any]:
    return {**_cert_json(), **changes}


def _set_with(**changes: Any) -> dict[str, Any]:
    d = _cert_json()
    d["trust_sets"] = [{**d["trust_sets"][0], **changes}]
    return d


MALFORMED: list[tuple[str, object]] = [
    ("not an object", [1]),
    ("v 2", _with(v=2)),
    ("v a string", _with(v="1")),
    ("extra key", _with(extra=True)),
    ("missing receipts", {k: v for k, v in _cert_json().items() if k != "receipts"}),
    ("record short", _with(record="abcd")),
    ("record upper case", _with(record=RECORD.hex().upper())),
    ("record a number", _with(record=1)),
    ("org bad", _with(org="Cornell")),
    ("no trust sets", _with(trust_sets=[])),
    ("trust sets not a list", _with(trust_sets={})),
    ("same principal twice", _with(trust_sets=_cert_json()["trust_sets"] * 2)),
    ("principal not hex", _set_with(principal="patient-0001")),
    ("members unsorted", _set_with(members=["nyu", "cornell", "mskcc"])),
    ("members repeated", _set_with(members=["cornell", "cornell", "nyu"])),
    ("members not strings", _set_with(members=[1, 2])),
    ("model unknown", _set_with(model="raft")),
    ("f with majority", _set_with(f=1)),
    ("byzantine n < 3f+1", _set_with(model="byzantine", f=1)),
    ("threshold zero", _set_with(threshold=0)),
    ("threshold a string", _set_with(threshold="2")),
    ("trust set extra key", _set_with(epoch=3)),
    ("receipts not a list", _with(receipts={})),
    ("receipt not an object", _with(receipts=[1])),
    ("receipt with bad sig", _with(receipts=[{**_cert_json()["receipts"][0], "sig": "xx"}])),
    ("too many receipts", _with(receipts=_cert_json()["receipts"] * 600)),
]


@pytest.mark.parametrize(("mutation", "data"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_certificates_are_refused(mutation: str, data: object) -> None:
    with pytest.raises(MalformedError) as info:
        Certificate.from_json(data)
    assert info.value.what == "certificate"


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"v": 1, "v": 1}', "NaN", '{"v": 1e400}', b"\xff\xfe"],
)
def test_certificate_text_that_does_not_parse(text: str | bytes) -> None:
    with pytest.raises(MalformedError):
        Certificate.parse(text)


def test_oversized_certificate_text() -> None:
    with pytest.raises(TooLargeError):
        Certificate.parse(" " * (5 << 20))
