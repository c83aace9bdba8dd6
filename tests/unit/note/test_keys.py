"""Key names, key IDs, verifier keys and signer keys (signed-note v1.0.0, x/mod encodings)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from accord.errors import (
    BadSignatureError,
    MalformedError,
    UnsupportedAlgorithmError,
)
from accord.note import Cosigner, Signer, SigType, Verifier, check_key_name, key_id
from accord.note import parse_signer_key as parse_any_signer

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PUB = base64.b64decode("AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")[1:]


def _vkey(name: str, sig_type: int, key: bytes, hex_id: str | None = None) -> str:
    hex_id = key_id(name, sig_type, key).hex() if hex_id is None else hex_id
    return f"{name}+{hex_id}+{base64.b64encode(bytes([sig_type]) + key).decode()}"


# -- key names -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "example.com/foo", "sum.golang.org", "ñandú/λ", "a-b_c.d"])
def test_valid_key_names(name: str) -> None:
    assert check_key_name(name) == name


@pytest.mark.parametrize(
    ("mutation", "name"),
    [
        ("empty", ""),
        ("space", "a b"),
        ("plus", "a+b"),
        ("tab", "a\tb"),
        ("newline", "a\nb"),
        ("no-break-space", "a\u00a0b"),
        ("em-space", "a\u2003b"),
        ("ideographic-space", "a\u3000b"),
        ("line-separator", "a\u2028b"),
        ("control-character", "a\x01b"),
        ("lone-surrogate", "a\ud800b"),
    ],
)
def test_invalid_key_names(mutation: str, name: str) -> None:
    with pytest.raises(MalformedError) as info:
        check_key_name(name)
    assert info.value.what == "key name"


def test_key_id_rule() -> None:
    """SHA-256(name || 0x0A || type || key)[:4], and the spec example's ID."""
    assert key_id("example.com/foo", 1, PUB).hex() == "530d903a"
    want = hashlib.sha256(b"example.com/foo\n\x04" + PUB).digest()[:4]
    assert key_id("example.com/foo", SigType.COSIGNATURE_V1, PUB) == want


# -- verifier keys ---------------------------------------------------------------------


def test_spec_vkey_round_trip() -> None:
    v = Verifier.parse(SPEC_VKEY)
    assert (v.name, v.sig_type, v.public_key) == ("example.com/foo", SigType.ED25519, PUB)
    assert v.key_id.hex() == "530d903a"
    assert v.key_ref == "example.com/foo+530d903a"
    assert v.format() == SPEC_VKEY
    assert Verifier("example.com/foo", SigType.ED25519, PUB) == v


BROKEN_VKEYS = [
    ("no-separators", "example.com/foo", MalformedError),
    ("empty", "", MalformedError),
    ("empty-name", "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", MalformedError),
    ("space-in-name", _vkey("example .com", 1, PUB), MalformedError),
    ("uppercase-hex", SPEC_VKEY.replace("530d903a", "530D903A"), MalformedError),
    ("short-hex", SPEC_VKEY.replace("530d903a", "530d903"), MalformedError),
    ("hex-prefixed-0x", SPEC_VKEY.replace("530d903a", "0x530d903a"), MalformedError),
    ("hex-with-underscore", SPEC_VKEY.replace("530d903a", "530d_03a"), MalformedError),
    ("wrong-key-id", SPEC_VKEY.replace("530d903a", "530d903b"), MalformedError),
    ("unpadded-base64", SPEC_VKEY.replace("U2k", "U2"), MalformedError),
    ("trailing-newline", SPEC_VKEY + "\n", MalformedError),
    ("empty-key", "example.com/foo+530d903a+", MalformedError),
    ("key-31-bytes", _vkey("example.com/foo", 1, PUB[:31]), MalformedError),
    ("key-33-bytes", _vkey("example.com/foo", 1, PUB + b"\x00"), MalformedError),
    ("type-ecdsa", _vkey("w", 0x02, b"\x04" * 65), UnsupportedAlgorithmError),
    ("type-rfc6962", _vkey("w", 0x05, PUB), UnsupportedAlgorithmError),
    ("type-mldsa44", _vkey("w", 0x06, b"\x07" * 1312), UnsupportedAlgorithmError),
    ("type-reserved-03", _vkey("w", 0x03, PUB), UnsupportedAlgorithmError),
    ("type-unassigned-07", _vkey("w", 0x07, PUB), UnsupportedAlgorithmError),
    ("type-ff", _vkey("w", 0xFF, PUB), UnsupportedAlgorithmError),
    ("type-00", _vkey("w", 0x00, PUB), UnsupportedAlgorithmError),
]


@pytest.mark.parametrize(
    ("mutation", "text", "error"), BROKEN_VKEYS, ids=[c[0] for c in BROKEN_VKEYS]
)
def test_broken_verifier_keys(mutation: str, text: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        Verifier.parse(text)
    if error is MalformedError:
        assert isinstance(info.value, MalformedError)
        assert info.value.what == "verifier key"


@pytest.mark.parametrize(
    ("sig_type", "message"),
    [
        (0x02, "unsupported algorithm: ECDSA"),
        (0x05, "unsupported algorithm: RFC 6962 TreeHeadSignature"),
        (0x06, "unsupported algorithm: ML-DSA-44"),
        (0x03, "unsupported algorithm: reserved signature type 0x03"),
        (0x42, "unsupported algorithm: signature type 0x42"),
    ],
)
def test_unsupported_algorithms_are_named(sig_type: int, message: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError) as info:
        Verifier.parse(_vkey("w", sig_type, PUB))
    assert info.value.message == message
    assert info.value.details["signature_type"] == sig_type
    with pytest.raises(UnsupportedAlgorithmError):
        Verifier("w", sig_type, PUB)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mutation", "args"),
    [
        ("bool-type", ("w", True, PUB)),
        ("str-type", ("w", "1", PUB)),
        ("short-key", ("w", 1, PUB[:-1])),
        ("str-key", ("w", 1, PUB.hex())),
        ("bad-name", ("w w", 1, PUB)),
    ],
)
def test_verifier_construction_is_checked(mutation: str, args: tuple[object, ...]) -> None:
    with pytest.raises(MalformedError):
        Verifier(*args)  # type: ignore[arg-type]


def test_verifier_refuses_bad_signature_shapes() -> None:
    signer = Signer.generate("log")
    v = signer.verifier()
    sig = signer.sign("hello\n").signature
    assert v.verify(b"hello\n", sig) is None
    for bad in (sig[:-1], sig + b"\x00", b"", bytes(64)):
        with pytest.raises(BadSignatureError):
            v.verify(b"hello\n", bad)
    cosigner = Cosigner.generate("w")
    cv = cosigner.verifier()
    with pytest.raises(BadSignatureError):
        cv.verify(b"hello\n", sig)  # a plain 64-byte signature is not a cosignature
    with pytest.raises(BadSignatureError):
        cv.verify(b"hello\n", b"\xff" * 8 + sig)  # timestamp beyond 2**63 - 1


# -- signer keys -----------------------------------------------------------------------


def test_x_mod_signer_key() -> None:
    signer = Signer.parse(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.format() == PETER_SKEY
    assert signer.verifier() == Verifier.parse(PETER_VKEY)
    assert parse_any_signer(PETER_SKEY) == signer


@pytest.mark.parametrize("cls", [Signer, Cosigner])
def test_generated_keys_round_trip(cls: type[Signer] | type[Cosigner]) -> None:
    key = cls.generate("example.com/k")
    assert key.verifier().sig_type == cls.sig_type
    assert key.verifier().name == "example.com/k"
    assert cls.parse(key.format()) == key
    assert parse_any_signer(key.format()) == key
    assert Verifier.parse(key.verifier().format()) == key.verifier()
    assert cls.from_private_bytes("example.com/k", key.private_bytes()) == key
    assert len(key.private_bytes()) == 32
    assert key != cls.generate("example.com/k")
    assert len({key, cls.from_private_bytes("example.com/k", key.private_bytes())}) == 1


def test_secrets_stay_out_of_repr() -> None:
    for key in (Signer.generate("a"), Cosigner.generate("b")):
        # PRIVATE+KEY+<name>+<hash>+<base64>: the base64 itself may hold a "+"
        secret = key.format().split("+", 4)[4]
        assert len(secret) > 40
        text = repr(key) + str(key)
        assert secret not in text
        assert key.private_bytes().hex() not in text
        assert key.verifier().key_ref in repr(key)


def test_same_seed_different_types_have_different_ids() -> None:
    signer = Signer.generate("example.com/k")
    cosigner = Cosigner.from_private_bytes("example.com/k", signer.private_bytes())
    assert signer.verifier().public_key == cosigner.verifier().public_key
    assert signer.key_id != cosigner.key_id
    assert signer != cosigner


def _skey(name: str, sig_type: int, seed: bytes, hex_id: str | None = None) -> str:
    if hex_id is None:
        pub = Signer.from_private_bytes("x", seed).verifier().public_key
        hex_id = key_id(name, sig_type, pub).hex()
    return f"PRIVATE+KEY+{name}+{hex_id}+{base64.b64encode(bytes([sig_type]) + seed).decode()}"


SEED = bytes(range(32))

BROKEN_SKEYS = [
    ("missing-prefix", PETER_SKEY.removeprefix("PRIVATE+KEY+"), MalformedError),
    ("lowercase-prefix", PETER_SKEY.replace("PRIVATE+KEY", "private+key"), MalformedError),
    ("wrong-key-id", PETER_SKEY.replace("c74f20a3", "c74f20a4"), MalformedError),
    ("uppercase-hex", PETER_SKEY.replace("c74f20a3", "C74F20A3"), MalformedError),
    ("space-in-name", _skey("Peter Neumann", 1, SEED), MalformedError),
    ("seed-31-bytes", _skey("p", 1, SEED[:31], "00000000"), MalformedError),
    ("seed-33-bytes", _skey("p", 1, SEED + b"\x00", "00000000"), MalformedError),
    ("cosigner-key-for-signer", _skey("p", 4, SEED), MalformedError),
    ("type-mldsa44", _skey("p", 6, SEED, "00000000"), UnsupportedAlgorithmError),
    ("type-unassigned", _skey("p", 9, SEED, "00000000"), UnsupportedAlgorithmError),
    ("empty-key", "PRIVATE+KEY+p+00000000+", MalformedError),
    ("seed-changed", PETER_SKEY[:-1] + "A", MalformedError),
]


@pytest.mark.parametrize(
    ("mutation", "text", "error"), BROKEN_SKEYS, ids=[c[0] for c in BROKEN_SKEYS]
)
def test_broken_signer_keys(mutation: str, text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Signer.parse(text)


def test_cosigner_parse_refuses_note_signer_keys() -> None:
    with pytest.raises(MalformedError):
        Cosigner.parse(PETER_SKEY)
    cosigner = Cosigner.parse(_skey("w", 4, SEED))
    assert cosigner.verifier().sig_type is SigType.COSIGNATURE_V1
    assert isinstance(parse_any_signer(_skey("w", 4, SEED)), Cosigner)


def test_from_private_bytes_checks_the_seed() -> None:
    with pytest.raises(MalformedError):
        Signer.from_private_bytes("a", SEED[:31])
    with pytest.raises(MalformedError):
        Signer.from_private_bytes("a b", SEED)


# -- weak Ed25519 public keys ------------------------------------------------------------

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P


def _point(encoded: bytes) -> tuple[int, int] | None:
    """Decode an Ed25519 point (RFC 8032 section 5.1.3), without the canonical check."""
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    sign = encoded[31] >> 7
    u = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(u, (_P + 3) // 8, _P)
    if x * x % _P != u:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if x * x % _P != u:
        return None
    if x & 1 != sign:
        x = _P - x
    return x % _P, y % _P


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = _D * x1 * x2 * y1 * y2 % _P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, _P - 2, _P) % _P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, _P - 2, _P) % _P
    return x3, y3


SMALL_ORDER_KEYS = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    (_P - 1).to_bytes(32, "little"),
]
NON_CANONICAL_KEYS = [(_P + k).to_bytes(32, "little") for k in (0, 1, 2, 18)]


@pytest.mark.parametrize("key", SMALL_ORDER_KEYS, ids=lambda k: k[:4].hex())
def test_small_order_keys_are_refused(key: bytes) -> None:
    """Each listed key really is a point of small order ([8]P is the identity) and is refused."""
    checked = 0
    for encoded in (key, key[:31] + bytes([key[31] | 0x80])):
        point = _point(encoded)
        if point is None or (point[0] == 0 and encoded[31] & 0x80):
            continue  # -0 is not a valid encoding; still refused below
        acc = point
        for _ in range(3):
            acc = _add(acc, acc)
        assert acc == (0, 1)
        checked += 1
    assert checked >= 1
    for encoded in (key, key[:31] + bytes([key[31] | 0x80])):
        with pytest.raises(MalformedError, match="weak Ed25519"):
            Verifier("w", SigType.ED25519, encoded)
        with pytest.raises(MalformedError, match="weak Ed25519"):
            Verifier.parse(_vkey("w", 1, encoded))


@pytest.mark.parametrize("key", NON_CANONICAL_KEYS, ids=lambda k: k[:4].hex())
def test_non_canonical_keys_are_refused(key: bytes) -> None:
    with pytest.raises(MalformedError, match="weak Ed25519"):
        Verifier("w", SigType.COSIGNATURE_V1, key)


def test_real_keys_are_not_weak() -> None:
    for _ in range(50):
        key = Signer.generate("k").verifier().public_key
        point = _point(key)
        assert point is not None
        assert Verifier("k", SigType.ED25519, key).public_key == key
    assert Verifier.parse(SPEC_VKEY).public_key == PUB
