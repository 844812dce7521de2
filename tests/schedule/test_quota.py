"""The quota model: starts leave up to max_lead early, spaced 1/qps, as late as possible."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liverecd.config import Source
from liverecd.release_plan import plan_releases
from liverecd.schedule.actions import Action, Recording
from liverecd.schedule.quota import late_starts, plan_starts
from liverecd.streams import Command

from .timeline_builders import FILE, key, utc

T = utc(2027, 1, 1, 12)
LEAD = timedelta(seconds=60)


def starts_at(when: datetime, n: int, command: Command = Command.START) -> list[Action]:
    return [
        Action(when, command, key(f"s{i:04d}"), f"w{i:04d}", Source(FILE, 100 + i))
        for i in range(n)
    ]


def seconds_before(t: datetime) -> float:
    return round((T - t).total_seconds(), 6)


def test_a_lone_start_leaves_at_its_due_time() -> None:
    (p,) = plan_starts(starts_at(T, 1), qps=50, max_lead=LEAD)
    assert p.send_at == T
    assert not p.early
    assert p.lateness == timedelta(0)


def test_a_burst_leaves_early_as_late_as_possible_and_lands_on_time() -> None:
    planned = plan_starts(starts_at(T, 100), qps=50, max_lead=LEAD)
    assert late_starts(starts_at(T, 100), qps=50, max_lead=LEAD) == []
    assert seconds_before(planned[0].send_at) == 1.98  # 99 slots of 20 ms before T
    assert planned[-1].send_at == T
    sends = [p.send_at for p in planned]
    assert all(b - a == timedelta(milliseconds=20) for a, b in itertools.pairwise(sends))


def test_a_burst_beyond_max_lead_reports_each_late_start_and_by_how_much() -> None:
    late = late_starts(starts_at(T, 100), qps=50, max_lead=timedelta(seconds=1))
    # From T - 1 s, 51 slots reach T; the remaining 49 land 20 ms ... 980 ms late.
    assert len(late) == 49
    assert late[0].lateness == timedelta(milliseconds=20)
    assert late[-1].lateness == timedelta(milliseconds=980)
    assert late[-1].source == Source(FILE, 199)
    assert late[-1].due == T


def test_zero_max_lead_makes_every_start_after_the_first_late() -> None:
    late = late_starts(starts_at(T, 3), qps=10, max_lead=timedelta(0))
    assert [lt.lateness for lt in late] == [
        timedelta(milliseconds=100),
        timedelta(milliseconds=200),
    ]


def test_a_later_burst_pushes_an_earlier_one_earlier() -> None:
    actions = starts_at(T, 100) + [
        Action(T + timedelta(seconds=1), Command.START, key(f"t{i}"), f"t{i}", Source(FILE, 1))
        for i in range(100)
    ]
    planned = plan_starts(actions, qps=50, max_lead=LEAD)
    # The second burst needs T-0.98 .. T+1; the first ends one slot before, at T-1.0.
    assert seconds_before(planned[99].send_at) == 1.0
    assert seconds_before(planned[0].send_at) == 2.98
    assert late_starts(actions, qps=50, max_lead=LEAD) == []


def test_restarts_count_and_stops_do_not() -> None:
    restarts = starts_at(T, 2, Command.RESTART)
    stops = starts_at(T, 50, Command.STOP)
    planned = plan_starts(restarts + stops, qps=1, max_lead=LEAD)
    assert [p.action.command for p in planned] == [Command.RESTART, Command.RESTART]
    assert seconds_before(planned[0].send_at) == 1.0


def test_recordings_count_by_their_opening() -> None:
    recs = [
        Recording(f"w{i}", key(f"s{i}"), T, T + timedelta(hours=1), (Source(FILE, i),))
        for i in range(3)
    ]
    late = late_starts(recs, qps=1, max_lead=timedelta(seconds=1))
    assert [(lt.window_id, lt.lateness) for lt in late] == [("w2", timedelta(seconds=1))]


def test_nothing_in_nothing_out() -> None:
    assert plan_starts([], qps=50, max_lead=LEAD) == []


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_spread_out_starts_never_leave_early(n: int) -> None:
    actions = [
        Action(T + timedelta(seconds=i), Command.START, key(f"s{i}"), f"w{i}", Source(FILE, 1))
        for i in range(n)
    ]
    assert all(not p.early for p in plan_starts(actions, qps=50, max_lead=LEAD))


@given(
    dues=st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=60),
    qps=st.sampled_from([1.0, 5.0, 50.0]),
    lead=st.integers(min_value=0, max_value=120),
)
def test_check_forecasts_the_dispatchers_release_plan_played_through_the_limiter(
    dues: list[int], qps: float, lead: int
) -> None:
    # One function decides both (issue 11): each start leaves at the dispatcher's release for it,
    # or one limiter slot after the previous send, whichever is later.
    actions = sorted(
        (
            Action(
                T + timedelta(seconds=d),
                Command.START,
                key(f"s{i:03d}"),
                f"w{i:03d}",
                Source(FILE, 1 + i),
            )
            for i, d in enumerate(dues)
        ),
        key=lambda a: (a.time, a.window_id),
    )
    planned = plan_starts(actions, qps=qps, max_lead=timedelta(seconds=lead))
    releases = plan_releases([(a.time - T).total_seconds() for a in actions], 1 / qps, lead)
    previous = float("-inf")
    for p, r in zip(planned, releases, strict=True):
        previous = max(r.release, previous + 1 / qps)
        assert abs((p.send_at - T).total_seconds() - previous) < 1e-5
