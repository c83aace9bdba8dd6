"""The replication request and answer bodies: round trips, strict parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accord.encoding import parse_json
from accord.errors import MalformedError, NotFoundError, TooLargeError
from accord.quorum import sign_batch
from accord.replication import FinalAnswer, Refused, ReplicateAnswer
from accord.replication.wire import MAX_RECORDS, certificates_body, items_of, records_body
from tests.unit.quorum.fixtures import RECORD, log_key, origin, receipt

BATCH = sign_batch(
    [receipt("nyu"), receipt("nyu", bytes(32))], "nyu", origin("nyu"), 5, log_key("nyu")
)
REFUSED = (
    Refused.of(0, None, MalformedError("statement", "bad")),
    Refused.of(2, RECORD, NotFoundError("nope")),
)


def test_answers_round_trip() -> None:
    for answer in (
        ReplicateAnswer(BATCH, REFUSED),
        ReplicateAnswer(None, ()),
        ReplicateAnswer(None, REFUSED),
    ):
        assert ReplicateAnswer.from_json(parse_json(answer.format())) == answer
    final = FinalAnswer(3, REFUSED)
    assert FinalAnswer.from_json(json.loads(json.dumps(final.to_json()))) == final
    assert REFUSED[1].to_json() == {
        "index": 2,
        "record": RECORD.hex(),
        "error": {"code": "not_found", "message": "nope"},
    }


def _answer(**changes: Any) -> dict[str, Any]:
    return {**ReplicateAnswer(BATCH, REFUSED).to_json(), **changes}


def _refused(**changes: Any) -> dict[str, Any]:
    return _answer(refused=[{**REFUSED[1].to_json(), **changes}])


MALFORMED: list[tuple[str, object]] = [
    ("not an object", []),
    ("extra key", _answer(extra=1)),
    ("missing refused", {"receipts": None}),
    ("refused not a list", _answer(refused={})),
    ("receipts not a batch", _answer(receipts={"batch": 1})),
    ("refusal index negative", _refused(index=-1)),
    ("refusal index a string", _refused(index="1")),
    ("refusal record short", _refused(record="ab")),
    ("refusal record a number", _refused(record=5)),
    ("refusal error not an object", _refused(error="x")),
    ("refusal error extra key", _refused(error={"code": "x", "message": "y", "z": 1})),
    ("refusal error code a number", _refused(error={"code": 1, "message": "y"})),
]


@pytest.mark.parametrize(("mutation", "value"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_answers_are_refused(mutation: str, value: object) -> None:
    with pytest.raises(MalformedError) as info:
        ReplicateAnswer.from_json(value)
    assert info.value.what == "replication answer"


@pytest.mark.parametrize(
    "value",
    [[], {"stored": -1, "refused": []}, {"stored": 1}, {"stored": 1, "refused": [1]}],
)
def test_malformed_final_answers_are_refused(value: object) -> None:
    with pytest.raises(MalformedError):
        FinalAnswer.from_json(value)


def test_request_bodies() -> None:
    assert parse_json(records_body([b'{"a":1}', b"[2]"])) == {"records": [{"a": 1}, [2]]}
    assert parse_json(certificates_body(['{"c":1}'])) == {"certificates": [{"c": 1}]}
    assert items_of({"records": [1, 2]}, "records") == [1, 2]


@pytest.mark.parametrize(
    ("mutation", "value", "error"),
    [
        ("not an object", [1], MalformedError),
        ("other key", {"certificates": [1]}, MalformedError),
        ("extra key", {"records": [1], "x": 1}, MalformedError),
        ("empty", {"records": []}, MalformedError),
        ("not a list", {"records": {}}, MalformedError),
        ("too many", {"records": [0] * (MAX_RECORDS + 1)}, TooLargeError),
    ],
)
def test_bad_request_bodies(mutation: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        items_of(value, "records")
