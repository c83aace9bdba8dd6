"""Signed notes: strict parsing, formatting, signing and opening (signed-note v1.0.0)."""

from __future__ import annotations

import base64

import pytest

from accord.errors import (
    BadSignatureError,
    MalformedError,
    TooLargeError,
    UnknownKeyError,
    UsageError,
)
from accord.note import (
    MAX_SIGNATURES,
    Note,
    Signature,
    Signer,
    Verifier,
    open_note,
    parse_signature_lines,
    sign_note,
)

PETER = Signer.parse(
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
)
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)
NOTE = TEXT + "\n" + LINE
B64 = LINE.split(" ")[2].strip()


def test_parse_and_format_are_inverses() -> None:
    note = Note.parse(NOTE)
    assert note.text == TEXT
    assert len(note.signatures) == 1
    sig = note.signatures[0]
    assert (sig.name, sig.key_id.hex()) == ("PeterNeumann", "c74f20a3")
    assert sig.payload == base64.b64decode(B64)
    assert note.format() == NOTE
    assert Note.parse(NOTE.encode()) == note
    assert Signature.parse(LINE) == sig
    assert sig.format() == LINE


def test_text_may_contain_empty_lines() -> None:
    """The LAST empty line separates text and signatures (signed-note "Format")."""
    for text in ("a\n\nb\n", "a\n\n\n", "\n", "\n\n", "— x y\n\nz\n"):
        note = sign_note(text, PETER)
        formatted = note.format()
        assert Note.parse(formatted) == note
        assert Note.parse(formatted).text == text
        assert open_note(formatted, [PETER.verifier()]).text == text


def test_earlier_signature_block_becomes_text() -> None:
    """An empty line after a signature line makes everything before it text."""
    message = f"hi\n\n{LINE}\n{LINE}"
    note = Note.parse(message)
    assert note.text == f"hi\n\n{LINE}"
    assert len(note.signatures) == 1


def _b64_non_canonical() -> str:
    """The same bytes with a non-zero unused padding bit (68 bytes: 2 unused bits)."""
    raw = base64.b64decode(B64)
    text = base64.b64encode(raw).decode()
    last = text[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bumped = alphabet[alphabet.index(last) + 1]
    assert base64.b64decode(text[:-2] + bumped + "=") == raw
    return text[:-2] + bumped + "="


BROKEN_NOTES: list[tuple[str, str | bytes, type[Exception]]] = [
    ("no-empty-line", TEXT + LINE, MalformedError),
    ("no-signatures", TEXT + "\n", MalformedError),
    ("signature-without-final-newline", NOTE[:-1], MalformedError),
    ("text-only", TEXT, MalformedError),
    ("empty", "", MalformedError),
    ("carriage-return-line-endings", NOTE.replace("\n", "\r\n"), MalformedError),
    ("tab-in-text", "a\tb\n\n" + LINE, MalformedError),
    ("nul-in-text", "a\x00b\n\n" + LINE, MalformedError),
    ("escape-in-signature-line", NOTE.replace("Peter", "\x1bPeter"), MalformedError),
    ("invalid-utf8", b"\xff" + NOTE.encode(), MalformedError),
    ("overlong-utf8", NOTE.encode().replace(b"\xe2\x80\x94", b"\xf0\x82\x80\x94"), MalformedError),
    ("encoded-surrogate", b"\xed\xa0\x80\n\n" + LINE.encode(), MalformedError),
    ("lone-surrogate", "\ud800\n\n" + LINE, MalformedError),
    ("hyphen-instead-of-em-dash", NOTE.replace("—", "-"), MalformedError),
    ("en-dash", NOTE.replace("\u2014", "\u2013"), MalformedError),
    ("no-space-after-dash", NOTE.replace("— ", "—"), MalformedError),
    ("two-spaces-after-dash", NOTE.replace("— ", "—  "), MalformedError),
    ("two-spaces-before-signature", NOTE.replace("Neumann ", "Neumann  "), MalformedError),
    ("trailing-space", NOTE[:-1] + " \n", MalformedError),
    ("no-signature", TEXT + "\n— PeterNeumann\n", MalformedError),
    ("empty-signature", TEXT + "\n— PeterNeumann \n", MalformedError),
    ("space-in-key-name", NOTE.replace("PeterNeumann", "Peter Neumann"), MalformedError),
    ("plus-in-key-name", NOTE.replace("PeterNeumann", "Peter+Neumann"), MalformedError),
    ("nbsp-in-key-name", NOTE.replace("PeterNeumann", "Peter\u00a0Neumann"), MalformedError),
    ("unpadded-base64", NOTE.replace("M=\n", "M\n"), MalformedError),
    ("non-canonical-base64", NOTE.replace(B64, _b64_non_canonical()), MalformedError),
    ("urlsafe-base64", NOTE.replace("/", "_"), MalformedError),
    (
        "key-id-only",
        TEXT + "\n— PeterNeumann " + base64.b64encode(b"abcd").decode() + "\n",
        MalformedError,
    ),
    ("trailing-garbage-line", NOTE + "Unexpected line.\n", MalformedError),
    ("empty-line-at-end", NOTE + "\n", MalformedError),
    ("too-many-signatures", TEXT + "\n" + LINE * (MAX_SIGNATURES + 1), TooLargeError),
]


@pytest.mark.parametrize(
    ("mutation", "message", "error"), BROKEN_NOTES, ids=[c[0] for c in BROKEN_NOTES]
)
def test_broken_notes(mutation: str, message: str | bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        Note.parse(message)
    assert isinstance(info.value, MalformedError)
    assert info.value.what == "note"
    with pytest.raises(error):
        open_note(message, [PETER.verifier()])


def test_note_construction_is_checked() -> None:
    sig = Note.parse(NOTE).signatures[0]
    assert Note(TEXT, [sig]) == Note(TEXT, (sig,))  # type: ignore[arg-type]
    for text in ("no newline", "", "a\rb\n"):
        with pytest.raises(MalformedError):
            Note(text, (sig,))
    with pytest.raises(MalformedError):
        Note(TEXT, ())
    with pytest.raises(TooLargeError):
        Note(TEXT, (sig,) * (MAX_SIGNATURES + 1))
    with pytest.raises(MalformedError):
        Note(TEXT, ("— a b\n",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mutation", "args"),
    [
        ("short-key-id", ("a", b"abc", b"sig")),
        ("empty-signature", ("a", b"abcd", b"")),
        ("bad-name", ("a b", b"abcd", b"sig")),
        ("str-signature", ("a", b"abcd", "sig")),
    ],
)
def test_signature_construction_is_checked(mutation: str, args: tuple[object, ...]) -> None:
    with pytest.raises(MalformedError) as info:
        Signature(*args)  # type: ignore[arg-type]
    assert info.value.what == "signature line"


@pytest.mark.parametrize(
    ("mutation", "line"),
    [
        ("no-newline", LINE[:-1]),
        ("two-lines", LINE + LINE),
        ("empty", ""),
        ("leading-empty-line", "\n" + LINE),
    ],
)
def test_broken_signature_lines(mutation: str, line: str) -> None:
    with pytest.raises(MalformedError) as info:
        Signature.parse(line)
    assert info.value.what == "signature line"


def test_parse_signature_lines() -> None:
    signer = Signer.generate("b")
    lines = LINE + signer.sign(TEXT).format()
    sigs = parse_signature_lines(lines)
    assert [s.name for s in sigs] == ["PeterNeumann", "b"]
    assert "".join(s.format() for s in sigs) == lines
    for bad in ("", LINE[:-1], LINE + "\n", LINE + "x\n"):
        with pytest.raises(MalformedError):
            parse_signature_lines(bad)
    with pytest.raises(TooLargeError):
        parse_signature_lines(LINE * (MAX_SIGNATURES + 1))


# -- opening -----------------------------------------------------------------------------


def test_open_ignores_unknown_keys_and_reports_them() -> None:
    other = Signer.generate("EnochRoot")
    note = sign_note(TEXT, PETER, other)
    opened = open_note(note.format(), [PETER.verifier()])
    assert [v.verifier for v in opened.verified] == [PETER.verifier()]
    assert [s.key_ref for s in opened.unverified] == [other.verifier().key_ref]
    assert opened.note == note


def test_same_name_different_key_is_unknown() -> None:
    """A key matching only the name (or only the ID) of a known key is ignored."""
    impostor = Signer.generate("PeterNeumann")
    note = sign_note(TEXT, impostor)
    with pytest.raises(UnknownKeyError):
        open_note(note, [PETER.verifier()])
    opened = open_note(note.with_signatures(PETER.sign(TEXT)), [PETER.verifier()])
    assert [s.key_ref for s in opened.unverified] == [impostor.verifier().key_ref]


def test_known_key_with_bad_signature_rejects_the_whole_note() -> None:
    other = Signer.generate("other")
    good = PETER.sign(TEXT)
    bad = Signature(other.name, other.key_id, other.sign("different text\n").signature)
    note = Note(TEXT, (good, bad))
    assert open_note(note, [PETER.verifier()]).verified[0].signature == good
    with pytest.raises(BadSignatureError) as info:
        open_note(note, [PETER.verifier(), other.verifier()])
    assert info.value.details["key"] == other.verifier().key_ref


def test_every_distinct_signature_by_a_known_key_is_checked() -> None:
    """Unlike x/mod, a second, different line by the same key is not skipped."""
    good = PETER.sign(TEXT)
    forged = Signature(good.name, good.key_id, bytes(64))
    with pytest.raises(BadSignatureError):
        open_note(Note(TEXT, (good, forged)), [PETER.verifier()])
    opened = open_note(Note(TEXT, (good, good)), [PETER.verifier()])
    assert len(opened.verified) == 1


def test_no_verifiable_signature() -> None:
    with pytest.raises(UnknownKeyError) as info:
        open_note(NOTE, [])
    assert info.value.details["unverified"] == ["PeterNeumann+c74f20a3"]


def test_ambiguous_verifiers_are_a_usage_error() -> None:
    """Two different keys with the same name and key ID (a 2**-32 accident, simulated)."""
    twin = Signer.generate("PeterNeumann").verifier()
    object.__setattr__(twin, "_key_id", PETER.key_id)
    with pytest.raises(UsageError):
        open_note(NOTE, [PETER.verifier(), twin])
    with pytest.raises(UsageError):
        open_note(NOTE, ["PeterNeumann+c74f20a3"])  # type: ignore[list-item]
    assert open_note(NOTE, [PETER.verifier(), PETER.verifier()]).verified


# -- signing -----------------------------------------------------------------------------


def test_sign_with_several_signers_in_order() -> None:
    a, b = Signer.generate("a"), Signer.generate("b")
    note = sign_note(TEXT, a, b, PETER)
    assert [s.name for s in note.signatures] == ["a", "b", "PeterNeumann"]
    opened = open_note(note.format(), [a.verifier(), b.verifier(), PETER.verifier()])
    assert len(opened.verified) == 3


def test_resigning_replaces_that_keys_line() -> None:
    a = Signer.generate("a")
    note = sign_note(TEXT, PETER)
    note2 = sign_note(note, a, PETER)
    assert [s.name for s in note2.signatures] == ["a", "PeterNeumann"]
    assert note2.format().count("PeterNeumann") == 1


def test_signing_refuses_bad_text() -> None:
    with pytest.raises(UsageError):
        sign_note(TEXT)
    for text in ("no final newline", "tab\there\n", "\ud800\n"):
        with pytest.raises(MalformedError):
            sign_note(text, PETER)
        with pytest.raises(MalformedError):
            PETER.sign(text)


def test_verifier_round_trip_through_signing() -> None:
    v = Verifier.parse(PETER.verifier().format())
    assert open_note(sign_note("x\n", PETER).format(), [v]).verified[0].verifier == v
