"""Crontab parsing (liverecd.schedule.cron): value sets written out by hand, and the errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liverecd.schedule.cron import parse_cron

ALL_MINUTES = frozenset(range(60))
ALL_HOURS = frozenset(range(24))
ALL_DOMS = frozenset(range(1, 32))
ALL_MONTHS = frozenset(range(1, 13))
ALL_DOWS = frozenset(range(7))


@pytest.mark.parametrize(
    ("expr", "minutes", "hours", "doms", "months", "dows"),
    [
        ("0 19 * * mon-fri", {0}, {19}, ALL_DOMS, ALL_MONTHS, {1, 2, 3, 4, 5}),
        ("*/15 * * * *", {0, 15, 30, 45}, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS),
        ("5/20 * * * *", {5, 25, 45}, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS),
        ("10-30/10 8-10 * * *", {10, 20, 30}, {8, 9, 10}, ALL_DOMS, ALL_MONTHS, ALL_DOWS),
        ("0 0 1,15,31 * *", {0}, {0}, {1, 15, 31}, ALL_MONTHS, ALL_DOWS),
        ("0 12 * jan,JUL,Dec *", {0}, {12}, ALL_DOMS, {1, 7, 12}, ALL_DOWS),
        ("0 12 * mar-may *", {0}, {12}, ALL_DOMS, {3, 4, 5}, ALL_DOWS),
        ("0 6 * * 7", {0}, {6}, ALL_DOMS, ALL_MONTHS, {0}),
        ("0 6 * * 0", {0}, {6}, ALL_DOMS, ALL_MONTHS, {0}),
        ("0 6 * * 5-7", {0}, {6}, ALL_DOMS, ALL_MONTHS, {5, 6, 0}),
        ("0 6 * * fri-sun", {0}, {6}, ALL_DOMS, ALL_MONTHS, {5, 6, 0}),
        ("0 6 * * SAT,Sun", {0}, {6}, ALL_DOMS, ALL_MONTHS, {6, 0}),
        ("0 6 * * */2", {0}, {6}, ALL_DOMS, ALL_MONTHS, {0, 2, 4, 6}),
        ("59 23 31 12 *", {59}, {23}, {31}, {12}, ALL_DOWS),
        (
            "0-5,58-59 * * * *",
            {0, 1, 2, 3, 4, 5, 58, 59},
            ALL_HOURS,
            ALL_DOMS,
            ALL_MONTHS,
            ALL_DOWS,
        ),
        ("  0   19 *  *   mon-fri  ", {0}, {19}, ALL_DOMS, ALL_MONTHS, {1, 2, 3, 4, 5}),
        ("@hourly", {0}, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS),
        ("@daily", {0}, {0}, ALL_DOMS, ALL_MONTHS, ALL_DOWS),
        ("@midnight", {0}, {0}, ALL_DOMS, ALL_MONTHS, ALL_DOWS),
        ("@weekly", {0}, {0}, ALL_DOMS, ALL_MONTHS, {0}),
        ("@monthly", {0}, {0}, {1}, ALL_MONTHS, ALL_DOWS),
        ("@yearly", {0}, {0}, {1}, {1}, ALL_DOWS),
        ("@Annually", {0}, {0}, {1}, {1}, ALL_DOWS),
    ],
)
def test_fields_expand_to_the_sets_crontab_means(
    expr: str,
    minutes: set[int],
    hours: set[int],
    doms: set[int],
    months: set[int],
    dows: set[int],
) -> None:
    spec = parse_cron(expr)
    assert spec.minutes == minutes
    assert spec.hours == hours
    assert spec.days_of_month == doms
    assert spec.months == months
    assert spec.days_of_week == dows


@pytest.mark.parametrize(
    ("expr", "dom_restricted", "dow_restricted"),
    [
        ("0 0 * * *", False, False),
        ("0 0 1 * *", True, False),
        ("0 0 * * mon", False, True),
        ("0 0 1,15 * fri", True, True),
        # Vixie's rule: a field starting with `*` is unrestricted, even with a step.
        ("0 0 */2 * *", False, False),
        ("0 0 * * */2", False, False),
        ("0 0 1-31 * *", True, False),
        ("@weekly", False, True),
        ("@monthly", True, False),
    ],
)
def test_day_fields_are_restricted_unless_they_start_with_a_star(
    expr: str, dom_restricted: bool, dow_restricted: bool
) -> None:
    spec = parse_cron(expr)
    assert (spec.dom_restricted, spec.dow_restricted) == (dom_restricted, dow_restricted)


def test_expr_keeps_the_text_as_written() -> None:
    assert parse_cron(" 0 19 * * mon-fri ").expr == "0 19 * * mon-fri"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 19 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("0 0 19 * * *", "got 6 (liverecd has no seconds field)"),
        ("", "got 0"),
        ("60 * * * *", "minute field '60': 60 is out of range 0-59"),
        ("0 24 * * *", "hour field '24': 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field '0': 0 is out of range 1-31"),
        ("0 0 32 * *", "day-of-month field '32': 32 is out of range 1-31"),
        ("0 0 * 13 *", "month field '13': 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field '8': 8 is out of range 0-7"),
        ("0 0 * * mon-fry", "day-of-week field 'mon-fry': unknown name 'fry'"),
        ("0 0 * * monday", "unknown name 'monday'; use three-letter names such as 'mon'"),
        ("0 0 * janvier *", "unknown name 'janvier'; use three-letter names such as 'jan'"),
        ("0 mon * * *", "hour field 'mon': 'mon' is not a number in 0-23"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a whole number >= 1"),
        ("*/x * * * *", "step 'x' must be a whole number >= 1"),
        ("30-10 * * * *", "minute field '30-10': range '30-10' runs backwards"),
        ("1,,2 * * * *", "minute field '1,,2': cannot read ''"),
        ("0 0 ? * mon", "day-of-month field '?': '?' is Quartz syntax"),
        ("0 0 L * *", "is Quartz syntax"),
        ("0 0 * * 5#3", "is Quartz syntax"),
        ("@reboot", "@reboot is not a time of day"),
        ("@fortnightly", "unknown macro '@fortnightly'"),
        ("0 0 30 feb *", "never fires: day 30 does not occur in feb"),
        ("0 0 31 apr,jun,sep,nov *", "never fires: day 31 does not occur in apr,jun,sep,nov"),
    ],
)
def test_errors_name_the_field_the_value_and_the_range(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_cron(expr)
    assert message in str(info.value)


def test_feb_29_and_day_31_with_a_weekday_are_reachable() -> None:
    assert parse_cron("0 0 29 feb *").days_of_month == {29}
    # With the day of week restricted too, either matching is enough.
    assert parse_cron("0 0 31 feb mon").days_of_week == {1}


@given(st.sets(st.integers(min_value=0, max_value=59), min_size=1))
def test_a_list_of_minutes_parses_to_that_set(minutes: set[int]) -> None:
    text = ",".join(str(m) for m in sorted(minutes))
    assert parse_cron(f"{text} * * * *").minutes == minutes


@given(
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=1, max_value=24),
)
def test_a_stepped_range_matches_its_arithmetic(low: int, high: int, step: int) -> None:
    low, high = min(low, high), max(low, high)
    spec = parse_cron(f"0 {low}-{high}/{step} * * *")
    assert spec.hours == {h for h in range(24) if low <= h <= high and (h - low) % step == 0}
