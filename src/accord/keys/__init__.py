"""accord.keys: Shamir shares, the sealed keystore, data keys and body encryption.

DESIGN.md section 6. Pure modules: :mod:`shamir` (GF(256) secret sharing), :mod:`shares`
(share files and the checks before combining), :mod:`wrapping` (HKDF and AES-GCM key
wrapping), :mod:`keystore` (the sealed keystore format), :mod:`bodies` (encrypted record
bodies), :mod:`datakeys` (per-principal data keys over a storage seam) and :mod:`vault`
(the in-memory seal state machine). :mod:`files` reads and writes the keystore and share
files.
"""

from accord.keys.bodies import body_key_version, decrypt_body, encrypt_body
from accord.keys.datakeys import DataKey, DataKeys, DataKeyStorage, MemoryDataKeyStorage
from accord.keys.files import (
    KEYSTORE_FILE,
    read_keystore,
    read_share_file,
    write_keystore,
    write_share_files,
)
from accord.keys.keystore import (
    SECRET_NAMES,
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
from accord.keys.shamir import Share, combine, split
from accord.keys.shares import ShareFile, Split, combine_shares
from accord.keys.vault import Progress, Vault

__all__ = [
    "KEYSTORE_FILE",
    "SECRET_NAMES",
    "DataKey",
    "DataKeyStorage",
    "DataKeys",
    "Keystore",
    "MemoryDataKeyStorage",
    "Progress",
    "Share",
    "ShareFile",
    "Split",
    "Vault",
    "body_key_version",
    "check_master",
    "combine",
    "combine_shares",
    "create_keystore",
    "decrypt_body",
    "encrypt_body",
    "open_secret",
    "open_secrets",
    "put_secret",
    "read_keystore",
    "read_share_file",
    "recover_master",
    "remove_secret",
    "resplit",
    "split",
    "unseal",
    "write_keystore",
    "write_share_files",
]
