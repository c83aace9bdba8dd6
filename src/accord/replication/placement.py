"""Who must hold a record: its principals, their trust sets, and so the holders.

DESIGN.md sections 3 and 5: a record is sent to every member of the trust set
of every principal it is about, and is final once each set's threshold of
members has signed a storage receipt. Principals are named as receipts and
certificates name them (formats.md section 5): a patient by its keyed pseudonym,
an org by :func:`accord.quorum.org_principal`; a member org's principal has the
whole consortium as trust set (:func:`accord.quorum.member_trust_sets`).

Pure: the pseudonym function is passed in (it holds the consortium's key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accord.errors import MalformedError, UsageError
from accord.quorum import Consortium, TrustSet, TrustSetLookup, org_principal
from accord.records import Statement

__all__ = ["Placement", "Placer", "Pseudonym", "placement_of", "principal_names"]

#: ``pseudonym(kind, value)`` under the consortium's pseudonym key (formats.md section 5).
Pseudonym = Callable[[str, str], str]


def principal_names(statement: Statement, pseudonym: Pseudonym) -> tuple[str, ...]:
    """The sorted, distinct names of ``statement``'s principals (formats.md section 5)."""
    names = {
        org_principal(p.id) if p.kind == "org" else pseudonym(p.kind, p.id)
        for p in statement.principals
    }
    return tuple(sorted(names))


@dataclass(frozen=True, slots=True)
class Placement:
    """A record's principals with their trust sets (sorted by principal name)."""

    trust_sets: tuple[tuple[str, TrustSet], ...]

    def __post_init__(self) -> None:
        if not self.trust_sets:
            raise UsageError("a record is about at least one principal")
        names = [p for p, _ in self.trust_sets]
        if names != sorted(set(names)):
            raise UsageError("placement principals must be sorted and distinct")

    @property
    def principals(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.trust_sets)

    @property
    def sets(self) -> dict[str, TrustSet]:
        return dict(self.trust_sets)

    @property
    def holders(self) -> tuple[str, ...]:
        """Every org that must be sent the record: the union of the trust sets, sorted."""
        return tuple(sorted({org for _, ts in self.trust_sets for org in ts.members}))

    def satisfied_by(self, signers: frozenset[str] | set[str]) -> bool:
        """True when ``signers`` meet every trust set's threshold."""
        return all(ts.is_met(signers) for _, ts in self.trust_sets)

    def format(self) -> str:
        """Compact JSON for storage: ``{principal: {"members", "model", "f"}}``."""
        value = {
            p: {"members": list(ts.members), "model": ts.model, "f": ts.f}
            for p, ts in self.trust_sets
        }
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> Placement:
        """Inverse of :meth:`format`; MalformedError("placement", ...) otherwise."""
        try:
            value: Any = json.loads(text)
            if not isinstance(value, dict):
                raise TypeError("not an object")
            return cls.of(
                {p: TrustSet(tuple(v["members"]), v["model"], v["f"]) for p, v in value.items()}
            )
        except (ValueError, TypeError, KeyError, UsageError) as exc:
            raise MalformedError("placement", str(exc)) from None

    @classmethod
    def of(cls, sets: Mapping[str, TrustSet]) -> Placement:
        return cls(tuple(sorted(sets.items())))


def placement_of(
    statement: Statement,
    consortium: Consortium,
    pseudonym: Pseudonym,
    lookup: TrustSetLookup,
) -> Placement:
    """The placement of a record of ``statement`` in ``consortium``.

    ``lookup`` is :func:`accord.quorum.member_trust_sets` (with principals' own
    sets when they exist). Raises UnknownKeyError if a set names a non-member.
    """
    names = principal_names(statement, pseudonym)
    return Placement.of({p: consortium.trust_set_for(p, lookup) for p in names})


class Placer:
    """:func:`placement_of` with the placements of recent principals remembered.

    A principal's trust set changes only with the consortium file (a new
    :class:`Placer`); keep one per node. Thread-safe (a lost race only
    computes twice).
    """

    def __init__(
        self,
        consortium: Consortium,
        pseudonym: Pseudonym,
        lookup: TrustSetLookup,
        *,
        cache_size: int = 100_000,
    ) -> None:
        self._consortium = consortium
        self._pseudonym = pseudonym
        self._lookup = lookup
        self._cache_size = cache_size
        self._cache: dict[tuple[str, ...], Placement] = {}
        self.members: frozenset[str] = frozenset(consortium.orgs)

    def __call__(self, statement: Statement) -> Placement:
        names = principal_names(statement, self._pseudonym)
        found = self._cache.get(names)
        if found is None:
            found = Placement.of(
                {p: self._consortium.trust_set_for(p, self._lookup) for p in names}
            )
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[names] = found
        return found
