"""Shamir's secret sharing over GF(256), byte by byte (the scheme of HashiCorp Vault).

The field is the AES field GF(2^8) with reduction polynomial x^8 + x^4 + x^3 + x + 1
(0x11b), as in HashiCorp Vault's ``shamir`` package and ``pyshamir``. Each byte of the
secret is the constant term of its own random polynomial of degree k - 1; share ``x``
holds the values of all those polynomials at ``x``. Any k shares determine every
polynomial (Lagrange interpolation at 0); any k - 1 shares are consistent with every
possible secret, each equally likely (DESIGN.md section 6).

Arithmetic uses a full 64 KiB multiplication table, so a product is one table lookup
with no data-dependent branch ("constant-time-ish": Python itself promises nothing).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from accord.errors import UsageError

__all__ = [
    "MAX_SHARES",
    "RandBytes",
    "Share",
    "combine",
    "gf_div",
    "gf_mul",
    "interpolate",
    "split",
]

#: The most shares one split can make: x coordinates are the nonzero bytes 1..255.
MAX_SHARES: Final = 255

#: A source of random bytes: ``randbytes(n)`` returns exactly ``n`` bytes.
RandBytes = Callable[[int], bytes]


def _tables() -> tuple[bytes, bytes]:
    """The multiplication table MUL[a << 8 | b] and the inverse table INV[a] (INV[0] = 0)."""
    exp = [0] * 255
    log = [0] * 256
    e = 1
    for i in range(255):
        exp[i] = e
        log[e] = i
        # multiply by the generator 0x03: e * 2 (reduced by 0x11b) xor e
        e2 = (e << 1) ^ (0x11B if e & 0x80 else 0)
        e = e2 ^ e
    mul = bytearray(256 * 256)
    for a in range(1, 256):
        la = log[a]
        row = a << 8
        for b in range(1, 256):
            mul[row | b] = exp[(la + log[b]) % 255]
    inv = bytearray(256)
    for a in range(1, 256):
        inv[a] = exp[(255 - log[a]) % 255]
    return bytes(mul), bytes(inv)


_MUL, _INV = _tables()


def gf_mul(a: int, b: int) -> int:
    """The product of two field elements (ints 0..255)."""
    return _MUL[(a & 0xFF) << 8 | (b & 0xFF)]


def gf_div(a: int, b: int) -> int:
    """a / b in the field. Precondition: b != 0 (UsageError otherwise)."""
    if b == 0:
        raise UsageError("division by zero in GF(256)")
    return _MUL[(a & 0xFF) << 8 | _INV[b & 0xFF]]


@dataclass(frozen=True, slots=True)
class Share:
    """One point of every byte's polynomial: ``y[i]`` is polynomial i evaluated at ``x``.

    ``x`` is 1..255 (0 would be the secret itself); ``y`` is as long as the secret.
    """

    x: int
    y: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.x, bool) or not isinstance(self.x, int) or not 1 <= self.x <= 255:
            raise UsageError("a share's x coordinate must be an integer in 1..255")
        if not isinstance(self.y, bytes) or not self.y:
            raise UsageError("a share's y value must be non-empty bytes")


def _check_parameters(secret: bytes, shares: int, threshold: int) -> None:
    if not isinstance(secret, bytes) or not secret:
        raise UsageError("the secret must be non-empty bytes")
    for what, value in (("shares", shares), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{what} must be an integer")
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise UsageError(
            f"need 2 <= threshold <= shares <= {MAX_SHARES}, got threshold {threshold} "
            f"and shares {shares}",
            threshold=threshold,
            shares=shares,
        )


def split(
    secret: bytes,
    shares: int,
    threshold: int,
    *,
    randbytes: RandBytes = secrets.token_bytes,
) -> tuple[Share, ...]:
    """Split ``secret`` into ``shares`` shares, any ``threshold`` of which recover it.

    Preconditions: 2 <= threshold <= shares <= 255, secret non-empty (UsageError).
    Shares get x = 1..shares in order. Randomness: one call ``randbytes(len(secret) *
    (threshold - 1))``; bytes ``[i * (k-1), (i+1) * (k-1))`` are the coefficients of x^1 ..
    x^(k-1) of the polynomial of secret byte i (uniform, zero allowed: that is what makes
    k - 1 shares independent of the secret). Tests inject ``randbytes`` to reproduce a split.
    """
    _check_parameters(secret, shares, threshold)
    degree = threshold - 1
    coefficients = randbytes(len(secret) * degree)
    if not isinstance(coefficients, bytes | bytearray) or len(coefficients) != len(secret) * degree:
        raise UsageError("randbytes returned the wrong number of bytes")
    mul = _MUL
    out = []
    for x in range(1, shares + 1):
        row = x << 8  # mul[row | v] = x * v
        y = bytearray(len(secret))
        for i, s in enumerate(secret):
            base = i * degree
            acc = 0
            # Horner: (((c_d) x + c_{d-1}) x + ... ) x + s
            for j in range(base + degree - 1, base - 1, -1):
                acc = mul[row | acc] ^ coefficients[j]
            y[i] = mul[row | acc] ^ s
        out.append(Share(x, bytes(y)))
    return tuple(out)


def _basis_at(xs: Sequence[int], at: int) -> list[int]:
    """Lagrange basis values l_i(at) for distinct nonzero xs (subtraction is xor)."""
    basis = []
    for i, xi in enumerate(xs):
        num = 1
        den = 1
        for j, xj in enumerate(xs):
            if i != j:
                num = _MUL[num << 8 | (at ^ xj)]
                den = _MUL[den << 8 | (xi ^ xj)]
        basis.append(_MUL[num << 8 | _INV[den]])
    return basis


def _check_points(shares: Sequence[Share]) -> None:
    if len(shares) < 2:
        raise UsageError(f"need at least 2 shares to combine, have {len(shares)}")
    seen: set[int] = set()
    size = len(shares[0].y)
    for share in shares:
        if not isinstance(share, Share):
            raise UsageError("combine takes Share values")
        if share.x in seen:
            raise UsageError(f"duplicate share x={share.x}", x=share.x)
        seen.add(share.x)
        if len(share.y) != size:
            raise UsageError("shares of different lengths cannot be combined")


def interpolate(shares: Sequence[Share], at: int) -> bytes:
    """The value at ``at`` (0..255) of the polynomials through ``shares``, byte by byte.

    ``interpolate(shares, 0)`` is the secret when the shares are at least k of one split.
    Preconditions (UsageError): at least 2 shares, distinct x, equal lengths.
    """
    _check_points(shares)
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= 255:
        raise UsageError("the interpolation point must be an integer in 0..255")
    basis = _basis_at([s.x for s in shares], at)
    rows = [b << 8 for b in basis]
    mul = _MUL
    out = bytearray(len(shares[0].y))
    for row, share in zip(rows, shares, strict=True):
        for i, v in enumerate(share.y):
            out[i] ^= mul[row | v]
    return bytes(out)


def combine(shares: Sequence[Share]) -> bytes:
    """Recover the secret from at least k distinct shares of one split (any order).

    With fewer than k shares, or shares of different splits, the result is a
    meaningless value, not an error: Shamir alone cannot tell. Callers that must know
    check each share first (:mod:`accord.keys.shares` keeps a digest per share).
    """
    return interpolate(shares, 0)
