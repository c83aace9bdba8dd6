"""v3-ActReason hierarchy (healthcare.md section 4) and the code allow-lists."""

from __future__ import annotations

import pytest

from accord.errors import MalformedError
from accord.records.codes import (
    ACT_REASON_PARENT,
    DCM_CODES,
    OUTCOME_TO_ISSUE_SEVERITY,
    OUTCOME_TO_R4,
    OUTCOMES,
    R4_OUTCOME_TO_OUTCOME,
    ancestors,
    descendants,
    is_a,
    is_tpo,
)

IS_A = [
    ("BTG", "ETREAT", True),
    ("BTG", "TREAT", True),
    ("ETREAT", "TREAT", True),
    ("ERTREAT", "ETREAT", True),
    ("TREAT", "TREAT", True),
    ("TREAT", "ETREAT", False),
    ("ETREAT", "BTG", False),
    ("COC", "TREAT", True),
    ("COC", "ETREAT", False),
    ("HPAYMT", "TREAT", False),
    ("COVAUTH", "HPAYMT", True),
    ("COVAUTH", "TREAT", False),
    ("HTEST", "SYSDEV", True),
    ("HTEST", "HOPERAT", True),
    ("HTEST", "TREAT", False),
    ("MLTRAINING", "HOPERAT", True),
    ("CLINTRCH", "HRESCH", True),
    ("CLINTRCH", "TREAT", False),
    ("FAMRQT", "PATRQT", True),
    ("THREAT", "PUBHLTH", True),
    ("HMARKT", "HMARKT", True),
    ("HMARKT", "HOPERAT", False),
]


@pytest.mark.parametrize(("code", "ancestor", "expected"), IS_A)
def test_is_a(code: str, ancestor: str, expected: bool) -> None:
    assert is_a(code, ancestor) is expected


TPO = [
    ("TREAT", True),
    ("BTG", True),
    ("HPAYMT", True),
    ("PMTDS", True),
    ("HOPERAT", True),
    ("HTEST", True),
    ("HRESCH", False),
    ("CLINTRCH", False),
    ("PATRQT", False),
    ("PUBHLTH", False),
    ("DISASTER", False),
    ("HMARKT", False),
]


@pytest.mark.parametrize(("code", "expected"), TPO)
def test_is_tpo(code: str, expected: bool) -> None:
    assert is_tpo(code) is expected


def test_ancestors_and_descendants() -> None:
    assert ancestors("BTG") == ("BTG", "ETREAT", "TREAT")
    assert ancestors("HTEST") == ("HTEST", "SYSDEV", "HOPERAT")
    assert descendants("ETREAT") == {"ETREAT", "BTG", "ERTREAT"}
    assert descendants("TREAT") == {
        "TREAT",
        "CLINTRL",
        "COC",
        "ETREAT",
        "BTG",
        "ERTREAT",
        "POPHLTH",
        "TREATDS",
    }
    assert descendants("HMARKT") == {"HMARKT"}


def test_hierarchy_sizes_match_the_reference() -> None:
    # healthcare.md section 4: 7 roots; TREAT 8, HPAYMT 6, HOPERAT 25 (with SYSDEV -> HTEST),
    # HRESCH 6, PATRQT 4, PUBHLTH 3, HMARKT 1 codes including the root.
    roots = [c for c, p in ACT_REASON_PARENT.items() if p is None]
    assert sorted(roots) == sorted(
        ["TREAT", "HPAYMT", "HOPERAT", "HRESCH", "PATRQT", "PUBHLTH", "HMARKT"]
    )
    sizes = {r: len(descendants(r)) for r in roots}
    assert sizes == {
        "TREAT": 8,
        "HPAYMT": 6,
        "HOPERAT": 25,
        "HRESCH": 6,
        "PATRQT": 4,
        "PUBHLTH": 3,
        "HMARKT": 1,
    }
    assert len(ACT_REASON_PARENT) == sum(sizes.values())


@pytest.mark.parametrize(
    "call",
    [
        lambda: is_a("NOPE", "TREAT"),
        lambda: is_a("TREAT", "NOPE"),
        lambda: is_tpo("treat"),
        lambda: ancestors(""),
        lambda: descendants("X"),
    ],
    ids=["is_a-code", "is_a-ancestor", "is_tpo-lowercase", "ancestors-empty", "descendants"],
)
def test_unknown_codes_refused(call: object) -> None:
    with pytest.raises(MalformedError, match="unknown v3-ActReason"):
        call()  # type: ignore[operator]


def test_outcome_maps_are_inverse_and_complete() -> None:
    assert set(R4_OUTCOME_TO_OUTCOME.values()) == set(OUTCOMES)
    assert {R4_OUTCOME_TO_OUTCOME[v] for v in OUTCOME_TO_R4.values()} == set(OUTCOMES)
    assert set(OUTCOME_TO_ISSUE_SEVERITY) == set(OUTCOMES)
    assert R4_OUTCOME_TO_OUTCOME["12"] == "major-failure"


def test_dcm_codes_of_the_balp_patterns() -> None:
    assert DCM_CODES["110106"] == "Export"
    assert DCM_CODES["110107"] == "Import"
    assert DCM_CODES["110113"] == "Security Alert"
    assert DCM_CODES["110127"] == "Emergency Override Started"
    assert DCM_CODES["110152"] == "Destination Role ID"
    assert DCM_CODES["110153"] == "Source Role ID"
