"""The seal state machine a node holds in memory (DESIGN.md section 6).

A :class:`Vault` starts **sealed**: it knows the keystore (wrapped secrets, share
digests) but not the master key. Shares arrive one at a time (``accord unseal``, ``POST
/v1/unseal``), as in HashiCorp Vault: each is checked on arrival, a bad one is refused
with a clear error while the good ones already given are kept, and the k-th good share
unseals. :meth:`Vault.seal` forgets the master key and every secret (best effort: the
bytearrays it holds are zeroed and dropped; copies handed out cannot be recalled).

Thread-safe: one lock guards the state.
"""

from __future__ import annotations

import secrets as _secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from accord.errors import SealedError, UsageError, VerificationError
from accord.keys import keystore as ks
from accord.keys.datakeys import DATA_KEYS_KEK_LABEL
from accord.keys.shamir import RandBytes
from accord.keys.shares import ShareFile, combine_shares
from accord.keys.wrapping import derive_kek

__all__ = ["Progress", "Vault"]

_DATAKEYS_LABEL = DATA_KEYS_KEK_LABEL


@dataclass(frozen=True, slots=True)
class Progress:
    """Where unsealing stands: ``have`` good shares of the ``need`` required.

    When unsealed, ``sealed`` is False and ``have == need``.
    """

    sealed: bool
    have: int
    need: int
    keyset: str

    def to_json(self) -> dict[str, object]:
        return {"sealed": self.sealed, "have": self.have, "need": self.need, "keyset": self.keyset}


def _wipe(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


class Vault:
    """Holds a node's keystore and, once unsealed, its master key and secrets."""

    def __init__(
        self, keystore: ks.Keystore, *, randbytes: RandBytes = _secrets.token_bytes
    ) -> None:
        if not isinstance(keystore, ks.Keystore):
            raise UsageError("Vault needs a Keystore")
        self._keystore = keystore
        self._randbytes = randbytes
        self._lock = threading.RLock()
        self._pending: dict[int, ShareFile] = {}
        self._master: bytearray | None = None
        self._datakeys_kek: bytearray | None = None
        self._secrets: dict[str, bytearray] = {}
        self._on_seal: list[Callable[[], None]] = []

    # -- state -------------------------------------------------------------

    @property
    def keystore(self) -> ks.Keystore:
        """The keystore as it is now (after :meth:`put_secret` or :meth:`resplit`)."""
        return self._keystore

    @property
    def sealed(self) -> bool:
        return self._master is None

    @property
    def progress(self) -> Progress:
        with self._lock:
            split = self._keystore.split
            have = split.threshold if self._master is not None else len(self._pending)
            return Progress(self._master is None, have, split.threshold, split.keyset.hex())

    def on_seal(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every :meth:`seal` (e.g. to drop cached data keys)."""
        with self._lock:
            self._on_seal.append(callback)

    # -- unsealing -----------------------------------------------------------

    def submit_share(self, text: str) -> Progress:
        """Parse one share file's text and :meth:`submit` it."""
        return self.submit(ShareFile.parse(text))

    def submit(self, share: ShareFile) -> Progress:
        """Add one share; the k-th good share unseals.

        Raises, keeping the good shares already given: BadShareError (a foreign share,
        or "share x is not a share of this node's key"), UsageError (duplicate share).
        If k good shares do not open the keystore (it was altered), VerificationError,
        and the pending shares are dropped. Once unsealed, a good share is accepted and
        changes nothing.
        """
        with self._lock:
            self._keystore.split.check(share)
            if self._master is not None:
                return self.progress
            if share.x in self._pending:
                raise UsageError(f"duplicate share: share {share.x} was already given", x=share.x)
            self._pending[share.x] = share
            if len(self._pending) >= self._keystore.split.threshold:
                pending = list(self._pending.values())
                self._pending.clear()
                self._unseal(combine_shares(self._keystore.split, pending))
            return self.progress

    def unseal_with(self, shares: Iterable[str | ShareFile]) -> Progress:
        """Unseal in one step from at least k shares (texts or parsed), all checked first.

        Errors as :func:`accord.keys.shares.combine_shares` ("need k shares, have j"
        included); shares given earlier through :meth:`submit` are not used and are
        kept on failure, dropped on success.
        """
        if isinstance(shares, str | bytes):
            raise UsageError("unseal_with takes a list of share files, not one text")
        parsed = [s if isinstance(s, ShareFile) else ShareFile.parse(s) for s in shares]
        with self._lock:
            master = combine_shares(self._keystore.split, parsed)
            if self._master is None:
                self._unseal(master)
                self._pending.clear()
            return self.progress

    def reset(self) -> None:
        """Drop the shares given so far (a sealed vault stays sealed)."""
        with self._lock:
            self._pending.clear()

    def _unseal(self, master_bytes: bytes) -> None:
        """Check the combined key, open every secret and keep them. Lock held."""
        master = bytearray(master_bytes)
        try:
            opened = ks.open_secrets(self._keystore, master)
        except VerificationError:
            _wipe(master)
            raise
        self._secrets = {name: bytearray(value) for name, value in opened.items()}
        self._datakeys_kek = bytearray(derive_kek(master, _DATAKEYS_LABEL))
        self._master = master

    # -- sealing -------------------------------------------------------------

    def seal(self) -> None:
        """Forget the master key, the secrets and any pending shares; then run callbacks."""
        with self._lock:
            self._pending.clear()
            for buf in (self._master, self._datakeys_kek, *self._secrets.values()):
                if buf is not None:
                    _wipe(buf)
            self._master = None
            self._datakeys_kek = None
            self._secrets = {}
            callbacks = list(self._on_seal)
        for callback in callbacks:
            callback()

    # -- use while unsealed ----------------------------------------------------

    def _require_master(self) -> bytearray:
        if self._master is None:
            raise SealedError("the node is sealed: unseal it with k key shares first")
        return self._master

    def secret(self, name: str) -> bytes:
        """A copy of secret ``name``. SealedError while sealed; UsageError if absent."""
        with self._lock:
            self._require_master()
            value = self._secrets.get(name)
            if value is None:
                raise UsageError(f"the keystore holds no secret named {name!r}", name=name)
            return bytes(value)

    def master_kek(self) -> bytes:
        """The key-encryption key for data keys (HKDF of the master). SealedError if sealed."""
        with self._lock:
            self._require_master()
            assert self._datakeys_kek is not None  # noqa: S101 - set together with the master
            return bytes(self._datakeys_kek)

    def put_secret(self, name: str, value: bytes | bytearray) -> ks.Keystore:
        """Add or replace a secret; returns the new keystore for the caller to save."""
        with self._lock:
            master = self._require_master()
            updated = ks.put_secret(self._keystore, master, name, value, randbytes=self._randbytes)
            old = self._secrets.get(name)
            if old is not None:
                _wipe(old)
            self._secrets[name] = bytearray(value)
            self._keystore = updated
            return updated

    def resplit(
        self, *, threshold: int, shares: int, name: str | None = None
    ) -> tuple[ks.Keystore, tuple[ShareFile, ...]]:
        """New shares of the same master key (old shares become foreign); the caller saves
        the returned keystore and hands out the share files."""
        with self._lock:
            master = self._require_master()
            updated, files = ks.resplit(
                self._keystore,
                master,
                threshold=threshold,
                shares=shares,
                name=name,
                randbytes=self._randbytes,
            )
            self._keystore = updated
            self._pending.clear()
            return updated, files
