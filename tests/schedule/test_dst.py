"""DST behaviour (DESIGN.md §5), against tables written by hand.

Transitions used (2027):
- America/New_York: Mar 14 02:00 EST -> 03:00 EDT (gap 02:00-03:00, -5 -> -4);
  Nov 7 02:00 EDT -> 01:00 EST (01:00-02:00 twice, -4 -> -5).
- Europe/London: Mar 28 01:00 GMT -> 02:00 BST (gap 01:00-02:00, +0 -> +1);
  Oct 31 02:00 BST -> 01:00 GMT (01:00-02:00 twice).
- Australia/Lord_Howe (half-hour shift): Apr 4 02:00 +11 -> 01:30 +10:30 (01:30-02:00 twice);
  Oct 3 02:00 +10:30 -> 02:30 +11 (gap 02:00-02:30).
- Asia/Kolkata: +05:30 all year.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liverecd.schedule.cron import parse_cron
from liverecd.schedule.findings import dst_findings
from liverecd.schedule.occurrences import occurrences
from liverecd.schedule.timeline import expand, recordings
from liverecd.schedule.zones import LocalTimeKind, resolve_local
from liverecd.streams import Command

from .timeline_builders import H, cron, schedule, stream, utc

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")


def firings_on(expr: str, tz: ZoneInfo, day: date) -> list[datetime]:
    """UTC instants of the firings whose wall time falls on local `day`."""
    midnight = utc(day.year, day.month, day.day)
    occ = occurrences(parse_cron(expr), tz, midnight - 48 * H, midnight + 72 * H)
    return [o.at for o in occ if o.local.date() == day]


CRON_TABLE = [
    # zone, rule, local day, expected UTC firings on that local day
    # New York, spring forward
    (NY, "30 1 * * *", date(2027, 3, 14), [utc(2027, 3, 14, 6, 30)]),
    (NY, "30 2 * * *", date(2027, 3, 14), [utc(2027, 3, 14, 7, 30)]),  # gap: 03:30 EDT
    (NY, "0 3 * * *", date(2027, 3, 14), [utc(2027, 3, 14, 7, 0)]),
    (NY, "0 2,3 * * *", date(2027, 3, 14), [utc(2027, 3, 14, 7, 0)]),  # one instant, once
    (NY, "30 2,3 * * *", date(2027, 3, 14), [utc(2027, 3, 14, 7, 30)]),
    (NY, "30 2 * * *", date(2027, 3, 15), [utc(2027, 3, 15, 6, 30)]),  # next day: normal
    # New York, fall back
    (NY, "30 0 * * *", date(2027, 11, 7), [utc(2027, 11, 7, 4, 30)]),
    (NY, "30 1 * * *", date(2027, 11, 7), [utc(2027, 11, 7, 5, 30)]),  # first 01:30 only
    (NY, "0 2 * * *", date(2027, 11, 7), [utc(2027, 11, 7, 7, 0)]),
    (NY, "0 1,2 * * *", date(2027, 11, 7), [utc(2027, 11, 7, 5, 0), utc(2027, 11, 7, 7, 0)]),
    # London, spring forward
    (LONDON, "0 0 * * *", date(2027, 3, 28), [utc(2027, 3, 28, 0, 0)]),
    (LONDON, "30 1 * * *", date(2027, 3, 28), [utc(2027, 3, 28, 1, 30)]),  # 02:30 BST
    (LONDON, "0 1,2 * * *", date(2027, 3, 28), [utc(2027, 3, 28, 1, 0)]),
    (LONDON, "0 2 * * *", date(2027, 3, 28), [utc(2027, 3, 28, 1, 0)]),
    # London, fall back
    (LONDON, "0 0 * * *", date(2027, 10, 31), [utc(2027, 10, 30, 23, 0)]),
    (LONDON, "30 1 * * *", date(2027, 10, 31), [utc(2027, 10, 31, 0, 30)]),  # BST one
    (LONDON, "0 2 * * *", date(2027, 10, 31), [utc(2027, 10, 31, 2, 0)]),
    # Lord Howe, half-hour fall back: 01:30-02:00 twice
    (LORD_HOWE, "15 1 * * *", date(2027, 4, 4), [utc(2027, 4, 3, 14, 15)]),
    (LORD_HOWE, "45 1 * * *", date(2027, 4, 4), [utc(2027, 4, 3, 14, 45)]),  # first, +11
    (LORD_HOWE, "0 2 * * *", date(2027, 4, 4), [utc(2027, 4, 3, 15, 30)]),
    # Lord Howe, half-hour spring forward: 02:00-02:30 does not exist
    (LORD_HOWE, "0 2 * * *", date(2027, 10, 3), [utc(2027, 10, 2, 15, 30)]),  # 02:30 +11
    (LORD_HOWE, "15 2 * * *", date(2027, 10, 3), [utc(2027, 10, 2, 15, 45)]),  # 02:45 +11
    (LORD_HOWE, "15,45 2 * * *", date(2027, 10, 3), [utc(2027, 10, 2, 15, 45)]),  # once
    (LORD_HOWE, "0 3 * * *", date(2027, 10, 3), [utc(2027, 10, 2, 16, 0)]),
    # Kolkata: no DST, +05:30
    (KOLKATA, "0 9 * * *", date(2027, 3, 14), [utc(2027, 3, 14, 3, 30)]),
    (KOLKATA, "30 2 * * *", date(2027, 11, 7), [utc(2027, 11, 6, 21, 0)]),
]


@pytest.mark.parametrize(("tz", "expr", "day", "expected"), CRON_TABLE)
def test_cron_firings_follow_the_dst_rule(
    tz: ZoneInfo, expr: str, day: date, expected: list[datetime]
) -> None:
    assert firings_on(expr, tz, day) == expected


@pytest.mark.parametrize(
    ("tz", "day", "count", "length"),
    [
        (NY, date(2027, 3, 14), 23, timedelta(hours=23)),
        (NY, date(2027, 3, 15), 24, timedelta(hours=24)),
        (NY, date(2027, 11, 7), 24, timedelta(hours=25)),  # 01:00 fires once
        (LONDON, date(2027, 3, 28), 23, timedelta(hours=23)),
        (LONDON, date(2027, 10, 31), 24, timedelta(hours=25)),
        (LORD_HOWE, date(2027, 4, 4), 24, timedelta(hours=24, minutes=30)),
        (LORD_HOWE, date(2027, 10, 3), 24, timedelta(hours=23, minutes=30)),  # 02:00 -> 02:30
        (KOLKATA, date(2027, 3, 14), 24, timedelta(hours=24)),
    ],
)
def test_hourly_rule_on_transition_days(
    tz: ZoneInfo, day: date, count: int, length: timedelta
) -> None:
    """`0 * * * *` fires once per wall-clock hour that exists; the local day lasts 23/25 h."""
    today = firings_on("0 * * * *", tz, day)
    tomorrow = firings_on("0 * * * *", tz, day + timedelta(days=1))
    assert len(today) == count
    assert tomorrow[0] - today[0] == length


SHORT_AND_LONG_DAYS = {
    NY: {date(2027, 3, 14): timedelta(hours=23), date(2027, 11, 7): timedelta(hours=25)},
    LONDON: {date(2027, 3, 28): timedelta(hours=23), date(2027, 10, 31): timedelta(hours=25)},
}


@pytest.mark.parametrize("tz", [NY, LONDON])
@given(d=st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 12, 31)))
def test_only_transition_days_differ_from_24_hours(tz: ZoneInfo, d: date) -> None:
    """Property: local midnight to local midnight is 24 h on every day of 2027 but the two
    transition days (23 h and 25 h)."""
    expected = SHORT_AND_LONG_DAYS[tz].get(d, timedelta(hours=24))
    first = firings_on("0 0 * * *", tz, d)
    second = firings_on("0 0 * * *", tz, d + timedelta(days=1))
    assert second[0] - first[0] == expected


def test_duration_is_elapsed_time_across_spring_forward() -> None:
    sched = schedule(stream(cron("0 1 14 3 *", 2 * H), tz=NY))
    (rec,) = recordings(sched, utc(2027, 3, 14), utc(2027, 3, 15))
    assert (rec.start, rec.end) == (utc(2027, 3, 14, 6), utc(2027, 3, 14, 8))
    assert rec.end.astimezone(NY).hour == 4  # 01:00 EST + 2 h elapsed = 04:00 EDT


def test_duration_is_elapsed_time_across_fall_back() -> None:
    sched = schedule(stream(cron("30 0 7 11 *", 3 * H), tz=NY))
    (rec,) = recordings(sched, utc(2027, 11, 7), utc(2027, 11, 8))
    assert (rec.start, rec.end) == (utc(2027, 11, 7, 4, 30), utc(2027, 11, 7, 7, 30))
    assert rec.end.astimezone(NY).strftime("%H:%M %Z") == "02:30 EST"


def test_lord_howe_window_across_the_half_hour_gap() -> None:
    sched = schedule(stream(cron("30 1 3 10 *", H), tz=LORD_HOWE))
    (rec,) = recordings(sched, utc(2027, 10, 2), utc(2027, 10, 3))
    assert (rec.start, rec.end) == (utc(2027, 10, 2, 15, 0), utc(2027, 10, 2, 16, 0))
    assert rec.end.astimezone(LORD_HOWE).strftime("%H:%M") == "03:00"  # 01:30 + 1 h elapsed


@pytest.mark.parametrize(
    ("tz", "wall", "expected"),
    [
        (NY, datetime(2027, 3, 14, 2, 30), utc(2027, 3, 14, 7, 30)),  # gap: forward by 1 h
        (NY, datetime(2027, 11, 7, 1, 30), utc(2027, 11, 7, 5, 30)),  # twice: first
        (LONDON, datetime(2027, 3, 28, 1, 30), utc(2027, 3, 28, 1, 30)),
        (LONDON, datetime(2027, 10, 31, 1, 30), utc(2027, 10, 31, 0, 30)),
        (LORD_HOWE, datetime(2027, 10, 3, 2, 15), utc(2027, 10, 2, 15, 45)),  # forward 30 min
        (LORD_HOWE, datetime(2027, 4, 4, 1, 45), utc(2027, 4, 3, 14, 45)),
        (KOLKATA, datetime(2027, 3, 14, 2, 30), utc(2027, 3, 13, 21, 0)),
    ],
)
def test_one_off_wall_times_follow_the_same_rule(
    tz: ZoneInfo, wall: datetime, expected: datetime
) -> None:
    """One-off instants are resolved by the loader through `resolve_local`, as cron rules are."""
    assert resolve_local(wall, tz) == expected


def test_spring_forward_firing_is_one_action_pair() -> None:
    sched = schedule(stream(cron("0 2,3 * * *", H), tz=NY))
    acts = expand(sched, utc(2027, 3, 14, 5), utc(2027, 3, 14, 12))
    assert [(a.time, a.command) for a in acts] == [
        (utc(2027, 3, 14, 7), Command.START),
        (utc(2027, 3, 14, 8), Command.STOP),
        (utc(2027, 3, 14, 8), Command.CANCEL_DELAY),
    ]


def test_check_warns_about_gap_and_ambiguous_firings_with_file_and_line() -> None:
    sched = schedule(
        stream(cron("30 2 * * *", H, line=7), name="a", tz=NY),
        stream(cron("30 1 * * *", H, line=12), name="b", tz=NY),
        stream(cron("0 12 * * *", H, line=15), name="c", tz=NY),
    )
    spring = dst_findings(sched, utc(2027, 3, 13), utc(2027, 3, 16))
    assert [(p.line, p.severity) for p in spring] == [(7, "warning")]
    assert "2027-03-14 02:30" in spring[0].message
    assert "does not exist in America/New_York" in spring[0].message
    assert "03:30 EDT" in spring[0].message
    fall = dst_findings(sched, utc(2027, 11, 6), utc(2027, 11, 9))
    assert [(p.line, p.severity) for p in fall] == [(12, "warning")]
    assert "2027-11-07 01:30" in fall[0].message
    assert "happens twice" in fall[0].message
    assert "01:30 EDT" in fall[0].message


def test_check_collapses_many_firings_in_one_ambiguous_hour() -> None:
    sched = schedule(stream(cron("* * * * *", H), tz=NY))
    found = dst_findings(sched, utc(2027, 11, 7), utc(2027, 11, 8))
    assert len(found) == 1
    assert "59 more firings" in found[0].message


def test_no_dst_warnings_in_kolkata() -> None:
    sched = schedule(stream(cron("* * * * *", H), tz=KOLKATA))
    assert dst_findings(sched, utc(2027, 3, 1), utc(2027, 12, 1)) == []


def test_gap_firing_kinds_are_reported() -> None:
    occ = occurrences(parse_cron("0 * * * *"), NY, utc(2027, 3, 14, 5), utc(2027, 3, 14, 9))
    assert [(o.local.hour, o.kind) for o in occ] == [
        (0, LocalTimeKind.NORMAL),
        (1, LocalTimeKind.NORMAL),
        (2, LocalTimeKind.GAP),  # names 07:00Z, which 03:00 would also have named
        (4, LocalTimeKind.NORMAL),
    ]
