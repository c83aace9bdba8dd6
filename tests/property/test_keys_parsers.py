"""Hostile input to the keys parsers: only MalformedError comes out, and no single-bit
change to a share file (but its human label), a keystore or an encrypted body is ever
accepted as genuine."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import (
    BadShareError,
    MalformedError,
    NotFoundError,
    UsageError,
    VerificationError,
)
from accord.keys.bodies import EncryptedBody
from accord.keys.datakeys import DataKeys, MemoryDataKeyStorage
from accord.keys.keystore import Keystore, create_keystore, open_secrets, recover_master
from accord.keys.shares import ShareFile

FAST = settings(max_examples=200, deadline=None)
KEYSTORE, SHARES = create_keystore(
    {"log_key": os.urandom(32), "token_key": os.urandom(32)}, name="cornell", threshold=2, shares=3
)
MASTER = recover_master(KEYSTORE, SHARES[:2])
SHARE_TEXT = SHARES[1].format()
KEYSTORE_TEXT = KEYSTORE.format()


@FAST
@given(st.text(max_size=400))
def test_random_text_is_not_a_share_file(text: str) -> None:
    with pytest.raises(MalformedError):
        ShareFile.parse(text)


@FAST
@given(st.text(max_size=400))
def test_random_text_is_not_a_keystore(text: str) -> None:
    with pytest.raises(MalformedError):
        Keystore.parse(text)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_are_malformed(blob: bytes) -> None:
    try:
        parts = EncryptedBody.parse(blob)
    except MalformedError:
        return
    assert parts.encode() == blob


def _flip(text: str, bit: int) -> str | None:
    data = bytearray(text.encode())
    data[bit // 8] ^= 1 << (bit % 8)
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


@FAST
@given(st.integers(0, len(SHARE_TEXT) * 8 - 1))
def test_no_single_bit_change_to_a_share_file_is_accepted(bit: int) -> None:
    mutated = _flip(SHARE_TEXT, bit)
    if mutated is None:
        return
    try:
        share = ShareFile.parse(mutated)
    except MalformedError:
        return
    try:
        KEYSTORE.split.check(share)
    except BadShareError:
        return
    # only the human label is not authenticated: everything else is the original share
    assert share.name != SHARES[1].name
    assert (share.keyset, share.x, share.threshold, share.total, share.share) == (
        SHARES[1].keyset,
        SHARES[1].x,
        SHARES[1].threshold,
        SHARES[1].total,
        SHARES[1].share,
    )


@FAST
@given(st.integers(0, len(KEYSTORE_TEXT) * 8 - 1))
def test_no_single_bit_change_to_a_keystore_opens(bit: int) -> None:
    mutated = _flip(KEYSTORE_TEXT, bit)
    if mutated is None:
        return
    with pytest.raises((MalformedError, BadShareError, UsageError, VerificationError)):
        _open(mutated)


def _open(text: str) -> dict[str, bytes]:
    keystore = Keystore.parse(text)
    return open_secrets(keystore, recover_master(keystore, SHARES[:2]))


KEK = os.urandom(32)
STORAGE = MemoryDataKeyStorage()
DATA_KEYS = DataKeys(STORAGE, lambda: KEK)
PRINCIPAL = b"p" * 32
for _ in range(3):
    DATA_KEYS.rotate(PRINCIPAL)
BODY = os.urandom(500)
HASH = hashlib.sha256(BODY).digest()
BLOB = DATA_KEYS.encrypt(PRINCIPAL, HASH, BODY)


@FAST
@given(st.integers(0, len(BLOB) * 8 - 1))
def test_no_single_bit_change_to_an_encrypted_body_decrypts(bit: int) -> None:
    damaged = bytearray(BLOB)
    damaged[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises((MalformedError, NotFoundError, VerificationError)):
        DATA_KEYS.decrypt(PRINCIPAL, HASH, bytes(damaged))
