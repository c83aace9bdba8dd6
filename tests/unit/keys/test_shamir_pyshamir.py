"""pyshamir (Vault's scheme in Python) as an independent oracle for accord.keys.shamir.

pyshamir's part layout is Vault's: the y bytes followed by one byte holding x, with x
drawn at random from 1..255 (not 1..N). Ours keeps x apart, so conversion is
``Share(part[-1], part[:-1])`` one way and ``y || x`` the other.
"""

from __future__ import annotations

import itertools
import os

import pyshamir
import pytest
from pyshamir._utils import div as py_div
from pyshamir._utils import mul as py_mul

from accord.keys.shamir import Share, combine, gf_div, gf_mul, split


def from_pyshamir(part: bytearray) -> Share:
    return Share(part[-1], bytes(part[:-1]))


def to_pyshamir(share: Share) -> bytearray:
    return bytearray(share.y + bytes([share.x]))


def test_same_field_as_pyshamir() -> None:
    for a in range(256):
        for b in range(0, 256, 3):
            assert gf_mul(a, b) == py_mul(a, b)
            if b:
                assert gf_div(a, b) == py_div(a, b)


@pytest.mark.parametrize(("n", "k"), [(2, 2), (3, 2), (5, 3), (6, 6), (10, 4)])
def test_pyshamir_shares_combine_with_ours(n: int, k: int) -> None:
    secret = os.urandom(32)
    parts = pyshamir.split(secret, n, k)
    shares = [from_pyshamir(p) for p in parts]
    for subset in itertools.islice(itertools.combinations(shares, k), 40):
        assert combine(list(subset)) == secret


@pytest.mark.parametrize(("n", "k"), [(2, 2), (3, 2), (5, 3), (6, 6), (10, 4)])
def test_our_shares_combine_with_pyshamir(n: int, k: int) -> None:
    secret = os.urandom(32)
    shares = split(secret, n, k)
    for subset in itertools.islice(itertools.combinations(shares, k), 40):
        assert bytes(pyshamir.combine([to_pyshamir(s) for s in subset])) == secret


def test_mixed_x_coordinates_anywhere_in_1_to_255() -> None:
    # pyshamir picks x at random; over many splits every region of 1..255 is exercised
    for _ in range(20):
        secret = os.urandom(5)
        parts = pyshamir.split(secret, 4, 3)
        assert combine([from_pyshamir(p) for p in parts[1:]]) == secret


def test_one_byte_and_long_secrets() -> None:
    for secret in (b"\x00", b"\xff", os.urandom(200)):
        parts = pyshamir.split(secret, 3, 2)
        assert combine([from_pyshamir(p) for p in parts[:2]]) == secret
        ours = split(secret, 3, 2)
        assert bytes(pyshamir.combine([to_pyshamir(s) for s in ours[1:]])) == secret
