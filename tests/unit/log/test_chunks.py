"""Entry chunk layout (accord.log.chunks) and checkpoint bodies (accord.log.checkpoints)."""

from __future__ import annotations

import base64
import struct

import pytest

from accord.errors import StoreError, UsageError
from accord.log import chunks
from accord.log.checkpoints import check_note, check_origin, checkpoint_text
from accord.merkle import EMPTY_ROOT


@pytest.mark.parametrize(
    ("first", "count", "expected"),
    [
        (0, 1, [(0, 1)]),
        (0, 256, [(0, 256)]),
        (0, 257, [(0, 256), (256, 1)]),
        (255, 2, [(255, 1), (256, 1)]),
        (1000, 1000, [(1000, 24), (1024, 256), (1280, 256), (1536, 256), (1792, 208)]),
        (5, 0, []),
    ],
)
def test_split_at_multiples_of_256(first: int, count: int, expected: list[tuple[int, int]]) -> None:
    assert chunks.split(first, count) == expected


def test_pack_unpack_round_trip() -> None:
    entries = [b"", b"a", b"\x00" * 300, b"", b"xyz"]
    offsets, data = chunks.pack(entries)
    assert offsets == struct.pack(">5I", 0, 1, 301, 301, 304)
    assert chunks.unpack(5, offsets, data) == entries
    for lo in range(6):
        for hi in range(lo, 8):
            assert chunks.unpack(5, offsets, data, lo, hi) == entries[lo:hi]


@pytest.mark.parametrize(
    ("mutation", "count", "offsets", "data"),
    [
        ("count zero", 0, b"", b""),
        ("count over 256", 257, b"\x00" * 4 * 257, b""),
        ("offsets too short", 2, struct.pack(">I", 1), b"a"),
        ("last offset short of data", 1, struct.pack(">I", 1), b"ab"),
        ("last offset past data", 1, struct.pack(">I", 3), b"ab"),
        ("decreasing offsets", 2, struct.pack(">2I", 2, 1), b"a"),
    ],
)
def test_corrupt_chunk_is_store_error(
    mutation: str, count: int, offsets: bytes, data: bytes
) -> None:
    with pytest.raises(StoreError):
        chunks.unpack(count, offsets, data)
    with pytest.raises(StoreError):  # reading one entry still checks the whole row
        chunks.unpack(count, offsets, data, 0, 1)


def test_a_corrupt_offset_outside_the_range_read_is_still_refused() -> None:
    offsets = struct.pack(">4I", 1, 2, 1, 4)  # the third end goes back
    with pytest.raises(StoreError):
        chunks.unpack(4, offsets, b"abcd", 0, 1)


def test_pack_refuses_empty_or_oversized_chunks() -> None:
    with pytest.raises(UsageError):
        chunks.pack([])
    with pytest.raises(UsageError):
        chunks.pack([b""] * 257)


def test_checkpoint_text_is_c2sp_body() -> None:
    root = bytes(range(32))
    text = checkpoint_text("example.com/log", 20852163, root)
    assert text == f"example.com/log\n20852163\n{base64.b64encode(root).decode()}\n"
    assert (
        checkpoint_text("o", 0, EMPTY_ROOT)
        == "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    )


@pytest.mark.parametrize(
    ("mutation", "origin"),
    [
        ("empty", ""),
        ("newline", "a\nb"),
        ("tab", "a\tb"),
        ("not text", b"a"),
        ("surrogate", "\ud800"),
    ],
)
def test_bad_origins(mutation: str, origin: object) -> None:
    with pytest.raises(UsageError):
        check_origin(origin)


def test_origin_with_spaces_is_allowed() -> None:
    assert check_origin("go.sum database tree") == "go.sum database tree"


@pytest.mark.parametrize(
    ("mutation", "note"),
    [
        ("not a string", b"x"),
        ("no blank line", "o\n1\nAAAA\n— k sig\n"),
        ("other text", "p\n1\nAAAA\n\n— k sig\n"),
        ("no signature", "o\n1\nAAAA\n\n"),
        ("no final newline", "o\n1\nAAAA\n\n— k sig"),
        ("empty signature line", "o\n1\nAAAA\n\n— k sig\n\n"),
    ],
)
def test_bad_notes(mutation: str, note: object) -> None:
    with pytest.raises(UsageError):
        check_note("o\n1\nAAAA\n", note)


def test_good_note() -> None:
    note = "o\n1\nAAAA\n\n— k sig\n— w sig2\n"
    assert check_note("o\n1\nAAAA\n", note) == note
