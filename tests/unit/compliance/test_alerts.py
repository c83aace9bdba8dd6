"""Alerts: stable ids over rule and evidence, strict JSON form."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from accord.compliance import Alert, alert_id
from accord.compliance.alerts import make_alert
from accord.encoding import canonical, sha256
from accord.errors import MalformedError

H1, H2 = b"\x01" * 32, b"\x02" * 32


def _alert(**kw: Any) -> Alert:
    args: dict[str, Any] = {
        "patient": "ab" * 16,
        "accessor": "dr-a",
        "org": "nyu",
        "time": 1_700_000_000_000,
        "explanation": "Dr A read a record",
        "evidence": (H1, H2),
        "justify": "a care relationship",
    }
    args.update(kw)
    return make_alert("vip", "medium", **args)


def test_id_is_the_domain_hash_of_rule_and_evidence() -> None:
    a = _alert()
    want = sha256(
        b"accord/alert/v1\n" + canonical({"rule": "vip", "evidence": [H1.hex(), H2.hex()]})
    )
    assert a.id == want == alert_id("vip", (H1, H2))
    assert a.trigger == H1
    assert a.id_hex == want.hex()
    assert _alert(explanation="other words").id == a.id  # the text is not part of the id
    assert alert_id("vip", (H2, H1)) != a.id
    assert alert_id("coworker", (H1, H2)) != a.id


def test_a_forged_id_or_evidence_that_is_not_a_tuple_is_refused() -> None:
    a = _alert()
    alert_id("vip", (H1, H2))  # remembered: the check must still compare, not trust
    with pytest.raises(MalformedError, match="id is not the hash"):
        Alert(b"\x00" * 32, *[getattr(a, f) for f in Alert.__slots__[1:]])
    fields = {f: getattr(a, f) for f in Alert.__slots__}
    with pytest.raises(MalformedError, match="evidence"):
        Alert(**{**fields, "evidence": [H1, H2]})


def test_make_alert_dedupes_evidence_and_cuts_long_text() -> None:
    a = _alert(evidence=(H1, H2, H1), explanation="x" * 2000)
    assert a.evidence == (H1, H2)
    assert len(a.explanation) == 1024
    assert a.explanation.endswith("\u2026")


def test_json_round_trip() -> None:
    for a in (_alert(), _alert(accessor=None)):
        assert Alert.from_json(a.to_json()) == a
        assert Alert.from_json(copy.deepcopy(a.to_json())).to_json() == a.to_json()


def _mutated(path: str, value: Any) -> dict[str, Any]:
    out = _alert().to_json()
    if value is KeyError:
        del out[path]
    else:
        out[path] = value
    return out


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("rule-changed", _mutated("rule", "coworker"), "id is not the hash"),
        ("evidence-reordered", _mutated("evidence", [H2.hex(), H1.hex()]), "id is not the hash"),
        ("evidence-empty", _mutated("evidence", []), "evidence"),
        ("evidence-not-hex", _mutated("evidence", ["zz" * 32]), "evidence[0]"),
        ("id-short", _mutated("id", "ab"), "id: must be 64"),
        ("missing-justify", _mutated("justify", KeyError), "justify: is required"),
        ("extra-key", {**_alert().to_json(), "score": 3}, "score: unknown field"),
        ("time-string", _mutated("time", "now"), "time: must be an integer"),
        ("time-negative", _mutated("time", -1), "time: must be in"),
        ("accessor-number", _mutated("accessor", 5), "accessor: must be a string"),
        ("explanation-too-long", _mutated("explanation", "x" * 1025), "explanation"),
        ("not-an-object", [], "must be an object"),
    ],
)
def test_bad_alert_json(name: str, value: Any, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        Alert.from_json(value)
    assert info.value.what == "alert", name
    assert message in info.value.message, info.value.message


def test_constructed_alert_is_checked() -> None:
    a = _alert()
    with pytest.raises(MalformedError):
        Alert(
            b"\0" * 32,
            a.rule,
            a.severity,
            a.patient,
            a.accessor,
            a.org,
            a.time,
            a.explanation,
            a.evidence,
            a.justify,
        )
    with pytest.raises(MalformedError):
        _alert(evidence=())
    with pytest.raises(MalformedError):
        _alert(evidence=(b"short",))
