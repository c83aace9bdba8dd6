"""Fuzzing every parser of accord.note; round trips; single-bit flips never verify.

Random bytes, random text and mutations of valid inputs go to every parser:
only AccordError subclasses may escape, and whatever a parser accepts it
formats back to exactly the same input (strict parsers accept only canonical
text). Generated values round-trip through format and parse. Flipping any
single bit of a signed note or of a cosigned checkpoint never verifies.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.merkle import MemoryTree
from accord.note import (
    MAX_TIMESTAMP,
    Checkpoint,
    Cosignature,
    Cosigner,
    Note,
    Signature,
    Signer,
    SigType,
    Verifier,
    check_key_name,
    cosignature_timestamp,
    open_note,
    parse_signature_lines,
    parse_signer_key,
    sign_note,
    verify_cosigned_checkpoint,
)
from tests.conftest import load_vectors

FUZZ = settings(max_examples=200, deadline=None)

LOG = Signer.from_private_bytes("example.com/log", bytes(range(32)))
WITNESSES = [Cosigner.from_private_bytes(f"w{i}.example", bytes([i]) * 32) for i in (1, 2)]
CHECKPOINT = Checkpoint("example.com/log", 13, MemoryTree.from_data([b"x"] * 13).root(), ("ext",))
SIGNED = sign_note("hello\n\nworld\n", LOG).format()
COSIGNED = (
    sign_note(CHECKPOINT.format(), LOG)
    .with_signatures(*(w.cosign(CHECKPOINT, 1700000000 + i) for i, w in enumerate(WITNESSES)))
    .format()
)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


# Each parser: (name, parse, format-back-to-input or None).
Parser = tuple[str, Callable[[Any], Any], Callable[[Any, Any], None] | None]


def _same_text(result: Any, data: Any) -> None:
    assert result.format() == _text(data)


PARSERS: list[Parser] = [
    ("note", Note.parse, _same_text),
    ("checkpoint", Checkpoint.parse, _same_text),
    ("verifier-key", Verifier.parse, _same_text),
    ("signer-key", Signer.parse, _same_text),
    ("cosigner-key", Cosigner.parse, _same_text),
    ("any-signer-key", parse_signer_key, _same_text),
    ("signature-line", Signature.parse, _same_text),
    (
        "signature-lines",
        parse_signature_lines,
        lambda r, d: _check("".join(s.format() for s in r) == _text(d)),
    ),
    ("cosignature-payload", Cosignature.from_bytes, lambda r, d: _check(r.to_bytes() == d)),
    ("cosignature-timestamp", cosignature_timestamp, lambda r, d: _check(0 <= r <= MAX_TIMESTAMP)),
    (
        "open-note",
        lambda d: open_note(d, [LOG.verifier(), *[w.verifier() for w in WITNESSES]]),
        None,
    ),
    (
        "cosigned-checkpoint",
        lambda d: verify_cosigned_checkpoint(
            d, LOG.verifier(), [w.verifier() for w in WITNESSES], 1
        ),
        None,
    ),
]
TEXT_ONLY = {"verifier-key", "signer-key", "cosigner-key", "any-signer-key"}
BYTES_ONLY = {"cosignature-payload"}


def _check(condition: bool) -> None:
    assert condition


def _feed(parser: Parser, data: str | bytes) -> None:
    """Only AccordError may escape; anything accepted must format back to ``data``."""
    name, parse, back = parser
    if name in TEXT_ONLY and isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return
    if name in BYTES_ONLY and isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    try:
        result = parse(data)
    except AccordError:
        return
    if back is not None:
        back(result, data)


# -- a corpus of valid inputs, to mutate ----------------------------------------------------

SIGNED_NOTES = load_vectors("tlog/signed_notes.json")["cases"]
COSIG = load_vectors("tlog/cosignatures.json")
CHECKPOINT_CASES = load_vectors("tlog/checkpoints.json")["cases"]


def _corpus() -> dict[str, list[str | bytes]]:
    """Valid inputs for each parser (the mutations start from these)."""
    notes = [c["note"] for c in SIGNED_NOTES if c["expect"]["valid"]][:16]
    notes += [c["note"] for c in COSIG["cases"] if len(c["note"]) < 1000]
    notes += [SIGNED, COSIGNED]
    blocks = [n.rpartition("\n\n")[2] for n in notes]
    vkeys = [v for c in SIGNED_NOTES for v in c["verifier_keys"]][:10]
    vkeys += [LOG.verifier().format(), *[w.verifier().format() for w in WITNESSES]]
    signer_keys = [LOG.format(), COSIG["keys"]["log"]["skey"]]
    cosigner_keys = [w.format() for w in WITNESSES]
    payloads: list[str | bytes] = [
        s.payload for s in Note.parse(COSIGNED).signatures if len(s.payload) == 76
    ]
    b64 = [c["signature_b64"] for c in COSIG["timestamp_extraction"] if "expected_timestamp" in c]
    return {
        "note": list(notes),
        "checkpoint": [c["text"] for c in CHECKPOINT_CASES if c["valid"]] + [CHECKPOINT.format()],
        "verifier-key": list(vkeys),
        "signer-key": list(signer_keys),
        "cosigner-key": list(cosigner_keys),
        "any-signer-key": signer_keys + cosigner_keys,
        "signature-line": [block.split("\n")[0] + "\n" for block in blocks],
        "signature-lines": list(blocks),
        "cosignature-payload": payloads,
        "cosignature-timestamp": [*payloads, *b64],
        "open-note": [SIGNED, COSIGNED],
        "cosigned-checkpoint": [COSIGNED],
    }


CORPUS = _corpus()
SPECIALS = [
    *("\u2014", "\u2013", "-", "+", " ", "  ", "\n", "\n\n", "\r", "\t", "=", "\x00"),
    *("\u00a0", "\ud800", "0", "00", "/", "A", "\u00e9", "\u2028", "\ufeff"),
]


@st.composite
def mutated(draw: st.DrawFn, original: str | bytes) -> str | bytes:
    """``original`` after a few random edits (bit flips, cuts, insertions, duplications)."""
    is_bytes = isinstance(original, bytes)
    data = bytearray(original if is_bytes else original.encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "special", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "special":
            data[at:at] = draw(st.sampled_from(SPECIALS)).encode("utf-8", "surrogatepass")
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 40))]
        else:
            del data[at:]
    if is_bytes or draw(st.booleans()):
        return bytes(data)
    return bytes(data).decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("parser", PARSERS, ids=[p[0] for p in PARSERS])
@FUZZ
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input(parser: Parser, data: str | bytes) -> None:
    _feed(parser, data)


@pytest.mark.parametrize("parser", PARSERS, ids=[p[0] for p in PARSERS])
@FUZZ
@given(data=st.data())
def test_mutated_valid_input(parser: Parser, data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(CORPUS[parser[0]]), label="original")
    _feed(parser, original)  # the original itself round-trips or is refused cleanly
    _feed(parser, data.draw(mutated(original), label="mutated"))


@pytest.mark.parametrize("parser", PARSERS, ids=[p[0] for p in PARSERS])
def test_corpus_is_accepted(parser: Parser) -> None:
    """The unmutated corpus parses and round-trips (so mutations start from valid input)."""
    name, parse, back = parser
    assert CORPUS[name]
    for original in CORPUS[name]:
        result = parse(original)
        if back is not None:
            back(result, original)


# -- round trips of generated values ----------------------------------------------------------

key_names = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="+"
    ),
    min_size=1,
    max_size=30,
).filter(lambda n: not any(c.isspace() for c in n))
line_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n")
lines = st.text(alphabet=line_chars, max_size=40)
note_texts = st.lists(lines, min_size=1, max_size=6).map(lambda ls: "".join(x + "\n" for x in ls))
signatures = st.builds(
    Signature, key_names, st.binary(min_size=4, max_size=4), st.binary(min_size=1, max_size=120)
)
checkpoints = st.builds(
    Checkpoint,
    st.text(alphabet=line_chars, min_size=1, max_size=40),
    st.integers(0, 2**63 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(st.text(alphabet=line_chars, min_size=1, max_size=20), max_size=3).map(tuple),
)


@FUZZ
@given(note_texts, st.lists(signatures, min_size=1, max_size=5))
def test_note_round_trip(text: str, sigs: list[Signature]) -> None:
    note = Note(text, tuple(sigs))
    assert Note.parse(note.format()) == note
    assert Note.parse(note.format().encode()) == note
    assert parse_signature_lines("".join(s.format() for s in sigs)) == tuple(sigs)
    for sig in sigs:
        assert Signature.parse(sig.format()) == sig


@FUZZ
@given(checkpoints)
def test_checkpoint_round_trip(cp: Checkpoint) -> None:
    assert Checkpoint.parse(cp.format()) == cp
    assert Checkpoint.parse(cp.format().encode()) == cp


@settings(max_examples=50, deadline=None)
@given(key_names, st.binary(min_size=32, max_size=32), st.sampled_from([Signer, Cosigner]))
def test_key_round_trips(name: str, seed: bytes, cls: type[Signer] | type[Cosigner]) -> None:
    assert check_key_name(name) == name
    key = cls.from_private_bytes(name, seed)
    assert cls.parse(key.format()) == key
    assert key.format() == cls.parse(key.format()).format()
    verifier = key.verifier()
    assert Verifier.parse(verifier.format()) == verifier
    assert verifier.sig_type == (SigType.ED25519 if cls is Signer else SigType.COSIGNATURE_V1)


@FUZZ
@given(
    st.binary(min_size=4, max_size=4),
    st.integers(0, MAX_TIMESTAMP),
    st.binary(min_size=64, max_size=64),
)
def test_cosignature_round_trip(key_id: bytes, timestamp: int, sig: bytes) -> None:
    cos = Cosignature(key_id, timestamp, sig)
    assert Cosignature.from_bytes(cos.to_bytes()) == cos
    assert cosignature_timestamp(base64.b64encode(cos.to_bytes()).decode()) == timestamp


# -- single-bit flips never verify -------------------------------------------------------------


def _flips(message: str) -> list[bytes]:
    raw = message.encode()
    out = []
    for i in range(len(raw) * 8):
        b = bytearray(raw)
        b[i // 8] ^= 1 << (i % 8)
        out.append(bytes(b))
    return out


def _never_verifies(check: Callable[[bytes], object], message: str) -> None:
    check(message.encode())  # the original verifies
    for flipped in _flips(message):
        with pytest.raises(AccordError):
            check(flipped)


def test_no_bit_flip_of_a_signed_note_verifies() -> None:
    _never_verifies(lambda m: open_note(m, [LOG.verifier()]), SIGNED)


def test_no_bit_flip_of_a_cosigned_checkpoint_verifies() -> None:
    witnesses = [w.verifier() for w in WITNESSES]
    _never_verifies(lambda m: verify_cosigned_checkpoint(m, LOG.verifier(), witnesses, 2), COSIGNED)


@settings(max_examples=10, deadline=None)
@given(note_texts, st.data())
def test_no_bit_flip_of_random_signed_notes_verifies(text: str, data: st.DataObject) -> None:
    message = sign_note(text, LOG).format()
    open_note(message, [LOG.verifier()])
    raw = message.encode()
    for _ in range(200):
        i = data.draw(st.integers(0, len(raw) * 8 - 1))
        b = bytearray(raw)
        b[i // 8] ^= 1 << (i % 8)
        with pytest.raises(AccordError):
            open_note(bytes(b), [LOG.verifier()])
