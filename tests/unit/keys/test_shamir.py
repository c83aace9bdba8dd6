"""accord.keys.shamir: field arithmetic, known answers, parameter and input errors."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from accord.errors import UsageError
from accord.keys.shamir import Share, combine, gf_div, gf_mul, interpolate, split
from tests.unit.keys.gf_reference import ref_inv, ref_mul


def fixed(data: bytes) -> Callable[[int], bytes]:
    """A randbytes that returns ``data`` (and checks it is asked for exactly that much)."""

    def randbytes(n: int) -> bytes:
        assert n == len(data)
        return data

    return randbytes


def test_multiplication_table_matches_the_bitwise_reference() -> None:
    for a in range(256):
        for b in range(256):
            assert gf_mul(a, b) == ref_mul(a, b), (a, b)


def test_division_inverts_multiplication() -> None:
    for a in range(1, 256):
        assert gf_mul(a, gf_div(1, a)) == 1
        assert gf_div(1, a) == ref_inv(a)
    assert gf_div(0, 7) == 0


def test_division_by_zero_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        gf_div(5, 0)


def test_known_answer_degree_one() -> None:
    # y(x) = 0x42 + 1*x: addition is xor
    shares = split(b"\x42", 3, 2, randbytes=fixed(b"\x01"))
    assert [(s.x, s.y) for s in shares] == [(1, b"\x43"), (2, b"\x40"), (3, b"\x41")]


def test_known_answer_reduction_by_0x11b() -> None:
    # coefficient 0x80 at x=2: 0x80 * 2 = 0x100, reduced by 0x11b to 0x1b
    shares = split(b"\x00\xff", 2, 2, randbytes=fixed(b"\x80\x80"))
    assert shares[1].y == bytes([0x1B, 0x1B ^ 0xFF])
    assert combine(shares) == b"\x00\xff"


def test_known_answer_degree_two() -> None:
    # y(x) = 7 + 3x + 5x^2 at x = 3: 7 ^ 3*3 ^ 5*(3*3) with carry-less products
    shares = split(b"\x07", 3, 3, randbytes=fixed(b"\x03\x05"))
    x9 = ref_mul(3, 3)
    assert shares[2].y[0] == 7 ^ ref_mul(3, 3) ^ ref_mul(5, x9)


def test_randomness_is_drawn_once_in_the_documented_layout() -> None:
    asked: list[int] = []

    def randbytes(n: int) -> bytes:
        asked.append(n)
        return os.urandom(n)

    split(bytes(32), 5, 3, randbytes=randbytes)
    assert asked == [32 * 2]


def test_default_randomness_gives_different_shares_each_time() -> None:
    a = split(b"same secret", 3, 2)
    b = split(b"same secret", 3, 2)
    assert [s.y for s in a] != [s.y for s in b]
    assert combine(a) == combine(b) == b"same secret"


def test_full_range_255_shares() -> None:
    secret = os.urandom(16)
    shares = split(secret, 255, 2)
    assert [s.x for s in shares] == list(range(1, 256))
    assert combine([shares[0], shares[254]]) == secret


@pytest.mark.parametrize(
    ("case", "secret", "n", "k"),
    [
        ("threshold 1", b"s", 3, 1),
        ("threshold above shares", b"s", 3, 4),
        ("256 shares", b"s", 256, 2),
        ("zero shares", b"s", 0, 0),
        ("empty secret", b"", 3, 2),
        ("secret not bytes", "s", 3, 2),
        ("shares not int", b"s", 3.0, 2),
        ("threshold is bool", b"s", 3, True),
    ],
)
def test_bad_split_parameters(case: str, secret: bytes, n: int, k: int) -> None:
    with pytest.raises(UsageError):
        split(secret, n, k)


def test_randbytes_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(UsageError, match="wrong number"):
        split(b"ab", 3, 2, randbytes=lambda n: bytes(n - 1))


@pytest.mark.parametrize(
    ("case", "x", "y"),
    [("x zero", 0, b"a"), ("x 256", 256, b"a"), ("x bool", True, b"a"), ("empty y", 1, b"")],
)
def test_bad_share_values(case: str, x: int, y: bytes) -> None:
    with pytest.raises(UsageError):
        Share(x, y)


def test_share_repr_hides_y() -> None:
    assert "secretbytes" not in repr(Share(1, b"secretbytes"))


def test_combine_refuses_bad_point_sets() -> None:
    shares = split(b"abc", 3, 2)
    with pytest.raises(UsageError, match="at least 2"):
        combine(shares[:1])
    with pytest.raises(UsageError, match="duplicate share x=1"):
        combine([shares[0], shares[0]])
    with pytest.raises(UsageError, match="different lengths"):
        combine([shares[0], Share(2, b"ab")])


def test_interpolate_recovers_other_shares() -> None:
    shares = split(os.urandom(8), 6, 3)
    for target in shares[3:]:
        assert interpolate(shares[:3], target.x) == target.y
    with pytest.raises(UsageError):
        interpolate(shares[:3], 256)
