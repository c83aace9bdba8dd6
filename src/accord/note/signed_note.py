"""C2SP signed-note v1.0.0: notes, signature lines, signing and opening.

A signed note is a text (one or more lines, each ending in LF), an empty line,
and one or more signature lines ``— <key name> <base64(key ID || signature)>``
(em dash U+2014, then a space). The LAST empty line separates the text from the
signatures, so the text may itself contain empty lines. The whole note is valid
UTF-8 with no control characters other than LF (shared/reference/tlog.md
section 5.1).

Opening (signed-note "Signatures"): signatures by unknown (name, key ID) pairs
are ignored; a signature by a known key that fails to verify rejects the whole
note (BadSignatureError); a note with no verified signature by a known key is
rejected (UnknownKeyError). At most :data:`MAX_SIGNATURES` signature lines are
accepted, as golang.org/x/mod does (the spec requires at least 16).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from accord.encoding import b64decode, b64encode
from accord.errors import MalformedError, TooLargeError, UnknownKeyError, UsageError
from accord.note.keys import KEY_ID_SIZE, Verifier, check_key_name, key_ref

__all__ = [
    "MAX_SIGNATURES",
    "Note",
    "NoteSigner",
    "OpenedNote",
    "Signature",
    "VerifiedSignature",
    "check_note_text",
    "decode_note_text",
    "open_note",
    "parse_signature_lines",
    "sign_note",
]

#: Most signature lines accepted in one note (golang.org/x/mod's limit; >= 16 required).
MAX_SIGNATURES: Final = 100

_PREFIX: Final = "\u2014 "  # em dash, space
_CONTROL: Final = re.compile("[\x00-\x09\x0b-\x1f]")  # ASCII controls but LF


def decode_note_text(data: str | bytes, what: str) -> str:
    """Decode ``data`` as note text: strict UTF-8 with no control characters but LF.

    Raises MalformedError(what). A ``str`` must be encodable as UTF-8 (no lone
    surrogates).
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError(what, "not valid UTF-8") from None
    elif isinstance(data, str):
        text = data
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedError(what, "not valid Unicode text") from None
    else:
        raise MalformedError(what, "expected text or bytes")
    control = _CONTROL.search(text)
    if control is not None:
        raise MalformedError(what, f"control character U+{ord(control.group()):04X}")
    return text


def check_note_text(text: str, what: str = "note") -> str:
    """Return ``text`` if it can be the text of a signed note; MalformedError(what) otherwise.

    The text is non-empty and ends in LF; it may contain empty lines.
    """
    text = decode_note_text(text, what)
    if not text.endswith("\n"):
        raise MalformedError(what, "note text must end with a newline")
    return text


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: key name, 4-byte key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name, "signature line")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise MalformedError("signature line", f"key ID must be {KEY_ID_SIZE} bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise MalformedError("signature line", "empty signature")

    @property
    def key_ref(self) -> str:
        """``name+<8 hex key ID>``."""
        return key_ref(self.name, self.key_id)

    @property
    def payload(self) -> bytes:
        """The decoded base64 of the line: key ID || signature."""
        return self.key_id + self.signature

    @classmethod
    def parse(cls, line: str | bytes) -> Signature:
        """Parse one signature line, final LF included; MalformedError("signature line")."""
        what = "signature line"
        text = decode_note_text(line, what)
        if not text.endswith("\n") or "\n" in text[:-1]:
            raise MalformedError(what, "expected exactly one line ending in a newline")
        return _parse_line(text[:-1], what)

    def format(self) -> str:
        """The line, final LF included; the exact inverse of :meth:`parse`."""
        return f"{_PREFIX}{self.name} {b64encode(self.payload)}\n"


def _parse_line(line: str, what: str) -> Signature:
    """Parse a signature line without its LF; MalformedError(what)."""
    if not line.startswith(_PREFIX):
        raise MalformedError(what, "signature line must start with an em dash and a space")
    name, sep, b64 = line[len(_PREFIX) :].partition(" ")
    if not sep or not b64:
        raise MalformedError(what, "signature line must be '— <name> <base64>'")
    check_key_name(name, what)
    raw = b64decode(b64, what)
    if len(raw) <= KEY_ID_SIZE:
        raise MalformedError(what, "signature is too short")
    return Signature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def parse_signature_lines(data: str | bytes) -> tuple[Signature, ...]:
    """Parse one or more signature lines (e.g. a witness's add-checkpoint answer).

    Raises MalformedError("signature line"), or TooLargeError beyond
    :data:`MAX_SIGNATURES` lines.
    """
    what = "signature line"
    text = decode_note_text(data, what)
    if not text.endswith("\n"):
        raise MalformedError(what, "signature lines must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise TooLargeError(what, f"more than {MAX_SIGNATURES} signature lines")
    return tuple(_parse_line(line, what) for line in lines)


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: its text (final LF included) and its signature lines in order.

    Holding a Note says nothing about its signatures: use :func:`open_note`.
    """

    text: str
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        check_note_text(self.text, "note")
        if isinstance(self.signatures, list):
            object.__setattr__(self, "signatures", tuple(self.signatures))
        if not isinstance(self.signatures, tuple):
            raise MalformedError("note", "signatures must be a tuple")
        if not self.signatures:
            raise MalformedError("note", "a signed note has at least one signature")
        if len(self.signatures) > MAX_SIGNATURES:
            raise TooLargeError("note", f"more than {MAX_SIGNATURES} signatures")
        if not all(isinstance(s, Signature) for s in self.signatures):
            raise MalformedError("note", "signatures must be Signature values")

    @classmethod
    def parse(cls, message: str | bytes) -> Note:
        """Parse a signed note strictly (signed-note v1.0.0 "Format"); MalformedError("note").

        More than :data:`MAX_SIGNATURES` signature lines raise TooLargeError.
        """
        what = "note"
        msg = decode_note_text(message, what)
        split = msg.rfind("\n\n")
        if split < 0:
            raise MalformedError(what, "no empty line before the signatures")
        text, block = msg[: split + 1], msg[split + 2 :]
        if not block.endswith("\n"):
            raise MalformedError(what, "signature block missing or not ending in a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise TooLargeError(what, f"more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(_parse_line(line, what) for line in lines))

    def format(self) -> str:
        """The note as text; the exact inverse of :meth:`parse`."""
        return self.text + "\n" + "".join(s.format() for s in self.signatures)

    def with_signatures(self, *signatures: Signature) -> Note:
        """This note with ``signatures`` appended.

        As golang.org/x/mod ``Sign``: existing lines by a key (name, key ID) that
        signs again are dropped, so re-signing replaces rather than duplicates.
        """
        replaced = {(s.name, s.key_id) for s in signatures}
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) not in replaced)
        return Note(self.text, kept + tuple(signatures))


class NoteSigner(Protocol):
    """Anything that signs note text, e.g. :class:`accord.note.Signer`."""

    def sign(self, text: str) -> Signature: ...


def sign_note(text: str | Note, *signers: NoteSigner) -> Note:
    """Sign ``text`` (or re-sign an existing note) with each signer, in order.

    ``text`` must end in LF and follow the note rules (MalformedError("note")).
    Signing an existing Note keeps its other signatures (:meth:`Note.with_signatures`).
    """
    if not signers:
        raise UsageError("sign_note needs at least one signer")
    if isinstance(text, Note):
        return text.with_signatures(*(s.sign(text.text) for s in signers))
    body = check_note_text(text, "note")
    return Note(body, tuple(s.sign(body) for s in signers))


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A signature that verified, the key that verified it, and its cosignature timestamp.

    ``timestamp`` is the cosignature/v1 time (POSIX seconds) for type 0x04
    keys and None for plain Ed25519 note signatures.
    """

    signature: Signature
    verifier: Verifier
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose signatures by known keys all verified (at least one did)."""

    note: Note
    verified: tuple[VerifiedSignature, ...]
    unverified: tuple[Signature, ...]

    @property
    def text(self) -> str:
        return self.note.text


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        if not isinstance(v, Verifier):
            raise UsageError("verifiers must be accord.note.Verifier values")
        other = known.setdefault((v.name, v.key_id), v)
        if other != v:
            raise UsageError(f"ambiguous verifier keys for {v.key_ref}")
    return known


def open_note(message: str | bytes | Note, verifiers: Iterable[Verifier]) -> OpenedNote:
    """Parse a signed note and verify it against the known ``verifiers``.

    Signatures by unknown (name, key ID) pairs are reported in ``unverified``.
    Every distinct signature line by a known key is verified; one that fails
    raises BadSignatureError for the whole note. If no known key signed,
    UnknownKeyError ("note has no verifiable signatures"). Identical repeated
    lines count once. Two different verifiers sharing a name and key ID are a
    UsageError.
    """
    note = message if isinstance(message, Note) else Note.parse(message)
    known = _index(verifiers)
    text = note.text.encode("utf-8")
    verified: list[VerifiedSignature] = []
    unverified: list[Signature] = []
    seen: set[Signature] = set()
    for sig in note.signatures:
        if sig in seen:
            continue
        seen.add(sig)
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
            continue
        timestamp = verifier.verify(text, sig.signature)
        verified.append(VerifiedSignature(sig, verifier, timestamp))
    if not verified:
        raise UnknownKeyError(
            "note has no verifiable signatures", unverified=[s.key_ref for s in unverified]
        )
    return OpenedNote(note, tuple(verified), tuple(unverified))
