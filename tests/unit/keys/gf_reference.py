"""A slow GF(256) written from the definition, independent of accord.keys.shamir's tables."""

from __future__ import annotations

__all__ = ["ref_eval", "ref_inv", "ref_mul", "ref_poly_through"]


def ref_mul(a: int, b: int) -> int:
    """Carry-less multiply, reduced by x^8 + x^4 + x^3 + x + 1 (0x11b) bit by bit."""
    out = 0
    for _ in range(8):
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
    return out


def ref_inv(a: int) -> int:
    """a^254 = a^-1 (the multiplicative group has order 255), by square and multiply."""
    out, base, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            out = ref_mul(out, base)
        base = ref_mul(base, base)
        exponent >>= 1
    return out


def ref_eval(coefficients: list[int], x: int) -> int:
    """c0 + c1 x + c2 x^2 + ... evaluated term by term (no Horner)."""
    total = 0
    for power, c in enumerate(coefficients):
        term = c
        for _ in range(power):
            term = ref_mul(term, x)
        total ^= term
    return total


def _poly_mul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] ^= ref_mul(a, b)
    return out


def ref_poly_through(points: list[tuple[int, int]]) -> list[int]:
    """Coefficients (c0 first, len(points) of them) of the unique polynomial of degree
    < len(points) through ``points`` (distinct x), by Lagrange in coefficient form."""
    total = [0] * len(points)
    for i, (xi, yi) in enumerate(points):
        basis = [1]
        denominator = 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                basis = _poly_mul(basis, [xj, 1])  # (x - xj) = (x + xj) in GF(2^8)
                denominator = ref_mul(denominator, xi ^ xj)
        scale = ref_mul(yi, ref_inv(denominator))
        for power, c in enumerate(basis):
            total[power] ^= ref_mul(c, scale)
    return total
