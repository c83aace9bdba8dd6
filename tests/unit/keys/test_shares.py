"""Share files: strict format, and the checks that name each bad share before combining."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from accord.encoding import b64encode
from accord.errors import BadShareError, MalformedError, TooLargeError, UsageError
from accord.keys.shamir import split
from accord.keys.shares import ShareFile, Split, combine_shares, share_digest


def make_split(
    n: int = 5, k: int = 3, name: str = "cornell"
) -> tuple[bytes, Split, list[ShareFile]]:
    master = os.urandom(32)
    keyset = os.urandom(16)
    points = split(master, n, k)
    files = [ShareFile(keyset, p.x, k, n, p.y, name) for p in points]
    return master, Split.of(keyset, k, points), files


MASTER, SPLIT, FILES = make_split()
TEXT = FILES[2].format()


def test_format_is_canonical_json_and_a_newline() -> None:
    assert TEXT.endswith("}\n")
    assert "\n" not in TEXT[:-1]
    obj = json.loads(TEXT)
    assert obj == {
        "v": 1,
        "type": "accord.share",
        "keyset": FILES[2].keyset.hex(),
        "name": "cornell",
        "x": 3,
        "k": 3,
        "n": 5,
        "share": b64encode(FILES[2].share),
    }
    assert list(obj) == sorted(obj)


def test_parse_and_format_are_exact_inverses() -> None:
    for share in FILES:
        assert ShareFile.parse(share.format()) == share
        assert ShareFile.parse(share.format()).format() == share.format()


def test_repr_hides_the_share_bytes() -> None:
    assert FILES[0].share.hex() not in repr(FILES[0])
    assert b64encode(FILES[0].share) not in repr(FILES[0])


def _edit(**changes: object) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        obj = json.loads(text)
        for key, value in changes.items():
            if value is _DROP:
                del obj[key]
            else:
                obj[key] = value
        return json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"

    return mutate


_DROP = object()

BROKEN: list[tuple[str, Callable[[str], str]]] = [
    ("truncated", lambda t: t[: len(t) // 2]),
    ("empty", lambda t: ""),
    ("no final newline", lambda t: t[:-1]),
    ("two final newlines", lambda t: t + "\n"),
    ("windows line ending", lambda t: t[:-1] + "\r\n"),
    ("pretty-printed", lambda t: json.dumps(json.loads(t), indent=2) + "\n"),
    ("trailing garbage", lambda t: t[:-1] + "x\n"),
    (
        "keys out of order",
        lambda t: json.dumps(dict(reversed(json.loads(t).items())), separators=(",", ":")) + "\n",
    ),
    ("space after colon", lambda t: t.replace('"k":3', '"k": 3')),
    ("not JSON", lambda t: "share 3 of cornell\n"),
    ("a JSON list", lambda t: "[]\n"),
    ("duplicate key", lambda t: t.replace('{"k":3,', '{"k":3,"k":3,')),
    ("extra key", _edit(comment="hi")),
    ("missing share", _edit(share=_DROP)),
    ("missing name", _edit(name=_DROP)),
    ("version 2", _edit(v=2)),
    ("version true", _edit(v=True)),
    ("other type", _edit(type="accord.keystore")),
    ("keyset upper case", lambda t: _edit(keyset=json.loads(t)["keyset"].upper())(t)),
    ("keyset short", _edit(keyset="00" * 15)),
    ("keyset not hex", _edit(keyset="zz" * 16)),
    ("keyset a number", _edit(keyset=7)),
    ("x zero", _edit(x=0)),
    ("x above n", _edit(x=6)),
    ("x a string", _edit(x="3")),
    ("x true", _edit(x=True)),
    ("x a float", _edit(x=3.0)),
    ("k one", _edit(k=1)),
    ("k above n", _edit(k=6)),
    ("n 256", _edit(n=256, k=3)),
    ("share 31 bytes", _edit(share=b64encode(bytes(31)))),
    ("share 33 bytes", _edit(share=b64encode(bytes(33)))),
    ("share unpadded base64", lambda t: _edit(share=json.loads(t)["share"].rstrip("="))(t)),
    ("share url-safe base64", _edit(share="-" * 43 + "=")),
    ("share a list", _edit(share=[1, 2])),
    ("name empty", _edit(name="")),
    ("name with a newline", _edit(name="a\nb")),
    ("name too long", _edit(name="x" * 129)),
    ("name a number", _edit(name=5)),
]


@pytest.mark.parametrize(("case", "mutate"), BROKEN, ids=[c for c, _ in BROKEN])
def test_broken_share_files_are_malformed(case: str, mutate: Callable[[str], str]) -> None:
    with pytest.raises(MalformedError) as info:
        ShareFile.parse(mutate(TEXT))
    assert info.value.what == "share file"


def test_oversized_text_is_too_large() -> None:
    with pytest.raises(TooLargeError):
        ShareFile.parse(" " * 5000)


def test_parse_refuses_bytes() -> None:
    with pytest.raises(MalformedError):
        ShareFile.parse(TEXT.encode())  # type: ignore[arg-type]


def test_digest_is_sha256_of_keyset_x_share() -> None:
    import hashlib

    share = FILES[0]
    expected = hashlib.sha256(share.keyset + b"\x01" + share.share).digest()
    assert share_digest(share.keyset, 1, share.share) == expected == SPLIT.digests[0]


def test_k_good_shares_combine_to_the_master() -> None:
    assert combine_shares(SPLIT, FILES[:3]) == MASTER
    assert combine_shares(SPLIT, [FILES[4], FILES[1], FILES[3]]) == MASTER
    assert combine_shares(SPLIT, FILES) == MASTER


def _corrupt(share: ShareFile, byte: int = 0) -> ShareFile:
    damaged = bytearray(share.share)
    damaged[byte] ^= 0x01
    return ShareFile(share.keyset, share.x, share.threshold, share.total, bytes(damaged), "x")


_, _, OTHER_NODE = make_split(name="nyu")
# same keyset, another share's bytes under x=3: a "wrong" share
SWAPPED = ShareFile(SPLIT.keyset, 3, 3, 5, FILES[1].share, "cornell")
# same keyset and bytes, but claiming another shape
RESHAPED = ShareFile(SPLIT.keyset, 3, 2, 5, FILES[2].share, "cornell")

REFUSED: list[tuple[str, list[ShareFile], type[Exception], str]] = [
    ("corrupted share 3", [FILES[0], FILES[1], _corrupt(FILES[2])], BadShareError,
     "share 3 is not a share of this node's key"),
    ("last byte corrupted", [_corrupt(FILES[3], 31), FILES[0], FILES[1]], BadShareError,
     "share 4 is not a share of this node's key"),
    ("swapped bytes", [FILES[0], FILES[1], SWAPPED], BadShareError, "share 3 is not a share"),
    ("other threshold", [FILES[0], FILES[1], RESHAPED], BadShareError, "share 3 is not a share"),
    ("foreign share", [FILES[0], FILES[1], OTHER_NODE[2]], BadShareError, "foreign share"),
    ("duplicate share", [FILES[0], FILES[1], FILES[0]], UsageError,
     "duplicate share: share 1 was given twice"),
    ("k-1 shares", [FILES[0], FILES[1]], UsageError, "need 3 shares, have 2"),
    ("no shares", [], UsageError, "need 3 shares, have 0"),
    ("k-1 distinct with a duplicate", [FILES[0], FILES[0]], UsageError, "duplicate share"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "shares", "error", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_refused_share_sets(
    case: str, shares: list[ShareFile], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        combine_shares(SPLIT, shares)


def test_errors_name_the_share_and_the_reason() -> None:
    with pytest.raises(BadShareError) as info:
        SPLIT.check(_corrupt(FILES[4]))
    assert info.value.details == {"reason": "wrong", "x": 5}
    assert info.value.status == 422
    with pytest.raises(BadShareError) as info:
        SPLIT.check(OTHER_NODE[0])
    assert info.value.details["reason"] == "foreign"
    assert "nyu" in info.value.message


def test_split_of_requires_shares_in_order() -> None:
    points = split(bytes(32), 3, 2)
    with pytest.raises(UsageError):
        Split.of(bytes(16), 2, [points[1], points[0], points[2]])


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("keyset 15 bytes", {"keyset": bytes(15)}),
        ("share 31 bytes", {"share": bytes(31)}),
        ("x above n", {"x": 6}),
        ("name blank", {"name": ""}),
    ],
)
def test_share_file_values_are_checked(case: str, kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {
        "keyset": bytes(16),
        "x": 1,
        "threshold": 2,
        "total": 5,
        "share": bytes(32),
        "name": "n",
    }
    values.update(kwargs)
    with pytest.raises(MalformedError):
        ShareFile(**values)  # type: ignore[arg-type]
