"""Consortium file, trust sets, storage receipts, certificates, node requests (pure).

DESIGN.md sections 3 and 5; reference/consortium.md sections 1-3 (one round of
signed storage receipts); docs/formats.md sections 6-7; docs/consortium.md.

- ``Consortium.parse(text)`` / ``.format()``, ``Member``, ``.member(org)``,
  ``.trust_set_for(principal, lookup)``, ``.digest``
- ``TrustSet(members, model, f)``, ``.threshold``, ``.is_met(signers)``,
  ``quorum_threshold(n, model, f)``
- ``Receipt`` (with the record's ``principals``), ``ReceiptBatch``,
  ``SignedReceipt``, ``sign_receipts(...)``, ``verify_signed_receipt(signed, key)``,
  ``SignedBatch`` / ``sign_batch(...)`` (a whole batch, compact, verified with one
  signature check), ``VerifiedBatches`` (batch signatures already checked)
- ``org_principal(org)``, ``member_trust_sets(consortium, own)``,
  ``whole_consortium(consortium)``: principal names and their trust sets
- ``Certificate``, ``CertificateBuilder``, ``verify_certificate(cert,
  consortium, trust_set_for)``, ``verify_receipt_in_log(...)``
- ``sign_request(...)``, ``RequestAuth``, ``verify_request(...)``,
  ``authenticate_request(...)``, ``ReplayGuard``
- ``public_key(vkey)`` (to be replaced by accord.note's verifier-key parser)
"""

from accord.quorum.batches import SignedBatch, sign_batch
from accord.quorum.certificate import (
    Certificate,
    CertificateBuilder,
    PrincipalTrustSet,
    verify_certificate,
)
from accord.quorum.consortium import Consortium, Member
from accord.quorum.logleaf import record_of_leaf, verify_receipt_in_log
from accord.quorum.principals import member_trust_sets, org_principal, whole_consortium
from accord.quorum.receipts import (
    Receipt,
    ReceiptBatch,
    SignedReceipt,
    VerifiedBatches,
    sign_receipts,
    verify_signed_receipt,
)
from accord.quorum.requests import (
    ReplayGuard,
    RequestAuth,
    authenticate_request,
    new_nonce,
    sign_request,
    verify_request,
)
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
    "Certificate",
    "CertificateBuilder",
    "Consortium",
    "Member",
    "PrincipalTrustSet",
    "Receipt",
    "ReceiptBatch",
    "ReplayGuard",
    "RequestAuth",
    "SignedBatch",
    "SignedReceipt",
    "TrustSet",
    "TrustSetLookup",
    "VerifiedBatches",
    "authenticate_request",
    "check_vkey",
    "member_trust_sets",
    "new_nonce",
    "org_principal",
    "public_key",
    "quorum_threshold",
    "record_of_leaf",
    "resolve_trust_set",
    "sign_batch",
    "sign_receipts",
    "sign_request",
    "verify_certificate",
    "verify_receipt_in_log",
    "verify_request",
    "verify_signed_receipt",
    "vkey_for",
    "whole_consortium",
]
