"""Exhaustive single-bit tampering of a keystore file and a share file."""

from __future__ import annotations

import os

import pytest

from accord.errors import AccordError, BadShareError, MalformedError, UsageError, VerificationError
from accord.keys.keystore import Keystore, create_keystore, open_secrets, recover_master
from accord.keys.shares import ShareFile

KEYSTORE, SHARES = create_keystore(
    {"log_key": os.urandom(32), "index_key": os.urandom(32)}, name="cornell", threshold=2, shares=3
)


def flips(text: str) -> list[str]:
    """Every single-bit change of ``text`` that is still UTF-8."""
    out = []
    data = text.encode()
    for bit in range(len(data) * 8):
        changed = bytearray(data)
        changed[bit // 8] ^= 1 << (bit % 8)
        try:
            out.append(changed.decode())
        except UnicodeDecodeError:
            continue
    return out


def _open(text: str) -> dict[str, bytes]:
    keystore = Keystore.parse(text)
    return open_secrets(keystore, recover_master(keystore, SHARES[1:]))


def test_every_bit_of_the_keystore_file_matters() -> None:
    outcomes: dict[type[AccordError], int] = {}
    mutations = flips(KEYSTORE.format())
    assert len(mutations) > 3000
    for text in mutations:
        with pytest.raises((MalformedError, BadShareError, UsageError, VerificationError)) as info:
            _open(text)
        outcomes[type(info.value)] = outcomes.get(type(info.value), 0) + 1
    # parsing catches most; some reach the share check, the check value or a wrapped secret
    assert MalformedError in outcomes
    assert BadShareError in outcomes
    assert VerificationError in outcomes


def test_every_bit_of_a_share_file_but_its_label_matters() -> None:
    original = SHARES[2]
    text = original.format()
    start = text.index('"name":"') + len('"name":"')
    label = range(start, start + len(original.name))
    accepted = 0
    for mutated in flips(text):
        try:
            share = ShareFile.parse(mutated)
            KEYSTORE.split.check(share)
        except (MalformedError, BadShareError):
            continue
        accepted += 1
        assert share.share == original.share
        assert share.x == original.x
        assert share.name != original.name
        assert any(mutated[i] != text[i] for i in label)
    assert accepted > 0  # a changed label is accepted: it is for humans only
