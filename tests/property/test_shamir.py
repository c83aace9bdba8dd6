"""Shamir over GF(256): any k of N recover, any k-1 are consistent with every secret."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.keys.shamir import Share, combine, split
from tests.unit.keys.gf_reference import ref_eval, ref_poly_through

FAST = settings(max_examples=60, deadline=None)


@st.composite
def splits(draw: st.DrawFn, max_n: int = 12) -> tuple[bytes, int, int, tuple[Share, ...]]:
    secret = draw(st.binary(min_size=1, max_size=48))
    n = draw(st.integers(2, max_n))
    k = draw(st.integers(2, n))
    seed = draw(st.integers(0, 2**32))
    shares = split(secret, n, k, randbytes=random.Random(seed).randbytes)
    return secret, n, k, shares


@FAST
@given(splits(), st.data())
def test_any_k_of_n_recover_the_secret(
    case: tuple[bytes, int, int, tuple[Share, ...]], data: st.DataObject
) -> None:
    secret, _, k, shares = case
    chosen = data.draw(st.lists(st.sampled_from(shares), min_size=k, max_size=k, unique=True))
    assert combine(chosen) == secret


@FAST
@given(splits(), st.data())
def test_more_than_k_shares_also_recover(
    case: tuple[bytes, int, int, tuple[Share, ...]], data: st.DataObject
) -> None:
    secret, n, k, shares = case
    size = data.draw(st.integers(k, n))
    chosen = data.draw(st.lists(st.sampled_from(shares), min_size=size, max_size=size, unique=True))
    assert combine(chosen) == secret


@FAST
@given(splits(), st.data())
def test_combine_is_order_independent(
    case: tuple[bytes, int, int, tuple[Share, ...]], data: st.DataObject
) -> None:
    secret, _, k, shares = case
    chosen = data.draw(st.lists(st.sampled_from(shares), min_size=k, max_size=k, unique=True))
    reordered = data.draw(st.permutations(chosen))
    assert combine(reordered) == combine(chosen) == secret


def test_every_k_subset_of_a_small_split_recovers() -> None:
    secret = bytes(range(32))
    shares = split(secret, 7, 4)
    for subset in itertools.combinations(shares, 4):
        assert combine(list(subset)) == secret


@FAST
@given(st.integers(3, 8), st.data())
def test_k_minus_1_shares_of_a_32_byte_secret_do_not_recover_it(
    k: int, data: st.DataObject
) -> None:
    # combine() of k-1 >= 2 points interpolates a lower-degree polynomial: the result
    # equals the secret only with probability 2^-256.
    secret = data.draw(st.binary(min_size=32, max_size=32))
    n = data.draw(st.integers(k, 10))
    shares = split(secret, n, k)
    chosen = data.draw(
        st.lists(st.sampled_from(shares), min_size=k - 1, max_size=k - 1, unique=True)
    )
    assert combine(chosen) != secret


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.data())
def test_k_minus_1_shares_are_consistent_with_every_secret(k: int, data: st.DataObject) -> None:
    """For each of the 256 candidate secrets c there is exactly one polynomial of degree
    k-1 through (0, c) and the k-1 points, and our split, fed that polynomial's
    coefficients as its randomness, produces exactly those k-1 shares from secret c.
    So the k-1 shares are equally likely under every secret: they reveal nothing."""
    n = data.draw(st.integers(k, 9))
    secret = data.draw(st.binary(min_size=1, max_size=1))
    shares = split(secret, n, k)
    seen = data.draw(st.lists(st.sampled_from(shares), min_size=k - 1, max_size=k - 1, unique=True))
    points = [(s.x, s.y[0]) for s in seen]
    for candidate in range(256):
        coefficients = ref_poly_through([(0, candidate), *points])
        assert len(coefficients) == k  # degree at most k-1
        assert ref_eval(coefficients, 0) == candidate
        for x, y in points:
            assert ref_eval(coefficients, x) == y
        replay = split(bytes([candidate]), n, k, randbytes=lambda m, c=coefficients: bytes(c[1:]))
        assert [replay[s.x - 1] for s in seen] == seen


def test_one_share_of_a_2_of_n_split_is_uniform_for_every_secret() -> None:
    """Exhaustive for k=2: over the 256 equally likely coefficients, share x takes every
    value exactly once, whatever the secret (perfect secrecy of a single share)."""
    for secret in range(256):
        seen: list[set[int]] = [set(), set(), set()]
        for a in range(256):
            shares = split(bytes([secret]), 3, 2, randbytes=lambda m, a=a: bytes([a]))
            for values, share in zip(seen, shares, strict=True):
                values.add(share.y[0])
        assert [len(values) for values in seen] == [256, 256, 256]
