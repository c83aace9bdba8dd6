"""The add-checkpoint request body: strict parse, exact format, each malformation as data."""

from __future__ import annotations

import base64

import pytest

from accord.errors import MalformedError, TooLargeError
from accord.note import Note
from accord.witness import MAX_PROOF_LINES, MAX_REQUEST_SIZE, AddCheckpointRequest
from tests.unit.witness.fixtures import FakeLog

LOG = FakeLog(13)
NOTE = LOG.note(13).format()
PROOF = LOG.proof(8, 13)
H = base64.b64encode(PROOF[0]).decode()
GOOD = f"old 8\n{H}\n\n{NOTE}"


def test_parse_and_format_are_inverses() -> None:
    request = AddCheckpointRequest.parse(GOOD)
    assert request.old_size == 8
    assert request.proof == tuple(PROOF)
    assert request.note == Note.parse(NOTE)
    assert request.checkpoint == LOG.checkpoint(13)
    assert request.format() == GOOD
    assert AddCheckpointRequest.parse(GOOD.encode()) == request
    assert request.to_bytes() == GOOD.encode()


def test_no_proof_and_old_zero() -> None:
    request = AddCheckpointRequest.parse(f"old 0\n\n{NOTE}")
    assert (request.old_size, request.proof) == (0, ())
    assert request.format() == f"old 0\n\n{NOTE}"


def test_make_from_a_proof_sequence_and_note_text() -> None:
    assert AddCheckpointRequest.make(8, PROOF, NOTE).to_bytes() == GOOD.encode()
    assert AddCheckpointRequest.make(8, PROOF, Note.parse(NOTE)).format() == GOOD
    with pytest.raises(MalformedError):
        AddCheckpointRequest.make(8, PROOF, "not a note")


def test_sixty_three_proof_lines_is_the_limit() -> None:
    body = "old 8\n" + f"{H}\n" * MAX_PROOF_LINES + "\n" + NOTE
    assert len(AddCheckpointRequest.parse(body).proof) == MAX_PROOF_LINES
    with pytest.raises(MalformedError, match="more than 63"):
        AddCheckpointRequest.parse("old 8\n" + f"{H}\n" * 64 + "\n" + NOTE)


SHORT = base64.b64encode(b"\x00" * 31).decode()
LONG = base64.b64encode(b"\x00" * 33).decode()
UNPADDED = H.rstrip("=")

# (mutation, body): every one is MalformedError("add-checkpoint request").
MALFORMED = [
    ("empty body", ""),
    ("no blank line", f"old 8\n{H}\n{NOTE}"),
    ("blank line first", f"\nold 8\n\n{NOTE}"),
    ("no old line", f"{H}\n\n{NOTE}"),
    ("old without size", f"old\n\n{NOTE}"),
    ("old with two spaces", f"old  8\n\n{NOTE}"),
    ("old with a tab", f"old\t8\n\n{NOTE}"),
    ("old in capitals", f"OLD 8\n\n{NOTE}"),
    ("old leading zero", f"old 08\n\n{NOTE}"),
    ("old double zero", f"old 00\n\n{NOTE}"),
    ("old negative", f"old -1\n\n{NOTE}"),
    ("old with plus", f"old +8\n\n{NOTE}"),
    ("old in hex", f"old 0x8\n\n{NOTE}"),
    ("old trailing space", f"old 8 \n\n{NOTE}"),
    ("old above 2**63-1", f"old {2**63}\n\n{NOTE}"),
    ("old with 20 digits", f"old {10**19}\n\n{NOTE}"),
    ("CRLF line ends", f"old 8\r\n\r\n{NOTE}"),
    ("proof line not base64", f"old 8\nnot base64!\n\n{NOTE}"),
    ("proof line unpadded", f"old 8\n{UNPADDED}\n\n{NOTE}"),
    ("proof hash 31 bytes", f"old 8\n{SHORT}\n\n{NOTE}"),
    ("proof hash 33 bytes", f"old 8\n{LONG}\n\n{NOTE}"),
    ("proof line with space", f"old 8\n {H}\n\n{NOTE}"),
    ("two blank lines", f"old 8\n\n\n{NOTE}"),
    ("no note", "old 8\n\n"),
    ("note without signatures", f"old 8\n\n{LOG.checkpoint(13).format()}"),
    ("note text not a checkpoint", "old 0\n\nhello\n\n" + NOTE.split("\n\n")[1]),
    ("note missing final newline", f"old 8\n\n{NOTE[:-1]}"),
    ("control character in note", "old 8\n\n" + NOTE.replace("13", "1\x073", 1)),
]


@pytest.mark.parametrize(("mutation", "body"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_bodies(mutation: str, body: str) -> None:
    with pytest.raises(MalformedError) as info:
        AddCheckpointRequest.parse(body)
    assert info.value.what == "add-checkpoint request", mutation
    assert info.value.status == 400


def test_invalid_utf8() -> None:
    with pytest.raises(MalformedError, match="UTF-8"):
        AddCheckpointRequest.parse(b"old 0\n\n\xff\xfe\n")


def test_too_large_is_413() -> None:
    body = ("old 0\n\n" + NOTE).encode() + b"x" * MAX_REQUEST_SIZE
    with pytest.raises(TooLargeError) as info:
        AddCheckpointRequest.parse(body)
    assert info.value.status == 413


def test_more_than_100_signatures_is_malformed_not_413() -> None:
    cp, sig = NOTE.split("\n\n")
    body = "old 0\n\n" + cp + "\n\n" + sig * 101
    with pytest.raises(MalformedError) as info:
        AddCheckpointRequest.parse(body)
    assert not isinstance(info.value, TooLargeError)


@pytest.mark.parametrize(
    ("old", "proof"),
    [(-1, ()), (2**63, ()), (0, (b"\x00" * 31,)), (0, (b"\x00" * 32,) * 64), (1.0, ())],
)
def test_constructor_validates(old: object, proof: tuple[bytes, ...]) -> None:
    with pytest.raises(MalformedError):
        AddCheckpointRequest(old, proof, Note.parse(NOTE))  # type: ignore[arg-type]


def test_constructor_refuses_a_note_that_is_not_a_checkpoint() -> None:
    note = Note.parse("hello\n\n" + NOTE.split("\n\n")[1])
    with pytest.raises(MalformedError, match="not a checkpoint"):
        AddCheckpointRequest(0, (), note)
