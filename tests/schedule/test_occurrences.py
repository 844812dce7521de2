"""Cron firings against expectations written by hand from a calendar (January 2027 starts on a
Friday), in UTC unless a test says otherwise."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from liverecd.schedule.cron import parse_cron
from liverecd.schedule.occurrences import day_matches, matching_days, occurrences
from liverecd.schedule.zones import LocalTimeKind

from .timeline_builders import utc

UTC_ZONE = ZoneInfo("UTC")


def fired(expr: str, start: datetime, end: datetime, tz: ZoneInfo = UTC_ZONE) -> list[datetime]:
    return [o.at for o in occurrences(parse_cron(expr), tz, start, end)]


def days_of(expr: str, start: datetime, end: datetime) -> list[int]:
    return [t.day for t in fired(expr, start, end)]


JAN = (utc(2027, 1, 1), utc(2027, 2, 1))


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        # both day fields restricted: the 13th (a Wednesday) OR any Friday
        ("0 12 13 * fri", [1, 8, 13, 15, 22, 29]),
        ("0 12 13 * *", [13]),  # only day-of-month restricted
        ("0 12 * * fri", [1, 8, 15, 22, 29]),  # only day-of-week restricted
        ("0 12 * * 0", [3, 10, 17, 24, 31]),  # 0 is Sunday
        ("0 12 * * 7", [3, 10, 17, 24, 31]),  # and so is 7
        ("0 12 * * sun", [3, 10, 17, 24, 31]),
        ("0 12 * * sat,sun", [2, 3, 9, 10, 16, 17, 23, 24, 30, 31]),
        ("0 12 * * fri-sun", [1, 2, 3, 8, 9, 10, 15, 16, 17, 22, 23, 24, 29, 30, 31]),
        (
            "0 8 4-10 * mon-fri",
            [1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29],
        ),
        ("0 12 */10 * *", [1, 11, 21, 31]),
        # Vixie: a day field starting with `*` is unrestricted, so the rule ANDs: Friday the 1st
        ("0 12 */10 * fri", [1]),
        ("0 12 1 jan *", [1]),
        ("0 12 1 feb *", []),
    ],
)
def test_day_fields_follow_crontab_rules(expr: str, days: list[int]) -> None:
    assert days_of(expr, *JAN) == days


def test_minute_steps_and_hour_ranges_fire_at_each_listed_time() -> None:
    got = fired("*/20 9-10 1 jan *", *JAN)
    assert got == [
        utc(2027, 1, 1, 9, 0),
        utc(2027, 1, 1, 9, 20),
        utc(2027, 1, 1, 9, 40),
        utc(2027, 1, 1, 10, 0),
        utc(2027, 1, 1, 10, 20),
        utc(2027, 1, 1, 10, 40),
    ]


def test_month_names_and_lists_select_months() -> None:
    got = fired("0 0 1 jan,mar *", utc(2027, 1, 1), utc(2027, 12, 31))
    assert got == [utc(2027, 1, 1), utc(2027, 3, 1)]


def test_the_31st_fires_only_in_months_that_have_one() -> None:
    got = fired("30 23 31 * *", utc(2027, 1, 1), utc(2027, 5, 1))
    assert got == [utc(2027, 1, 31, 23, 30), utc(2027, 3, 31, 23, 30)]


def test_february_29th_fires_in_leap_years_only() -> None:
    assert fired("0 0 29 2 *", utc(2027, 1, 1), utc(2029, 1, 1)) == [utc(2028, 2, 29)]


def test_range_is_half_open() -> None:
    assert fired("0 12 * * *", utc(2027, 1, 1, 12), utc(2027, 1, 2, 12)) == [utc(2027, 1, 1, 12)]


def test_empty_or_reversed_range_fires_nothing() -> None:
    assert fired("* * * * *", utc(2027, 1, 1), utc(2027, 1, 1)) == []
    assert fired("* * * * *", utc(2027, 1, 2), utc(2027, 1, 1)) == []


def test_every_minute_for_a_day_is_1440_firings() -> None:
    assert len(fired("* * * * *", utc(2027, 1, 1), utc(2027, 1, 2))) == 1440


def test_local_rule_in_a_fixed_offset_zone_converts_to_utc() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30, no DST
    got = fired("0 9 * * mon", utc(2027, 1, 1), utc(2027, 1, 15), kolkata)
    assert got == [utc(2027, 1, 4, 3, 30), utc(2027, 1, 11, 3, 30)]


def test_local_weekday_is_judged_in_the_local_zone() -> None:
    # Monday 00:30 in Shanghai is Sunday 16:30 UTC.
    got = fired("30 0 * * mon", utc(2027, 1, 1), utc(2027, 1, 8), ZoneInfo("Asia/Shanghai"))
    assert got == [utc(2027, 1, 3, 16, 30)]


def test_occurrences_report_the_wall_time_they_matched() -> None:
    (occ,) = occurrences(
        parse_cron("0 19 * * *"), ZoneInfo("Asia/Shanghai"), utc(2027, 1, 1), utc(2027, 1, 2)
    )
    assert occ.at == utc(2027, 1, 1, 11)
    assert occ.local == datetime(2027, 1, 1, 19)
    assert occ.kind is LocalTimeKind.NORMAL


def test_day_matches_uses_sunday_zero_numbering() -> None:
    sunday = date(2027, 1, 3)
    assert day_matches(parse_cron("0 0 * * 0"), sunday)
    assert not day_matches(parse_cron("0 0 * * 1"), sunday)
    assert day_matches(parse_cron("0 0 * * 1"), date(2027, 1, 4))


def test_matching_days_are_inclusive_and_ordered() -> None:
    got = list(matching_days(parse_cron("0 0 * * mon,wed"), date(2027, 1, 4), date(2027, 1, 11)))
    assert got == [date(2027, 1, 4), date(2027, 1, 6), date(2027, 1, 11)]
