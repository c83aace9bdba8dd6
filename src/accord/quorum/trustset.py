"""Trust sets and their quorum thresholds (DESIGN.md section 5; consortium.md section 2).

A trust set is a set of orgs plus a fault model:

- ``majority`` (crash faults): ``q = floor(n/2) + 1``; two quorums intersect.
- ``byzantine`` with ``f``: ``q = ceil((n+f+1)/2)`` and ``n >= 3f+1``, so two
  quorums share at least ``f+1`` orgs, one of them correct (Malkhi-Reiter
  dissemination quorums; n = 5, f = 1 needs 4 of 5).

A record about several principals needs the quorum of **each** principal's set.
A principal's own trust set reaches the core through a narrow callable,
:data:`TrustSetLookup`; ``None`` means "use the consortium's default".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final

from accord.errors import UnknownKeyError, UsageError
from accord.quorum.names import is_org_id, is_principal

__all__ = [
    "BYZANTINE",
    "MAJORITY",
    "MAX_TRUST_SET",
    "MODELS",
    "TrustSet",
    "TrustSetLookup",
    "quorum_threshold",
    "resolve_trust_set",
]

MAJORITY: Final = "majority"
BYZANTINE: Final = "byzantine"
MODELS: Final = (MAJORITY, BYZANTINE)
#: The most orgs one trust set may name (consortia are 5-20 orgs; this bounds hostile input).
MAX_TRUST_SET: Final = 256

#: principal (hex pseudonym) -> that principal's own trust set, or None for the default.
TrustSetLookup = Callable[[str], "TrustSet | None"]


def quorum_threshold(n: int, model: str, f: int = 0) -> int:
    """The quorum size q for ``n`` orgs under ``model`` (consortium.md section 2).

    Raises UsageError for n < 1, an unknown model, f != 0 with ``majority``,
    f < 0, or n < 3f+1 with ``byzantine``.
    """
    if type(n) is not int or n < 1:
        raise UsageError(f"a trust set needs at least one org, not {n!r}")
    if type(f) is not int or f < 0:
        raise UsageError(f"f must be a non-negative integer, not {f!r}")
    if model == MAJORITY:
        if f != 0:
            raise UsageError(f"the majority model tolerates crashes only: f must be 0, not {f}")
        return n // 2 + 1
    if model == BYZANTINE:
        if n < 3 * f + 1:
            raise UsageError(
                f"byzantine f={f} needs at least {3 * f + 1} orgs (n >= 3f+1), this set has {n}"
            )
        return (n + f + 2) // 2  # ceil((n+f+1)/2)
    raise UsageError(f"unknown fault model {model!r}: expected 'majority' or 'byzantine'")


@dataclass(frozen=True, slots=True)
class TrustSet:
    """A set of orgs and a fault model. ``members`` is kept sorted; duplicates are refused.

    Raises UsageError for an invalid set (see :func:`quorum_threshold`), an org
    id that is not one (formats.md section 1) or a repeated org.
    """

    members: tuple[str, ...]
    model: str = MAJORITY
    f: int = 0

    def __post_init__(self) -> None:
        members = self.members
        if not isinstance(members, tuple | list | frozenset | set):
            raise UsageError("trust set members must be a sequence of org ids")
        if len(members) > MAX_TRUST_SET:
            raise UsageError(f"a trust set names at most {MAX_TRUST_SET} orgs")
        for org in members:
            if not is_org_id(org):
                raise UsageError(f"trust set member {org!r} is not an org id")
        ordered = tuple(sorted(members))
        if len(set(ordered)) != len(ordered):
            dup = next(o for i, o in enumerate(ordered[1:]) if ordered[i] == o)
            raise UsageError(f"trust set names org {dup!r} twice")
        quorum_threshold(len(ordered), self.model, self.f)
        object.__setattr__(self, "members", ordered)

    @property
    def n(self) -> int:
        return len(self.members)

    @property
    def threshold(self) -> int:
        """q: how many distinct members must hold a record (consortium.md section 2)."""
        return quorum_threshold(len(self.members), self.model, self.f)

    def count(self, signers: Iterable[str]) -> int:
        """How many distinct members of this set are among ``signers``."""
        return len(set(signers).intersection(self.members))

    def is_met(self, signers: Iterable[str]) -> bool:
        """True when distinct members among ``signers`` reach the threshold."""
        return self.count(signers) >= self.threshold

    def describe(self) -> str:
        """E.g. ``majority of [a, b, c], threshold 2`` (for error messages and reports)."""
        model = self.model if self.model == MAJORITY else f"byzantine f={self.f}"
        return f"{model} of [{', '.join(self.members)}], threshold {self.threshold}"

    def to_json(self) -> dict[str, Any]:
        """The trust-set fields of a certificate (formats.md section 6)."""
        return {
            "members": list(self.members),
            "model": self.model,
            "f": self.f,
            "threshold": self.threshold,
        }


def resolve_trust_set(
    principal: str,
    lookup: TrustSetLookup | None,
    default: TrustSet,
    members: Collection[str],
) -> TrustSet:
    """The trust set of ``principal``: ``lookup(principal)``, or ``default`` when None.

    ``members`` are the consortium's org ids. Raises UsageError for a principal
    that is not a 32-hex pseudonym, and UnknownKeyError when the set names an org
    outside the consortium (no key is known for it, so it could never sign).
    """
    if not is_principal(principal):
        raise UsageError(f"principal {principal!r} is not a 32-hex-digit pseudonym")
    found = lookup(principal) if lookup is not None else None
    if found is None:
        found = default
    elif not isinstance(found, TrustSet):
        raise UsageError(f"trust set lookup for {principal} returned {type(found).__name__}")
    outside = [org for org in found.members if org not in members]
    if outside:
        raise UnknownKeyError(
            f"trust set of principal {principal} names {', '.join(outside)}, "
            "not members of the consortium",
            principal=principal,
            orgs=outside,
        )
    return found
