"""Verifier key strings: the shared C2SP vectors, and every malformed shape as data."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.errors import MalformedError
from accord.quorum.vkeys import (
    SIGTYPE_COSIGNATURE,
    SIGTYPE_ED25519,
    check_vkey,
    public_key,
    vkey_for,
)
from tests.conftest import load_vectors

KEYS = load_vectors("tlog/cosignatures.json")["keys"]
LOG = KEYS["log"]
WITNESS = KEYS["witness_ed25519"]
MLDSA = KEYS["witness_mldsa44"]
PETER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


def _raw(vkey: str) -> str:
    return public_key(vkey).public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@pytest.mark.parametrize(
    ("vector", "sigtype"), [(LOG, SIGTYPE_ED25519), (WITNESS, SIGTYPE_COSIGNATURE)]
)
def test_shared_vectors_parse_to_their_public_keys(vector: dict[str, str], sigtype: int) -> None:
    assert check_vkey(vector["vkey"], sigtype) == vector["vkey"]
    assert _raw(vector["vkey"]) == vector["public_key_hex"]
    assert vkey_for(vector["name"], sigtype, public_key(vector["vkey"])) == vector["vkey"]


def test_x_mod_example_key() -> None:
    assert check_vkey(PETER, SIGTYPE_ED25519) == PETER


def test_a_key_of_the_other_type_is_refused() -> None:
    with pytest.raises(MalformedError, match="expected signature type 0x04, found 0x01"):
        check_vkey(LOG["vkey"], SIGTYPE_COSIGNATURE)
    with pytest.raises(MalformedError, match="expected signature type 0x01, found 0x04"):
        check_vkey(WITNESS["vkey"], SIGTYPE_ED25519)


def _swap_id(vkey: str, new_id: str) -> str:
    name, _, b64 = vkey.split("+", 2)
    return f"{name}+{new_id}+{b64}"


MALFORMED = [
    ("empty", ""),
    ("no separators", "PeterNeumann"),
    ("one separator", "PeterNeumann+c74f20a3"),
    ("empty name", PETER.replace("PeterNeumann", "")),
    ("space in name", PETER.replace("PeterNeumann", "Peter Neumann")),
    ("tab in name", PETER.replace("PeterNeumann", "Peter\tNeumann")),
    ("uppercase key id", _swap_id(PETER, "C74F20A3")),
    ("short key id", _swap_id(PETER, "c74f20a")),
    ("key id not hex", _swap_id(PETER, "c74f20ag")),
    ("key id of another key", _swap_id(PETER, "c74f20a4")),
    ("other name, same key", PETER.replace("PeterNeumann", "PeterNeumann2")),
    ("stray base64 digit", LOG["vkey"] + "A"),
    ("padding appended", PETER + "===="),
    ("base64 with junk", PETER + "!"),
    ("truncated key", PETER[:-4]),
    ("ML-DSA-44 witness key", MLDSA["vkey"]),
    ("signature type 0x02", _swap_id(PETER, "c74f20a3").replace("+ARpc", "+Ahpc")),
    ("too long", "a" * 2000 + "+" + PETER.split("+", 1)[1]),
]


@pytest.mark.parametrize(("mutation", "vkey"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_verifier_keys_are_refused(mutation: str, vkey: str) -> None:
    with pytest.raises(MalformedError) as info:
        public_key(vkey)
    assert info.value.what == "verifier key"


@pytest.mark.parametrize("value", [None, 42, b"PeterNeumann"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(MalformedError):
        public_key(value)  # type: ignore[arg-type]
