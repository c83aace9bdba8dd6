"""The seal state machine: sealed refuses, progress across calls, clear errors, seal again."""

from __future__ import annotations

import os
import threading

import pytest

from accord.errors import BadShareError, MalformedError, SealedError, UsageError, VerificationError
from accord.keys.keystore import Keystore, create_keystore, open_secrets, recover_master
from accord.keys.shares import ShareFile
from accord.keys.vault import Progress, Vault
from accord.keys.wrapping import derive_kek

SECRETS = {"log_key": os.urandom(32), "witness_key": os.urandom(32), "token_key": os.urandom(32)}
KEYSTORE, SHARES = create_keystore(SECRETS, name="cornell", threshold=3, shares=5)
TEXTS = [s.format() for s in SHARES]
_, FOREIGN = create_keystore({}, name="nyu", threshold=3, shares=5)
KEYSET = KEYSTORE.keyset.hex()


def corrupted(share: ShareFile) -> str:
    y = bytearray(share.share)
    y[5] ^= 0xFF
    return ShareFile(
        share.keyset, share.x, share.threshold, share.total, bytes(y), share.name
    ).format()


def test_starts_sealed_and_refuses_to_use_secrets() -> None:
    vault = Vault(KEYSTORE)
    assert vault.sealed
    assert vault.progress == Progress(sealed=True, have=0, need=3, keyset=KEYSET)
    with pytest.raises(SealedError) as info:
        vault.secret("log_key")
    assert info.value.status == 503
    with pytest.raises(SealedError):
        vault.master_kek()
    with pytest.raises(SealedError):
        vault.put_secret("log_key", b"x")
    with pytest.raises(SealedError):
        vault.resplit(threshold=2, shares=3)


def test_shares_accumulate_across_calls_until_k() -> None:
    vault = Vault(KEYSTORE)
    assert vault.submit_share(TEXTS[4]) == Progress(True, 1, 3, KEYSET)
    assert vault.submit_share(TEXTS[0]) == Progress(True, 2, 3, KEYSET)
    assert vault.sealed
    assert vault.submit_share(TEXTS[2]) == Progress(False, 3, 3, KEYSET)
    assert not vault.sealed
    assert {name: vault.secret(name) for name in SECRETS} == SECRETS
    assert vault.progress.to_json() == {"sealed": False, "have": 3, "need": 3, "keyset": KEYSET}


@pytest.mark.parametrize(
    ("case", "bad", "error", "message"),
    [
        ("wrong share", corrupted(SHARES[3]), BadShareError, "share 4 is not a share of this node"),
        ("foreign share", FOREIGN[3].format(), BadShareError, "foreign share"),
        ("duplicate share", TEXTS[1], UsageError, "duplicate share: share 2"),
        ("truncated share file", TEXTS[3][:40], MalformedError, "malformed share file"),
        ("not a share file", KEYSTORE.format(), MalformedError, "malformed share file"),
    ],
)
def test_a_bad_share_is_refused_and_good_ones_are_kept(
    case: str, bad: str, error: type[Exception], message: str
) -> None:
    vault = Vault(KEYSTORE)
    vault.submit_share(TEXTS[0])
    vault.submit_share(TEXTS[1])
    with pytest.raises(error, match=message):
        vault.submit_share(bad)
    assert vault.progress == Progress(True, 2, 3, KEYSET)
    assert vault.submit_share(TEXTS[3]).sealed is False
    assert vault.secret("token_key") == SECRETS["token_key"]


def test_seal_wipes_and_refuses_again() -> None:
    vault = Vault(KEYSTORE)
    vault.unseal_with(TEXTS[:3])
    held = [vault._master, vault._datakeys_kek, *vault._secrets.values()]  # type: ignore[list-item]
    assert all(any(buf) for buf in held)
    called: list[bool] = []
    vault.on_seal(lambda: called.append(vault.sealed))
    vault.seal()
    assert vault.sealed
    assert called == [True]
    assert all(not any(buf) for buf in held)  # zeroed in place
    with pytest.raises(SealedError):
        vault.secret("log_key")
    with pytest.raises(SealedError):
        vault.master_kek()
    assert vault.progress == Progress(True, 0, 3, KEYSET)
    # and unseals again with any other k shares
    vault.unseal_with([SHARES[4], SHARES[3], TEXTS[2]])
    assert vault.secret("witness_key") == SECRETS["witness_key"]


def test_seal_drops_pending_shares() -> None:
    vault = Vault(KEYSTORE)
    vault.submit_share(TEXTS[0])
    vault.seal()
    assert vault.progress.have == 0
    vault.submit_share(TEXTS[1])
    vault.reset()
    assert vault.progress.have == 0


def test_unseal_with_checks_everything_and_keeps_pending_on_failure() -> None:
    vault = Vault(KEYSTORE)
    vault.submit_share(TEXTS[0])
    with pytest.raises(UsageError, match="need 3 shares, have 2"):
        vault.unseal_with(TEXTS[1:3])
    with pytest.raises(UsageError, match="duplicate share"):
        vault.unseal_with([TEXTS[1], TEXTS[2], TEXTS[1]])
    with pytest.raises(BadShareError, match="share 2 is not a share"):
        vault.unseal_with([TEXTS[0], corrupted(SHARES[1]), TEXTS[2]])
    assert vault.sealed
    assert vault.progress.have == 1
    assert vault.unseal_with(TEXTS[2:]) == Progress(False, 3, 3, KEYSET)
    assert vault.secret("log_key") == SECRETS["log_key"]


def test_good_share_after_unseal_changes_nothing_bad_one_is_still_refused() -> None:
    vault = Vault(KEYSTORE)
    vault.unseal_with(TEXTS[:3])
    assert vault.submit_share(TEXTS[0]) == Progress(False, 3, 3, KEYSET)
    with pytest.raises(BadShareError):
        vault.submit_share(FOREIGN[0].format())
    assert vault.unseal_with(TEXTS[2:]).sealed is False


def test_an_altered_keystore_fails_after_k_shares_and_drops_them() -> None:
    forged, forged_shares = create_keystore({}, name="cornell", threshold=3, shares=5)
    altered = Keystore(KEYSTORE.name, forged.split, KEYSTORE.check, KEYSTORE.secrets)
    vault = Vault(altered)
    vault.submit(forged_shares[0])
    vault.submit(forged_shares[1])
    with pytest.raises(VerificationError, match="does not open this keystore"):
        vault.submit(forged_shares[2])
    assert vault.sealed
    assert vault.progress.have == 0


def test_unknown_secret_is_a_usage_error() -> None:
    vault = Vault(KEYSTORE)
    vault.unseal_with(SHARES[:3])
    with pytest.raises(UsageError, match="no secret named"):
        vault.secret("pseudonym_key")


def test_master_kek_is_the_datakeys_derivation() -> None:
    vault = Vault(KEYSTORE)
    vault.unseal_with(SHARES[1:4])
    master = recover_master(KEYSTORE, SHARES[:3])
    assert vault.master_kek() == derive_kek(master, "accord/keys/v1/datakeys")


def test_put_secret_updates_memory_and_returns_the_keystore_to_save() -> None:
    vault = Vault(KEYSTORE)
    vault.unseal_with(SHARES[:3])
    saved = vault.put_secret("pseudonym_key", b"p" * 32)
    assert vault.keystore is saved
    assert vault.secret("pseudonym_key") == b"p" * 32
    reopened = Vault(Keystore.parse(saved.format()))
    reopened.unseal_with(SHARES[2:])
    assert reopened.secret("pseudonym_key") == b"p" * 32
    assert reopened.secret("log_key") == SECRETS["log_key"]


def test_resplit_from_the_vault() -> None:
    vault = Vault(KEYSTORE)
    vault.unseal_with(SHARES[:3])
    saved, new_shares = vault.resplit(threshold=2, shares=2)
    assert vault.keystore is saved
    assert not vault.sealed
    vault.seal()
    with pytest.raises(BadShareError, match="foreign"):
        vault.submit(SHARES[0])
    vault.unseal_with(new_shares)
    assert {name: vault.secret(name) for name in SECRETS} == SECRETS
    assert open_secrets(saved, recover_master(saved, list(new_shares))) == SECRETS


def test_concurrent_submissions_unseal_exactly_once() -> None:
    for _ in range(5):
        vault = Vault(KEYSTORE)
        errors: list[Exception] = []

        def give(text: str, vault: Vault = vault, errors: list[Exception] = errors) -> None:
            try:
                vault.submit_share(text)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=give, args=(t,)) for t in TEXTS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert not vault.sealed
        assert vault.secret("log_key") == SECRETS["log_key"]


def test_unseal_with_refuses_a_single_text() -> None:
    with pytest.raises(UsageError, match="list of share files"):
        Vault(KEYSTORE).unseal_with(TEXTS[0])


def test_vault_needs_a_keystore() -> None:
    with pytest.raises(UsageError):
        Vault("keystore.json")  # type: ignore[arg-type]
