"""Placement: principal names, trust sets and holders of a record (formats.md section 5)."""

from __future__ import annotations

import pytest

from accord.errors import MalformedError, UnknownKeyError, UsageError
from accord.quorum import BYZANTINE, TrustSet, member_trust_sets, org_principal
from accord.records import Principal, Statement, pseudonym
from accord.replication import Placement, placement_of, principal_names
from tests.unit.quorum.fixtures import consortium

KEY = bytes(range(32))
ORGS = ("cornell", "nyu", "mskcc", "bellevue")


def _pseudonym(kind: str, value: str) -> str:
    return pseudonym(KEY, kind, value)


def _access(patient: str = "MPI-1") -> Statement:
    return Statement(
        schema="ehr.access",
        id="a1",
        org="cornell",
        source="ehr",
        event_ts=1,
        principals=(Principal("patient", patient),),
        fields={
            "accessor": {"id": "Practitioner/x", "role": "physician"},
            "accessor_org": "cornell",
            "patient": patient,
            "record_ref": "ab" * 32,
            "action": "R",
            "purpose": "TREAT",
            "outcome": "success",
            "break_glass": False,
        },
    )


def _source() -> Statement:
    return Statement(
        schema="accord.source",
        id="s1",
        org="nyu",
        source="log",
        event_ts=1,
        principals=(Principal("org", "nyu"),),
        fields={"name": "ehr", "public_key": "A" * 43 + "=", "action": "register"},
    )


def test_principal_names() -> None:
    assert principal_names(_access(), _pseudonym) == (pseudonym(KEY, "patient", "MPI-1"),)
    assert principal_names(_source(), _pseudonym) == (org_principal("nyu"),)


def test_a_patient_record_goes_to_the_default_set() -> None:
    c = consortium(ORGS, trust=TrustSet(("cornell", "nyu", "mskcc")))
    p = placement_of(_access(), c, _pseudonym, member_trust_sets(c))
    assert p.principals == (pseudonym(KEY, "patient", "MPI-1"),)
    assert p.holders == ("cornell", "mskcc", "nyu")
    assert not p.satisfied_by({"cornell"})
    assert p.satisfied_by({"cornell", "mskcc"})
    assert not p.satisfied_by({"cornell", "bellevue"})  # bellevue is not in the set


def test_a_source_registration_goes_to_every_member() -> None:
    c = consortium(ORGS, trust=TrustSet(("cornell", "nyu")))
    p = placement_of(_source(), c, _pseudonym, member_trust_sets(c))
    assert p.holders == tuple(sorted(ORGS))
    assert p.sets == {org_principal("nyu"): TrustSet(ORGS)}
    assert not p.satisfied_by({"cornell", "nyu"})
    assert p.satisfied_by({"cornell", "nyu", "bellevue"})


def test_a_single_member_consortium_is_satisfied_alone() -> None:
    c = consortium(("cornell",), k=0)
    p = placement_of(_access(), c, _pseudonym, member_trust_sets(c))
    assert p.holders == ("cornell",)
    assert p.satisfied_by({"cornell"})


def test_own_trust_sets_and_non_members() -> None:
    c = consortium(ORGS)
    me = pseudonym(KEY, "patient", "MPI-1")
    own = TrustSet(("bellevue", "cornell", "mskcc", "nyu"), BYZANTINE, 1)
    p = placement_of(_access(), c, _pseudonym, member_trust_sets(c, {me: own}.get))
    assert p.sets == {me: own}
    with pytest.raises(UnknownKeyError):
        placement_of(
            _access(), c, _pseudonym, member_trust_sets(c, {me: TrustSet(("stanford",))}.get)
        )


def test_format_and_parse_are_inverses() -> None:
    p = Placement.of(
        {
            "11" * 16: TrustSet(("a", "b", "c")),
            "22" * 16: TrustSet(("a", "b", "c", "d"), BYZANTINE, 1),
        }
    )
    assert Placement.parse(p.format()) == p
    assert p.principals == ("11" * 16, "22" * 16)


@pytest.mark.parametrize(
    ("mutation", "text"),
    [
        ("not JSON", "{"),
        ("not an object", "[]"),
        ("empty", "{}"),
        ("missing model", '{"' + "11" * 16 + '": {"members": ["a"], "f": 0}}'),
        ("bad model", '{"' + "11" * 16 + '": {"members": ["a"], "model": "raft", "f": 0}}'),
        ("bad member", '{"' + "11" * 16 + '": {"members": ["A"], "model": "majority", "f": 0}}'),
    ],
)
def test_bad_stored_placements_are_refused(mutation: str, text: str) -> None:
    with pytest.raises(MalformedError):
        Placement.parse(text)


def test_placement_preconditions() -> None:
    with pytest.raises(UsageError):
        Placement(())
    ts = TrustSet(("a",))
    with pytest.raises(UsageError):
        Placement((("22" * 16, ts), ("11" * 16, ts)))
