"""Consortium file, trust sets, storage receipts, certificates, node requests (pure).

DESIGN.md sections 3 and 5; reference/consortium.md sections 1-3 (one round of
signed storage receipts); docs/consortium.md.

- ``Consortium.parse(text)`` / ``.format()``, ``Member``, ``.member(org)``,
  ``.trust_set_for(principal, lookup)``, ``.digest``
- ``TrustSet(members, model, f)``, ``.threshold``, ``.is_met(signers)``,
  ``quorum_threshold(n, model, f)``
- ``public_key(vkey)`` (to be replaced by accord.note's verifier-key parser)
"""

from accord.quorum.consortium import Consortium, Member
from accord.quorum.trustset import (
    BYZANTINE,
    MAJORITY,
    TrustSet,
    TrustSetLookup,
    quorum_threshold,
    resolve_trust_set,
)
from accord.quorum.vkeys import check_vkey, public_key, vkey_for

__all__ = [
    "BYZANTINE",
    "MAJORITY",
    "Consortium",
    "Member",
    "TrustSet",
    "TrustSetLookup",
    "check_vkey",
    "public_key",
    "quorum_threshold",
    "resolve_trust_set",
    "vkey_for",
]
