"""Working hours (shift text) and local calendar arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from accord.compliance.schedule import LocalClock, Shift, WorkingHours
from accord.errors import MalformedError

MON, TUE, SAT, SUN = 0, 1, 5, 6


@pytest.mark.parametrize(
    ("text", "days", "start", "end", "canonical"),
    [
        ("mon-fri 07:00-19:00", {0, 1, 2, 3, 4}, 420, 1140, "mon-fri 07:00-19:00"),
        ("daily 00:00-24:00", set(range(7)), 0, 1440, "daily 00:00-24:00"),
        ("mon-sun 08:30-17:15", set(range(7)), 510, 1035, "daily 08:30-17:15"),
        ("sat-mon 22:00-06:00", {5, 6, 0}, 1320, 360, "mon,sat-sun 22:00-06:00"),
        ("wed,mon,fri 09:00-12:00", {0, 2, 4}, 540, 720, "mon,wed,fri 09:00-12:00"),
        ("tue 23:59-00:01", {1}, 1439, 1, "tue 23:59-00:01"),
    ],
)
def test_shift_parse_and_canonical_format(
    text: str, days: set[int], start: int, end: int, canonical: str
) -> None:
    shift = Shift.parse(text)
    assert (shift.days, shift.start, shift.end) == (frozenset(days), start, end)
    assert shift.format() == canonical
    assert Shift.parse(shift.format()) == shift


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("no-days", "07:00-19:00"),
        ("bad-day", "mon-fry 07:00-19:00"),
        ("three-part-range", "mon-wed-fri 07:00-19:00"),
        ("empty", "mon 07:00-07:00"),
        ("hour-25", "mon 25:00-26:00"),
        ("minute-60", "mon 07:60-08:00"),
        ("end-24-30", "mon 07:00-24:30"),
        ("end-midnight-as-00", "mon 07:00-00:00"),
        ("one-digit", "mon 7:00-19:00"),
        ("upper", "Mon 07:00-19:00"),
        ("trailing-space", "mon 07:00-19:00 "),
        ("not-a-string", 7),
        ("empty-list", []),
    ],
)
def test_bad_working_hours(name: str, text: object) -> None:
    with pytest.raises(MalformedError) as info:
        WorkingHours.parse(text)
    assert info.value.what == "working hours", name


def test_overnight_shift_belongs_to_its_start_day() -> None:
    night = Shift.parse("mon-fri 19:00-07:00")
    assert night.contains(MON, 19 * 60)
    assert night.contains(TUE, 6 * 60 + 59)
    assert not night.contains(TUE, 7 * 60)
    assert night.contains(SAT, 6 * 60)  # Friday's night shift runs into Saturday
    assert not night.contains(SAT, 19 * 60)
    assert not night.contains(MON, 6 * 60)  # Sunday has no night shift
    assert not night.contains(MON, 12 * 60)


def test_working_hours_is_the_union_of_its_shifts() -> None:
    hours = WorkingHours.parse(["mon-fri 07:00-12:00", "mon-fri 13:00-17:00", "sat 09:00-10:00"])
    assert hours.contains(MON, 8 * 60)
    assert hours.contains(MON, 13 * 60)
    assert not hours.contains(MON, 12 * 60 + 30)
    assert hours.contains(SAT, 9 * 60)
    assert not hours.contains(SUN, 9 * 60)
    assert WorkingHours.parse(list(hours.format())) == hours
    assert WorkingHours.parse("daily 00:00-24:00").contains(SUN, 1439)


def _ms(*args: int, zone: str = "UTC") -> int:
    return int(datetime(*args, tzinfo=ZoneInfo(zone)).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London", "Asia/Kathmandu", "UTC"])
def test_local_clock_matches_zoneinfo_around_the_year(zone: str) -> None:
    clock = LocalClock.of(zone)
    z = ZoneInfo(zone)
    ts = _ms(2024, 1, 1)
    step = 3_600_000 * 7 + 61_001  # odd step: lands on every minute of the day over the year
    while ts < _ms(2025, 1, 1):
        local = datetime.fromtimestamp(ts / 1000, UTC).astimezone(z)
        assert clock.weekday_minute(ts) == (local.weekday(), local.hour * 60 + local.minute)
        day = clock.local_day(ts)
        assert day == (local.date() - datetime(1970, 1, 1).date()).days
        start = clock.day_start(day)
        midnight = datetime(local.year, local.month, local.day, tzinfo=z)
        assert start == int(midnight.timestamp() * 1000)
        ts += step


def test_day_starts_across_dst_changes() -> None:
    clock = LocalClock.of("America/New_York")
    spring = clock.local_day(_ms(2024, 3, 10, 12, zone="America/New_York"))
    assert clock.day_start(spring + 1) - clock.day_start(spring) == 23 * 3_600_000
    autumn = clock.local_day(_ms(2024, 11, 3, 12, zone="America/New_York"))
    assert clock.day_start(autumn + 1) - clock.day_start(autumn) == 25 * 3_600_000


def test_day_start_when_midnight_does_not_exist() -> None:
    # Santiago springs forward at local midnight: 2024-09-08 starts at 01:00
    clock = LocalClock.of("America/Santiago")
    day = clock.local_day(_ms(2024, 9, 8, 12, zone="America/Santiago"))
    start = clock.day_start(day)
    assert clock.local_day(start) == day
    assert clock.local_day(start - 1) == day - 1
    assert clock.weekday_minute(start)[1] == 60


def test_format_and_unknown_zone() -> None:
    clock = LocalClock.of("America/New_York")
    assert clock.format(_ms(2024, 1, 11, 17)) == "2024-01-11 12:00 EST"
    for bad in ("Mars/Olympus", "", "../etc/passwd", 5):
        with pytest.raises(MalformedError, match="timezone"):
            LocalClock.of(bad)  # type: ignore[arg-type]
