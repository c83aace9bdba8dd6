"""Org principals and the consortium's trust-set lookup (formats.md sections 5-6)."""

from __future__ import annotations

import hashlib

import pytest

from accord.encoding import canonical
from accord.errors import UsageError
from accord.quorum import (
    BYZANTINE,
    CertificateBuilder,
    SignedReceipt,
    TrustSet,
    member_trust_sets,
    org_principal,
    sign_receipts,
    verify_certificate,
    whole_consortium,
)
from accord.quorum.names import is_principal
from tests.unit.quorum.fixtures import P1, RECORD, consortium, log_key, origin, receipt


def test_org_principal_is_the_documented_hash() -> None:
    expected = hashlib.sha256(
        b"accord/principal/v1\n" + canonical({"kind": "org", "id": "cornell"})
    ).hexdigest()[:32]
    assert org_principal("cornell") == expected
    assert is_principal(org_principal("cornell"))
    assert org_principal("cornell") != org_principal("nyu")


@pytest.mark.parametrize("bad", ["Cornell", "", "a b", 5])
def test_org_principal_refuses_bad_org_ids(bad: object) -> None:
    with pytest.raises(UsageError):
        org_principal(bad)  # type: ignore[arg-type]


def test_member_orgs_have_the_whole_consortium_as_trust_set() -> None:
    orgs = ("cornell", "nyu", "mskcc", "bellevue")
    c = consortium(orgs, trust=TrustSet(("cornell", "nyu")))  # default: two of the four
    lookup = member_trust_sets(c)
    everyone = whole_consortium(c)
    assert everyone == TrustSet(orgs)
    for org in orgs:
        assert lookup(org_principal(org)) == everyone
        assert c.trust_set_for(org_principal(org), lookup) == everyone
    assert lookup(org_principal("stanford")) is None  # not a member: default
    assert lookup(P1) is None
    assert c.trust_set_for(P1, lookup) == TrustSet(("cornell", "nyu"))


def test_own_trust_sets_pass_through_and_the_model_is_kept() -> None:
    orgs = ("cornell", "nyu", "mskcc", "bellevue")
    c = consortium(orgs, trust=TrustSet(orgs, BYZANTINE, 1))
    own = TrustSet(("cornell", "mskcc"))
    lookup = member_trust_sets(c, {P1: own}.get)
    assert lookup(P1) == own
    assert whole_consortium(c) == TrustSet(orgs, BYZANTINE, 1)
    assert lookup(org_principal("nyu")) == TrustSet(orgs, BYZANTINE, 1)


def test_a_source_registration_needs_the_whole_consortium_quorum() -> None:
    """With a default set of two of four, an org's registration still needs 3 of 4."""
    orgs = ("cornell", "nyu", "mskcc", "bellevue")
    c = consortium(orgs, trust=TrustSet(("cornell", "nyu")))
    p = org_principal("cornell")
    lookup = member_trust_sets(c)
    b = CertificateBuilder(RECORD, "cornell", {p: c.trust_set_for(p, lookup)}, c)

    def signed(org: str) -> SignedReceipt:
        r = receipt(org, principals=(p,))
        return sign_receipts([r], org, origin(org), 1, log_key(org))[0]

    b.add(signed("cornell"))
    b.add(signed("nyu"))
    assert not b.complete  # the default set's quorum would be met here
    b.add(signed("bellevue"))
    assert b.complete
    verify_certificate(b.certificate(), c, lookup)
