"""The copied keyed state of ``accord.encoding.hmac_sha256`` must give the standard
library's HMAC-SHA256 byte for byte (keys of every length, including longer than a block,
and many keys at once, past the cache of keyed states), and the RFC 4231 vectors."""

from __future__ import annotations

import hmac
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.encoding import hmac_sha256


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=100), st.binary(max_size=300)), min_size=1))
def test_equals_the_standard_library(pairs: list[tuple[bytes, bytes]]) -> None:
    for key, msg in pairs:
        assert hmac_sha256(key, msg) == hmac.digest(key, msg, "sha256")


def test_rfc4231_vectors() -> None:
    # Test cases 1, 2 and 6 of RFC 4231 section 4.
    assert hmac_sha256(b"\x0b" * 20, b"Hi There").hex() == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    )
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert hmac_sha256(
        b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"
    ).hex() == ("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")


def test_threads_share_a_key_safely() -> None:
    key = b"k" * 32
    expected = {i: hmac.digest(key, str(i).encode(), "sha256") for i in range(2_000)}
    wrong: list[int] = []

    def run() -> None:
        for i, want in expected.items():
            if hmac_sha256(key, str(i).encode()) != want:
                wrong.append(i)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
