"""Properties of expansion over random schedules (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liverecd.schedule.actions import Action, Recording
from liverecd.schedule.model import CronWindow, Finalize, OneOffWindow, Schedule, Stream
from liverecd.schedule.timeline import Timeline
from liverecd.streams import Command, StreamKey

from .timeline_builders import cron, oneoff, schedule, stream, utc

ORIGIN = utc(2027, 3, 10)  # spans New York's and London's spring-forward days
SPAN_MINUTES = 10 * 24 * 60
ZONES = [ZoneInfo(z) for z in ("UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe")]
CRONS = [
    "0 * * * *",
    "30 2 * * *",
    "*/15 1-3 * * *",
    "0 9 * * mon-fri",
    "0 0 13 * fri",
    "45 23 * * *",
]

# Quarter-hour grids make touching and overlapping windows common.
quarters = st.integers(min_value=0, max_value=SPAN_MINUTES // 15)
lengths = st.integers(min_value=1, max_value=8).map(lambda q: timedelta(minutes=15 * q))
pads = st.sampled_from([timedelta(0), timedelta(minutes=15), timedelta(minutes=2)])


@st.composite
def windows(draw: st.DrawFn) -> OneOffWindow | CronWindow:
    pad_before = draw(st.none() | pads)
    if draw(st.booleans()):
        start = ORIGIN + timedelta(minutes=15 * draw(quarters))
        return oneoff(start, start + draw(lengths), pad_before=pad_before)
    return cron(draw(st.sampled_from(CRONS)), draw(lengths), pad_before=pad_before)


@st.composite
def streams(draw: st.DrawFn, name: str) -> Stream:
    return stream(
        *draw(st.lists(windows(), min_size=1, max_size=5)),
        name=name,
        tz=draw(st.sampled_from(ZONES)),
        finalize=draw(st.sampled_from(list(Finalize))),
        split=draw(st.booleans()),
        pad_after=draw(pads),
        delay=timedelta(minutes=draw(st.sampled_from([0, 3, 20]))),
    )


schedules = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True).flatmap(
    lambda names: st.tuples(*(streams(n) for n in names)).map(lambda ss: schedule(*ss))
)
instants = st.integers(min_value=-1440, max_value=SPAN_MINUTES + 1440).map(
    lambda m: ORIGIN + timedelta(minutes=m)
)


def by_stream(recs: list[Recording]) -> dict[StreamKey, list[Recording]]:
    out: dict[StreamKey, list[Recording]] = {}
    for r in sorted(recs, key=lambda r: r.start):
        out.setdefault(r.stream, []).append(r)
    return out


@settings(max_examples=100, deadline=None)
@given(sched=schedules)
def test_recordings_of_a_stream_never_overlap(sched: Schedule) -> None:
    recs = Timeline(sched).recordings(ORIGIN, ORIGIN + timedelta(days=10))
    for chain in by_stream(recs).values():
        for prev, nxt in itertools.pairwise(chain):
            assert prev.end <= nxt.start
            # touching recordings exist only as split handovers
            assert (prev.end == nxt.start) == (not prev.closes)
            assert (prev.end == nxt.start) <= (nxt.opens_with is Command.RESTART)
        assert len({r.window_id for r in chain}) == len(chain)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(sched=schedules)
def test_every_opening_is_followed_by_its_close_or_a_handover(sched: Schedule) -> None:
    start, end = ORIGIN - timedelta(days=2), ORIGIN + timedelta(days=14)
    timeline = Timeline(sched)
    # streams whose recording opened before `start` and closes at or after it
    around = timeline.recordings(start - timedelta(minutes=1), start + timedelta(minutes=1))
    open_at_start = {r.stream for r in around if r.start < start <= r.end}
    per_stream: dict[StreamKey, list[Action]] = {}
    for a in timeline.expand(start, end):
        per_stream.setdefault(a.stream, []).append(a)
    for stream_key, actions in per_stream.items():
        is_open = stream_key in open_at_start
        for a in actions:
            if a.command is Command.START:
                assert not is_open
                is_open = True
            elif a.command is Command.RESTART:
                is_open = True  # a handover or a reopening inside stop's delay
            elif a.command is Command.STOP:
                assert is_open
                is_open = False
        assert not is_open or actions[-1].command in (Command.START, Command.RESTART)


@settings(max_examples=100, deadline=None)
@given(sched=schedules, cuts=st.lists(instants, min_size=3, max_size=3))
def test_expanding_in_two_pieces_equals_expanding_at_once(
    sched: Schedule, cuts: list[datetime]
) -> None:
    a, b, c = sorted(cuts)
    timeline = Timeline(sched)
    assert timeline.expand(a, c) == timeline.expand(a, b) + timeline.expand(b, c)


@settings(max_examples=100, deadline=None)
@given(sched=schedules, cuts=st.lists(instants, min_size=3, max_size=3))
def test_recordings_do_not_depend_on_the_query_range(sched: Schedule, cuts: list[datetime]) -> None:
    a, b, c = sorted(cuts)
    timeline = Timeline(sched)
    whole = {r.window_id: r for r in timeline.recordings(a, c)}
    for r in timeline.recordings(a, b) + timeline.recordings(b, c):
        if "@continuous" not in r.window_id:
            assert whole[r.window_id] == r


@settings(max_examples=100, deadline=None)
@given(sched=schedules, edited=schedules, cuts=st.lists(instants, min_size=4, max_size=4))
def test_kept_and_reused_recordings_equal_a_fresh_expansion(
    sched: Schedule, edited: Schedule, cuts: list[datetime]
) -> None:
    """What a timeline kept for a wider span (the daemon's horizon), and what a rebuilt
    timeline reuses from it (a reload), is what a fresh expansion of the query gives."""
    a, b, c, d = sorted(cuts)
    kept = Timeline(sched)
    assert kept.recordings(a, c, keep_until=d) == Timeline(sched).recordings(a, c)
    assert kept.recordings(b, c) == Timeline(sched).recordings(b, c)
    assert kept.touching(b, d) == Timeline(sched).touching(b, d)
    for reloaded in (sched, edited):  # unchanged, or other streams (reused only when equal)
        rebuilt = Timeline(reloaded, kept)
        assert rebuilt.recordings(b, c) == Timeline(reloaded).recordings(b, c)
        assert rebuilt.expand(a, d) == Timeline(reloaded).expand(a, d)
