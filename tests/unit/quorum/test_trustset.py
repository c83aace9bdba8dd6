"""Trust-set thresholds against reference/consortium.md section 2, and their refusals."""

from __future__ import annotations

import pytest

from accord.errors import UnknownKeyError, UsageError
from accord.quorum import BYZANTINE, MAJORITY, TrustSet, quorum_threshold, resolve_trust_set

ORGS = ("a", "b", "c", "d", "e", "f", "g")

# n, f = floor((n-1)/3), Byzantine-safe q, crash-only majority q: the table of
# reference/consortium.md section 2 (n = 3..7), extended by the formulas to n = 1, 2.
TABLE = [
    (1, 0, 1, 1),
    (2, 0, 2, 2),
    (3, 0, 2, 2),
    (4, 1, 3, 3),
    (5, 1, 4, 3),
    (6, 1, 4, 4),
    (7, 2, 5, 4),
]

# "writes complete despite" in the same table: how many members may be down.
TOLERATED = {3: (1, 1), 4: (1, 1), 5: (1, 2), 6: (2, 2), 7: (2, 3)}


@pytest.mark.parametrize(("n", "f", "q_byz", "q_maj"), TABLE, ids=[f"n={r[0]}" for r in TABLE])
def test_thresholds_match_the_reference_table(n: int, f: int, q_byz: int, q_maj: int) -> None:
    members = ORGS[:n]
    assert TrustSet(members).threshold == q_maj
    assert TrustSet(members, MAJORITY).threshold == quorum_threshold(n, MAJORITY) == q_maj
    assert TrustSet(members, BYZANTINE, f).threshold == quorum_threshold(n, BYZANTINE, f) == q_byz
    if n in TOLERATED:
        assert (n - q_byz, n - q_maj) == TOLERATED[n]


@pytest.mark.parametrize("n", range(1, 8))
def test_byzantine_quorums_share_f_plus_one_members(n: int) -> None:
    """The reason for the formula: any two quorums overlap in at least f+1 orgs."""
    for f in range((n - 1) // 3 + 1):
        q = quorum_threshold(n, BYZANTINE, f)
        assert 2 * q - n >= f + 1
        assert q <= n - f  # still live with f silent members


@pytest.mark.parametrize("n", range(1, 8))
def test_two_majorities_always_intersect(n: int) -> None:
    assert 2 * quorum_threshold(n, MAJORITY) > n


REFUSED = [
    ("no members", (), MAJORITY, 0, "at least one org"),
    ("majority with f", ("a", "b", "c"), MAJORITY, 1, "f must be 0"),
    ("byzantine n < 3f+1", ("a", "b", "c"), BYZANTINE, 1, r"n >= 3f\+1"),
    ("byzantine f=2 of 6", ORGS[:6], BYZANTINE, 2, "at least 7 orgs"),
    ("negative f", ("a",), BYZANTINE, -1, "non-negative"),
    ("f a bool", ("a",), BYZANTINE, True, "non-negative"),
    ("unknown model", ("a",), "paxos", 0, "unknown fault model"),
    ("duplicate org", ("a", "b", "a"), MAJORITY, 0, "names org 'a' twice"),
    ("bad org id", ("a", "B"), MAJORITY, 0, "not an org id"),
    ("org id not a string", ("a", 3), MAJORITY, 0, "not an org id"),
]


@pytest.mark.parametrize(
    ("mutation", "members", "model", "f", "message"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_invalid_trust_sets_are_refused(
    mutation: str, members: tuple[str, ...], model: str, f: int, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        TrustSet(members, model, f)


def test_members_are_kept_sorted_and_equality_ignores_order() -> None:
    ts = TrustSet(("nyu", "cornell", "mskcc"))
    assert ts.members == ("cornell", "mskcc", "nyu")
    assert ts == TrustSet(("mskcc", "nyu", "cornell"))
    assert ts != TrustSet(("mskcc", "nyu", "cornell"), BYZANTINE, 0)


def test_is_met_counts_distinct_members_only() -> None:
    ts = TrustSet(("a", "b", "c", "d", "e"))  # majority: 3
    assert not ts.is_met(["a", "b"])
    assert not ts.is_met(["a", "a", "b", "b"])  # duplicates count once
    assert not ts.is_met(["a", "b", "x", "y"])  # non-members do not count
    assert ts.is_met(["a", "b", "e"])
    assert ts.count(["a", "a", "x", "e"]) == 2


def test_to_json_and_describe() -> None:
    ts = TrustSet(("c", "a", "b", "d"), BYZANTINE, 1)
    assert ts.to_json() == {
        "members": ["a", "b", "c", "d"],
        "model": "byzantine",
        "f": 1,
        "threshold": 3,
    }
    assert ts.describe() == "byzantine f=1 of [a, b, c, d], threshold 3"


P = "ab" * 16
DEFAULT = TrustSet(("a", "b", "c"))
OWN = TrustSet(("a", "b", "c", "d"), BYZANTINE, 1)


def test_lookup_falls_back_to_the_default() -> None:
    assert resolve_trust_set(P, None, DEFAULT, ORGS) == DEFAULT
    assert resolve_trust_set(P, lambda p: None, DEFAULT, ORGS) == DEFAULT
    assert resolve_trust_set(P, lambda p: OWN if p == P else None, DEFAULT, ORGS) == OWN
    assert resolve_trust_set("cd" * 16, lambda p: OWN if p == P else None, DEFAULT, ORGS) == DEFAULT


def test_lookup_naming_a_non_member_is_refused() -> None:
    with pytest.raises(UnknownKeyError, match="names d, not members"):
        resolve_trust_set(P, lambda p: OWN, DEFAULT, ("a", "b", "c"))


@pytest.mark.parametrize("principal", ["", "AB" * 16, "ab" * 15, "ab" * 17, "patient-1"])
def test_principals_must_be_pseudonyms(principal: str) -> None:
    with pytest.raises(UsageError, match="pseudonym"):
        resolve_trust_set(principal, None, DEFAULT, ORGS)


def test_a_lookup_returning_something_else_is_refused() -> None:
    with pytest.raises(UsageError, match="returned dict"):
        resolve_trust_set(P, lambda p: {"members": ["a"]}, DEFAULT, ORGS)  # type: ignore[arg-type,return-value]
