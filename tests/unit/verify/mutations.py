"""A generator of single mutations of a bundle's JSON value: every omission, insertion
(duplicate) and reordering of a list element, truncation of every list, substitution of
a record by a record of another answer (another patient), a bit flip in every string
(bodies, names, the checkpoint text) and in every base64 value, both in its text and in
its decoded bytes (re-encoded), and for a base64 list of hashes or postings (docs/bundles.md
section 2) every omission, duplication and reordering of an element and its truncation
in the decoded bytes; bit flips in every signature (decoded bytes, re-encoded), and +-1
on every integer (sizes, indices, starts, times, page bounds). A record with a body
carries no header (docs/bundles.md 2), so a mutated body is refused by the leaf-hash check
(the header rebuilt from it is not the posting's entry); records given both a header and
a body, neither, or a null body are mutations too (malformed). A body replaced by the
record's true header (a claimed shredding) is not a mutation: the verifier accepts it
header-only and says so."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["Mutation", "mutations"]

Path = tuple[str | int, ...]
Mutation = tuple[str, Any]

_HEX = re.compile(r"^[0-9a-f]+$")
_B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
#: base64 lists of fixed-size elements, by the field's name
_ELEMENT = {"proof": 32, "siblings": 32, "range_proof": 32, "keys": 32, "postings": 48}


def _b64(text: str) -> bytes | None:
    """The decoded bytes of a canonical base64 value of at least 32 bytes, else None."""
    if len(text) < 44 or not _B64.match(text):
        return None
    raw = base64.b64decode(text)
    return raw if base64.b64encode(raw).decode() == text else None


def _b64_mutations(where: str, name: str | int, raw: bytes) -> Iterator[tuple[str, str]]:
    enc = base64.b64encode
    for i in _positions(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x01
        yield f"flip byte {where}#{i}", enc(bytes(flipped)).decode()
    size = _ELEMENT.get(name) if isinstance(name, str) else None
    if size is None or len(raw) % size:
        return
    items = [raw[i : i + size] for i in range(0, len(raw), size)]
    for i in range(len(items)):
        yield f"omit {where}#[{i}]", enc(b"".join(items[:i] + items[i + 1 :])).decode()
        yield f"duplicate {where}#[{i}]", enc(b"".join([*items[: i + 1], *items[i:]])).decode()
        if i + 1 < len(items) and items[i] != items[i + 1]:
            swapped = list(items)
            swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
            yield f"swap {where}#[{i}]", enc(b"".join(swapped)).decode()
    if len(items) > 1:
        yield f"truncate {where}#", enc(b"".join(items[: len(items) // 2])).decode()
    yield f"cut a byte {where}#", enc(raw[:-1]).decode()


def _walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def _set(root: Any, path: Path, new: Any) -> Any:
    out = copy.deepcopy(root)
    target = out
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = new
    return out


def _flip_hex(text: str, i: int) -> str:
    return text[:i] + format(int(text[i], 16) ^ 1, "x") + text[i + 1 :]


def _flip_char(text: str, i: int) -> str:
    c = ord(text[i]) ^ 1
    return text[:i] + chr(c) + text[i + 1 :]


def _positions(n: int) -> list[int]:
    return sorted({0, n // 3, n // 2, (2 * n) // 3, n - 1})


def _note_mutations(note: str) -> Iterator[tuple[str, str]]:
    text, _, sigs = note.partition("\n\n")
    body = text.split("\n")
    # the checkpoint's size and root
    body_size = body[1]
    yield (
        "checkpoint size +1",
        "\n".join([body[0], str(int(body_size) + 1), *body[2:]]) + "\n\n" + sigs,
    )
    root = bytearray(base64.b64decode(body[2]))
    root[0] ^= 1
    yield (
        "checkpoint root bit",
        "\n".join([body[0], body[1], base64.b64encode(bytes(root)).decode(), *body[3:]])
        + "\n\n"
        + sigs,
    )
    lines = sigs.rstrip("\n").split("\n")
    for j, line in enumerate(lines):
        prefix, _, b64 = line.rpartition(" ")
        raw = bytearray(base64.b64decode(b64))
        for pos in (0, 3, 4, len(raw) - 1):  # key id, signature/timestamp, last byte
            flipped = bytearray(raw)
            flipped[pos] ^= 0x10
            new = f"{prefix} {base64.b64encode(bytes(flipped)).decode()}"
            yield (
                f"signature {j} byte {pos}",
                text + "\n\n" + "\n".join([*lines[:j], new, *lines[j + 1 :]]) + "\n",
            )
        yield (
            f"signature {j} dropped",
            text
            + "\n\n"
            + "\n".join([*lines[:j], *lines[j + 1 :]])
            + ("\n" if len(lines) > 1 else ""),
        )


def mutations(bundle: dict[str, Any], others: list[dict[str, Any]]) -> Iterator[Mutation]:
    """Every single mutation of ``bundle`` (a bundle's JSON value) as (label, mutated)."""
    for path, value in list(_walk(bundle)):
        where = "/".join(map(str, path))
        if isinstance(value, list):
            for i in range(len(value)):
                yield f"omit {where}[{i}]", _set(bundle, path, value[:i] + value[i + 1 :])
                yield (
                    f"duplicate {where}[{i}]",
                    _set(bundle, path, [*value[: i + 1], value[i], *value[i + 1 :]]),
                )
                if i + 1 < len(value) and value[i] != value[i + 1]:
                    swapped = list(value)
                    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
                    yield f"swap {where}[{i}]", _set(bundle, path, swapped)
            if len(value) > 1:
                yield f"truncate {where}", _set(bundle, path, value[: len(value) // 2])
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            yield f"{where} +1", _set(bundle, path, value + 1)
            if value > 0:
                yield f"{where} -1", _set(bundle, path, value - 1)
        elif isinstance(value, str) and path:
            if path == ("checkpoint",):
                for label, note in _note_mutations(value):
                    yield label, _set(bundle, path, note)
                continue
            if path == ("format",):
                yield "format", _set(bundle, path, "accord-bundle/v2")
                continue
            if value == "":  # an empty base64 list: one element inserted
                size = _ELEMENT.get(str(path[-1]), 32)
                filler = base64.b64encode(b"\x5a" * size).decode()
                yield f"insert into {where}", _set(bundle, path, filler)
                continue
            raw = _b64(value)
            if raw is not None:
                for label, new in _b64_mutations(where, path[-1], raw):
                    yield label, _set(bundle, path, new)
            flip = _flip_hex if _HEX.match(value) else _flip_char
            for i in _positions(len(value)):
                yield f"flip {where}@{i}", _set(bundle, path, flip(value, i))
            if len(value) > 2:
                yield f"truncate {where}", _set(bundle, path, value[: len(value) // 2])
    # a record with both a header and a body, with neither, or with a null body
    headers = [r["header"] for b in (bundle, *others) for r in b["records"] if "header" in r]
    for i, r in enumerate(bundle["records"]):
        if "body" in r and headers:
            both = {**r, "header": headers[0]}
            yield f"records[{i}] with a header too", _set(bundle, ("records", i), both)
        yield f"records[{i}] empty", _set(bundle, ("records", i), {})
        yield f"records[{i}] body null", _set(bundle, ("records", i), {"body": None})
    # substitution of a record by a record of another answer
    mine = bundle["records"]
    foreign = [r for o in others for r in o["records"] if r not in mine]
    for i in range(len(bundle["records"])):
        for r in foreign[:2]:
            yield f"substitute records[{i}]", _set(bundle, ("records", i), r)
    if foreign:
        yield (
            "insert a foreign record",
            _set(bundle, ("records",), [foreign[0], *bundle["records"]]),
        )
