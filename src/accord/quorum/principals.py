"""Principals as receipts and certificates name them, and the trust set of each.

A record's principals are named by 32-hex-digit pseudonyms (formats.md section 5):

- a patient (or person) by its keyed pseudonym ``pseudonym(kind, id)``, which
  every member computes with the consortium's pseudonym key;
- an org (the principal of ``accord.source`` registrations) by
  :func:`org_principal`: ``hex(SHA-256("accord/principal/v1\\n" ||
  canonical({"kind": "org", "id": org})))[:32]``. It is not keyed, on purpose:
  org ids are public, and anyone holding the consortium file can recognise a
  member org's principal and its trust set.

Trust sets (DESIGN.md section 5): a member org's principal has the whole
consortium as its trust set (so every member learns every org's sources), with
the default set's fault model; any other principal has its own trust set if
``own`` gives one, else the consortium's default. :func:`member_trust_sets`
is that rule as a :data:`~accord.quorum.TrustSetLookup`, used alike by the
originating node, each receiving member and every verifier.
"""

from __future__ import annotations

from typing import Final

from accord.encoding import domain_hash
from accord.errors import UsageError
from accord.quorum.consortium import Consortium
from accord.quorum.names import is_org_id
from accord.quorum.trustset import TrustSet, TrustSetLookup

__all__ = ["PRINCIPAL_DOMAIN", "member_trust_sets", "org_principal", "whole_consortium"]

PRINCIPAL_DOMAIN: Final = "accord/principal/v1\n"


def org_principal(org: str) -> str:
    """The principal name of org ``org`` (32 lowercase hex digits); UsageError for a bad id."""
    if not is_org_id(org):
        raise UsageError(f"{org!r} is not an org id")
    return domain_hash(PRINCIPAL_DOMAIN, {"kind": "org", "id": org}).hex()[:32]


def whole_consortium(consortium: Consortium) -> TrustSet:
    """Every member, under the default trust set's fault model."""
    default = consortium.trust
    return TrustSet(consortium.orgs, default.model, default.f)


def member_trust_sets(consortium: Consortium, own: TrustSetLookup | None = None) -> TrustSetLookup:
    """The lookup principal -> trust set for ``consortium``.

    A member org's principal (:func:`org_principal`) gets :func:`whole_consortium`;
    any other principal gets ``own(principal)`` (None: the consortium's default).
    """
    everyone = whole_consortium(consortium)
    orgs = {org_principal(org) for org in consortium.orgs}

    def lookup(principal: str) -> TrustSet | None:
        if principal in orgs:
            return everyone
        return own(principal) if own is not None else None

    return lookup
