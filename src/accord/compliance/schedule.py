"""Working hours and local time: what "after hours" and "a day" mean for one org.

A **shift** is written ``"<days> HH:MM-HH:MM"``: days are ``mon``..``sun``, a range
(``mon-fri``, ``sat-mon`` wraps), a comma list (``mon,wed,fri``) or ``daily``;
times are local, ``00:00``..``23:59`` for the start and ``00:01``..``24:00`` for the
end. A shift whose end is not after its start crosses midnight and belongs to the
day it starts on (``mon-fri 19:00-07:00`` covers Monday 19:00 to Tuesday 07:00).
:class:`WorkingHours` is a set of shifts; ``format()`` writes the canonical text
of each shift so that ``WorkingHours.parse(h.format()) == h``.

:class:`LocalClock` turns a time in ms (UTC) into the local weekday, minute of
the day and the bounds of the local day, for an IANA time zone. It caches the
UTC offset per 15-minute bucket when the offset is constant across the bucket
(every zone in use changes offset on a quarter hour), and computes exactly
otherwise, so it is exact and fast enough for a million records a minute.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accord.errors import MalformedError

__all__ = [
    "DAYS",
    "DAY_MS",
    "LocalClock",
    "Shift",
    "WorkingHours",
    "load_zone",
]

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MS: Final = 86_400_000
_BUCKET: Final = 900_000  # 15 minutes
_SHIFT_RE: Final = re.compile(r"([a-z,\-]+) (\d\d):(\d\d)-(\d\d):(\d\d)")
_WHAT: Final = "working hours"


def load_zone(name: object, what: str) -> ZoneInfo:
    """The IANA time zone ``name``; MalformedError(``what``) if unknown."""
    if not isinstance(name, str) or not name or len(name) > 64 or ".." in name:
        raise MalformedError(what, f"timezone: must be an IANA time zone name, got {name!r:.80}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise MalformedError(what, f"timezone: unknown IANA time zone {name!r:.80}") from None


def _days(text: str) -> frozenset[int]:
    if text == "daily":
        return frozenset(range(7))
    out: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise MalformedError(_WHAT, f"bad days {text!r}: use mon..sun, ranges and commas")
        a, b = DAYS.index(ends[0]), DAYS.index(ends[-1])
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(out)


def _days_text(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "daily"
    runs: list[str] = []
    i = 0
    while i < 7:
        if i not in days:
            i += 1
            continue
        j = i
        while j + 1 < 7 and j + 1 in days:
            j += 1
        runs.append(DAYS[i] if i == j else f"{DAYS[i]}-{DAYS[j]}")
        i = j + 1
    return ",".join(runs)


@dataclass(frozen=True, slots=True)
class Shift:
    """Local ``start``..``end`` minutes on ``days`` (0 = Monday); ``end <= start`` wraps."""

    days: frozenset[int]
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.days or not all(type(d) is int and 0 <= d < 7 for d in self.days):
            raise MalformedError(_WHAT, "a shift needs one or more days")
        if not 0 <= self.start < 1440 or not 0 < self.end <= 1440 or self.start == self.end:
            raise MalformedError(_WHAT, "a shift needs start in 00:00..23:59, end in 00:01..24:00")

    def contains(self, weekday: int, minute: int) -> bool:
        """True if local ``minute`` of ``weekday`` falls in this shift."""
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )

    def format(self) -> str:
        return (
            f"{_days_text(self.days)} {self.start // 60:02d}:{self.start % 60:02d}-"
            f"{self.end // 60:02d}:{self.end % 60:02d}"
        )

    @classmethod
    def parse(cls, text: object) -> Shift:
        if not isinstance(text, str):
            raise MalformedError(_WHAT, f"a shift must be a string, got {text!r:.80}")
        m = _SHIFT_RE.fullmatch(text)
        if m is None:
            raise MalformedError(_WHAT, f"bad shift {text!r:.80}: use e.g. 'mon-fri 07:00-19:00'")
        h1, m1, h2, m2 = (int(g) for g in m.groups()[1:])
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise MalformedError(_WHAT, f"bad time in shift {text!r:.80}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end or end == 0:
            raise MalformedError(_WHAT, f"empty shift {text!r:.80}: write 00:00-24:00 for all day")
        return cls(_days(m.group(1)), start, end)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """A set of shifts; an instant is within working hours if any shift contains it."""

    shifts: tuple[Shift, ...]

    def __post_init__(self) -> None:
        if not self.shifts or not all(type(s) is Shift for s in self.shifts):
            raise MalformedError(_WHAT, "give one or more shifts")

    def contains(self, weekday: int, minute: int) -> bool:
        return any(s.contains(weekday, minute) for s in self.shifts)

    def format(self) -> tuple[str, ...]:
        return tuple(s.format() for s in self.shifts)

    @classmethod
    def parse(cls, texts: object) -> WorkingHours:
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or not texts or len(texts) > 32:
            raise MalformedError(_WHAT, "give a list of 1..32 shifts such as 'mon-fri 07:00-19:00'")
        return cls(tuple(Shift.parse(t) for t in texts))


@dataclass(frozen=True, slots=True, eq=False)
class LocalClock:
    """Local calendar arithmetic in one IANA zone, for times in ms since the epoch (UTC)."""

    zone: ZoneInfo
    _offsets: dict[int, int] = field(default_factory=dict, repr=False)
    _day_starts: dict[int, int] = field(default_factory=dict, repr=False)

    def _exact(self, ts: int) -> int:
        when = datetime.fromtimestamp(ts / 1000, UTC).astimezone(self.zone)
        off = when.utcoffset() or timedelta(0)
        return (off.days * 86_400 + off.seconds) * 1000 + off.microseconds // 1000

    def offset(self, ts: int) -> int:
        """UTC offset in ms at ``ts``."""
        bucket = ts // _BUCKET
        off = self._offsets.get(bucket)
        if off is not None:
            return off
        first = self._exact(bucket * _BUCKET)
        if first == self._exact(bucket * _BUCKET + _BUCKET - 1):
            if len(self._offsets) > 1_000_000:
                self._offsets.clear()
            self._offsets[bucket] = first
            return first
        return self._exact(ts)

    def weekday_minute(self, ts: int) -> tuple[int, int]:
        """(local weekday, 0 = Monday; local minute of the day)."""
        local = ts + self.offset(ts)
        days = local // DAY_MS
        return (days + 3) % 7, (local % DAY_MS) // 60_000

    def local_day(self, ts: int) -> int:
        """Days since 1970-01-01 of the local date at ``ts``."""
        return (ts + self.offset(ts)) // DAY_MS

    def day_start(self, day: int) -> int:
        """The UTC ms of local midnight starting local day ``day`` (first instant of the day)."""
        start = self._day_starts.get(day)
        if start is None:
            guess = day * DAY_MS - self.offset(day * DAY_MS)
            start = day * DAY_MS - self.offset(guess)
            while self.local_day(start - 1) >= day:  # a midnight inside a DST gap
                start -= 60_000
            while self.local_day(start) < day:
                start += 60_000
            if len(self._day_starts) > 100_000:
                self._day_starts.clear()
            self._day_starts[day] = start
        return start

    def format(self, ts: int, spec: str = "%Y-%m-%d %H:%M %Z") -> str:
        """Local time text, ``strftime`` style."""
        return datetime.fromtimestamp(ts / 1000, UTC).astimezone(self.zone).strftime(spec)

    @classmethod
    def of(cls, name: str, what: str = "timezone") -> LocalClock:
        return cls(load_zone(name, what))
