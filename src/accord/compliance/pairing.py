"""Pairing the export and import halves of disclosures into transfers (healthcare.md 5, 9).

The sender logs the export half (BALP PrivacyDisclosure.Source), the receiver
the import half (PrivacyDisclosure.Recipient); only a shared ledger sees both.
Two halves belong to one transfer when they have the same ``transfer_id``,
``discloser_org``, ``recipient_org`` and ``patient``. Within such a group an
import whose ``other_half`` names an export is paired with it first; the rest
pair in log order; what is left stands alone ("export only", "import only").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, cast

from accord.compliance.facts import Entry
from accord.records.schemas import Disclosure

__all__ = ["EXPORT_ONLY", "IMPORT_ONLY", "PAIRED", "Transfer", "pair_halves"]

PAIRED: Final = "export and import"
EXPORT_ONLY: Final = "export only"
IMPORT_ONLY: Final = "import only"


@dataclass(frozen=True, slots=True)
class Transfer:
    """One disclosure as the ledger saw it: its export half, import half, or both."""

    export: Entry | None
    received: Entry | None

    @property
    def first(self) -> Entry:
        """The export half if logged, else the import half."""
        return cast(Entry, self.export or self.received)

    @property
    def view(self) -> Disclosure:
        """The disclosure fields as the discloser stated them (else as the recipient did)."""
        return cast(Disclosure, self.first.view)

    @property
    def date(self) -> int:
        """When the disclosure happened: the export's event time, else the import's."""
        return self.first.event_ts

    @property
    def status(self) -> str:
        if self.export is not None and self.received is not None:
            return PAIRED
        return EXPORT_ONLY if self.export is not None else IMPORT_ONLY

    @property
    def halves(self) -> tuple[Entry, ...]:
        return tuple(h for h in (self.export, self.received) if h is not None)

    def differences(self) -> tuple[str, ...]:
        """Where the two halves disagree (empty for a single half)."""
        if self.export is None or self.received is None:
            return ()
        a, b = cast(Disclosure, self.export.view), cast(Disclosure, self.received.view)
        out = []
        if set(a.record_refs) != set(b.record_refs):
            out.append("the halves list different records")
        if a.purpose != b.purpose:
            out.append(f"purpose {a.purpose} at export, {b.purpose} at import")
        if b.other_half is not None and b.other_half != self.export.hash:
            out.append("the import names another export as its other half")
        return tuple(out)


def pair_halves(halves: Iterable[Entry]) -> list[Transfer]:
    """Transfers made of ``halves`` (in log order; duplicates by hash ignored), sorted by
    date then the first half's record hash."""
    groups: dict[tuple[str, str, str, str], tuple[list[Entry], list[Entry]]] = {}
    seen: set[bytes] = set()
    for h in halves:
        if h.hash in seen:
            continue
        seen.add(h.hash)
        d = cast(Disclosure, h.view)
        key = (d.transfer_id, d.discloser_org, d.recipient_org, d.patient)
        exports, imports = groups.setdefault(key, ([], []))
        (exports if d.half == "export" else imports).append(h)
    out: list[Transfer] = []
    for exports, imports in groups.values():
        free = list(exports)
        rest: list[Entry] = []
        for imp in imports:
            named = cast(Disclosure, imp.view).other_half
            match = next((e for e in free if e.hash == named), None)
            if match is None:
                rest.append(imp)
            else:
                free.remove(match)
                out.append(Transfer(match, imp))
        for i in range(max(len(free), len(rest))):
            out.append(
                Transfer(free[i] if i < len(free) else None, rest[i] if i < len(rest) else None)
            )
    out.sort(key=lambda t: (t.date, t.first.hash))
    return out
