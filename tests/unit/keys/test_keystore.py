"""The sealed keystore: round trip, unsealing, wrong master, edits, re-split, strict parse."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable

import pytest

from accord.encoding import b64encode
from accord.errors import BadShareError, MalformedError, UsageError, VerificationError
from accord.keys.keystore import (
    Keystore,
    check_master,
    create_keystore,
    open_secret,
    open_secrets,
    put_secret,
    recover_master,
    remove_secret,
    resplit,
    unseal,
)
from accord.keys.shares import ShareFile, Split

SECRETS = {name: os.urandom(32) for name in ("log_key", "witness_key", "index_key", "token_key")}
SECRETS["pseudonym_key"] = os.urandom(64)
KEYSTORE, SHARES = create_keystore(SECRETS, name="cornell", threshold=3, shares=5)
MASTER = recover_master(KEYSTORE, SHARES[:3])


def test_round_trip_through_text() -> None:
    text = KEYSTORE.format()
    assert Keystore.parse(text) == KEYSTORE
    assert Keystore.parse(text).format() == text
    obj = json.loads(text)
    assert obj["v"] == 1
    assert obj["type"] == "accord.keystore"
    assert (obj["k"], obj["n"], len(obj["shares"])) == (3, 5, 5)
    assert obj["keyset"] == SHARES[0].keyset.hex()
    assert sorted(obj["secrets"]) == sorted(SECRETS)


def test_every_k_subset_unseals_every_secret() -> None:
    for subset in itertools.combinations(SHARES, 3):
        assert unseal(KEYSTORE, list(subset)) == SECRETS


def test_share_files_describe_the_split() -> None:
    assert [s.x for s in SHARES] == [1, 2, 3, 4, 5]
    assert {(s.threshold, s.total, s.name, s.keyset) for s in SHARES} == {
        (3, 5, "cornell", KEYSTORE.keyset)
    }


def test_two_keystores_have_different_masters_and_keysets() -> None:
    other, other_shares = create_keystore(SECRETS, name="cornell", threshold=3, shares=5)
    assert other.keyset != KEYSTORE.keyset
    assert recover_master(other, other_shares[:3]) != MASTER
    with pytest.raises(BadShareError, match="foreign share"):
        recover_master(KEYSTORE, [SHARES[0], SHARES[1], other_shares[2]])


def test_wrong_master_is_refused() -> None:
    with pytest.raises(VerificationError, match="does not open this keystore"):
        check_master(KEYSTORE, os.urandom(32))
    with pytest.raises(VerificationError):
        open_secrets(KEYSTORE, os.urandom(32))
    with pytest.raises(VerificationError):
        check_master(KEYSTORE, MASTER[:16])


def test_shares_combining_to_another_key_are_refused_after_combining() -> None:
    # An attacker who can edit the keystore file makes share digests match their own
    # shares: every share is "recognised", but the combined key fails the check value.
    forged, forged_shares = create_keystore({}, name="cornell", threshold=3, shares=5)
    altered = Keystore(
        name=KEYSTORE.name,
        split=forged.split,
        check=KEYSTORE.check,
        secrets=KEYSTORE.secrets,
    )
    with pytest.raises(VerificationError, match="does not open this keystore"):
        recover_master(altered, forged_shares[:3])


@pytest.mark.parametrize("field", ["unused digest", "name"])
def test_an_altered_header_is_refused_after_combining(field: str) -> None:
    # shares 1-3 are used; the digest of share 5 and the human name are not checked
    # share by share, but the check value covers the whole header
    digests = list(KEYSTORE.split.digests)
    name = KEYSTORE.name
    if field == "name":
        name = "nyu"
    else:
        digests[4] = bytes(32)
    split_ = Split(KEYSTORE.keyset, 3, 5, tuple(digests))
    altered = Keystore(name, split_, KEYSTORE.check, KEYSTORE.secrets)
    with pytest.raises(VerificationError, match="does not open this keystore"):
        recover_master(altered, SHARES[:3])


def test_open_secret_one_by_one() -> None:
    for name, value in SECRETS.items():
        assert open_secret(KEYSTORE, MASTER, name) == value
    with pytest.raises(UsageError, match="no secret named"):
        open_secret(KEYSTORE, MASTER, "missing")


def test_secret_names_are_bound_as_associated_data() -> None:
    # moving the wrapped log key under the name token_key must not open
    wrapped = dict(KEYSTORE.secrets)
    wrapped["token_key"] = wrapped["log_key"]
    swapped = Keystore(
        KEYSTORE.name, KEYSTORE.split, KEYSTORE.check, tuple(sorted(wrapped.items()))
    )
    assert open_secret(swapped, MASTER, "log_key") == SECRETS["log_key"]
    with pytest.raises(VerificationError):
        open_secret(swapped, MASTER, "token_key")


def test_a_tampered_wrapped_secret_does_not_open() -> None:
    wrapped = dict(KEYSTORE.secrets)
    damaged = bytearray(wrapped["index_key"])
    damaged[20] ^= 0x01
    wrapped["index_key"] = bytes(damaged)
    tampered = Keystore(
        KEYSTORE.name, KEYSTORE.split, KEYSTORE.check, tuple(sorted(wrapped.items()))
    )
    with pytest.raises(VerificationError):
        open_secrets(tampered, MASTER)


def test_put_and_remove_secrets_need_the_master() -> None:
    added = put_secret(KEYSTORE, MASTER, "backup_key", b"b" * 32)
    assert added.names == tuple(sorted([*SECRETS, "backup_key"]))
    assert open_secret(added, MASTER, "backup_key") == b"b" * 32
    replaced = put_secret(added, MASTER, "log_key", b"new log key")
    assert open_secrets(replaced, MASTER) == {
        **SECRETS,
        "backup_key": b"b" * 32,
        "log_key": b"new log key",
    }
    assert Keystore.parse(replaced.format()) == replaced
    removed = remove_secret(replaced, MASTER, "backup_key")
    assert "backup_key" not in removed.names
    with pytest.raises(UsageError):
        remove_secret(removed, MASTER, "backup_key")
    with pytest.raises(VerificationError):
        put_secret(KEYSTORE, os.urandom(32), "log_key", b"x")
    with pytest.raises(UsageError):
        put_secret(KEYSTORE, MASTER, "Bad Name", b"x")
    with pytest.raises(UsageError):
        put_secret(KEYSTORE, MASTER, "log_key", b"")
    with pytest.raises(VerificationError):
        remove_secret(KEYSTORE, os.urandom(32), "log_key")
    # the split is untouched: the same shares still unseal
    assert recover_master(removed, SHARES[2:]) == MASTER


def test_resplit_keeps_the_master_and_makes_old_shares_foreign() -> None:
    again, new_shares = resplit(KEYSTORE, MASTER, threshold=2, shares=3, name="cornell-2")
    assert again.keyset != KEYSTORE.keyset
    assert (again.split.threshold, again.split.total, again.name) == (2, 3, "cornell-2")
    assert again.secrets == KEYSTORE.secrets  # wrapped values untouched
    assert recover_master(again, new_shares[1:]) == MASTER
    assert unseal(again, [new_shares[0], new_shares[2]]) == SECRETS
    with pytest.raises(BadShareError, match="foreign share"):
        recover_master(again, [SHARES[0], new_shares[1]])
    with pytest.raises(VerificationError):
        resplit(KEYSTORE, os.urandom(32), threshold=2, shares=3)


@pytest.mark.parametrize(
    ("case", "secrets", "k", "n"),
    [
        ("threshold 1", {}, 1, 3),
        ("threshold above shares", {}, 4, 3),
        ("256 shares", {}, 2, 256),
        ("bad secret name", {"Log-Key": b"x"}, 2, 3),
        ("empty secret", {"log_key": b""}, 2, 3),
        ("secret too large", {"log_key": bytes(4097)}, 2, 3),
        ("secret not bytes", {"log_key": "text"}, 2, 3),
        ("name empty", {}, 2, 3),
    ],
)
def test_create_refuses_bad_arguments(case: str, secrets: dict[str, bytes], k: int, n: int) -> None:
    with pytest.raises(UsageError):
        create_keystore(
            secrets, name="" if case == "name empty" else "cornell", threshold=k, shares=n
        )


def test_create_is_deterministic_under_injected_randomness() -> None:
    import random

    a = create_keystore(
        SECRETS, name="x", threshold=2, shares=3, randbytes=random.Random(1).randbytes
    )
    b = create_keystore(
        SECRETS, name="x", threshold=2, shares=3, randbytes=random.Random(1).randbytes
    )
    assert a == b


def test_empty_keystore_still_checks_the_master() -> None:
    empty, shares = create_keystore({}, name="n", threshold=2, shares=2)
    assert unseal(empty, list(shares)) == {}
    assert Keystore.parse(empty.format()) == empty


_DROP = object()


def _edit(**changes: object) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        obj = json.loads(text)
        for key, value in changes.items():
            if value is _DROP:
                del obj[key]
            else:
                obj[key] = value
        return json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"

    return mutate


def _edit_secrets(change: Callable[[dict[str, str]], None]) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        obj = json.loads(text)
        change(obj["secrets"])
        return json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"

    return mutate


TEXT = KEYSTORE.format()
BROKEN: list[tuple[str, Callable[[str], str]]] = [
    ("truncated", lambda t: t[:100]),
    ("no final newline", lambda t: t[:-1]),
    ("indented", lambda t: json.dumps(json.loads(t), indent=1, sort_keys=True) + "\n"),
    ("not an object", lambda t: '"keystore"\n'),
    ("extra key", _edit(master="00")),
    ("missing check", _edit(check=_DROP)),
    ("version 2", _edit(v=2)),
    ("type share", _edit(type="accord.share")),
    ("k above n", _edit(k=6)),
    ("k a string", _edit(k="3")),
    ("n true", _edit(n=True)),
    ("one digest missing", lambda t: _edit(shares=json.loads(t)["shares"][:4])(t)),
    ("digest short", lambda t: _edit(shares=["00" * 31, *json.loads(t)["shares"][1:]])(t)),
    ("digest upper case", lambda t: _edit(shares=["AB" * 32, *json.loads(t)["shares"][1:]])(t)),
    ("digest not hex", lambda t: _edit(shares=["zz" * 32, *json.loads(t)["shares"][1:]])(t)),
    ("shares not a list", _edit(shares="x")),
    ("check 27 bytes", _edit(check=b64encode(bytes(27)))),
    ("check not base64", _edit(check="***")),
    ("check a number", _edit(check=1)),
    ("secrets a list", _edit(secrets=[])),
    ("secret bad name", _edit_secrets(lambda s: s.update({"Bad": s["log_key"]}))),
    ("secret too short", _edit_secrets(lambda s: s.update({"log_key": b64encode(bytes(28))}))),
    ("secret not text", _edit_secrets(lambda s: s.update({"log_key": 5}))),
    ("secret bad base64", _edit_secrets(lambda s: s.update({"log_key": "abc"}))),
    ("keyset short", _edit(keyset="00" * 8)),
    ("name empty", _edit(name="")),
    ("duplicate key", lambda t: t.replace('{"check"', '{"k":3,"check"')),
]


@pytest.mark.parametrize(("case", "mutate"), BROKEN, ids=[c for c, _ in BROKEN])
def test_broken_keystores_are_malformed(case: str, mutate: Callable[[str], str]) -> None:
    with pytest.raises(MalformedError) as info:
        Keystore.parse(mutate(TEXT))
    assert info.value.what == "keystore"


def test_repr_shows_no_wrapped_values() -> None:
    text = repr(KEYSTORE)
    for _, wrapped in KEYSTORE.secrets:
        assert b64encode(wrapped) not in text
        assert wrapped.hex() not in text


def test_share_file_text_is_accepted_by_recover_via_parse() -> None:
    parsed = [ShareFile.parse(s.format()) for s in SHARES[1:4]]
    assert recover_master(KEYSTORE, parsed) == MASTER
