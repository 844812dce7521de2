"""Expansion of schedules into recordings and actions, case by case (DESIGN.md §5)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.schedule.actions import Action
from liverecd.schedule.findings import short_windows
from liverecd.schedule.model import DateRange, Finalize, Schedule, ScheduleFile
from liverecd.schedule.timeline import MAX_CHAIN, Timeline, expand, recordings, window_id
from liverecd.streams import Command

from .timeline_builders import FILE, H, M, S, cron, key, oneoff, schedule, stream, utc

SHANGHAI = ZoneInfo("Asia/Shanghai")


def brief(actions: list[Action]) -> list[tuple[datetime, str, str]]:
    return [(a.time, a.command.value, a.stream.stream) for a in actions]


def test_cron_window_opens_with_start_and_closes_with_stop_then_cancel_delay() -> None:
    sched = schedule(stream(cron("0 19 * * mon-fri", 90 * M), tz=SHANGHAI))
    acts = expand(sched, utc(2027, 1, 4), utc(2027, 1, 5))  # Monday
    assert brief(acts) == [
        (utc(2027, 1, 4, 11), "start", "news"),
        (utc(2027, 1, 4, 12, 30), "stop", "news"),
        (utc(2027, 1, 4, 12, 30), "cancel_delay", "news"),
    ]
    assert all(a.source == Source(FILE, 10, 9) for a in acts)


def test_delayed_finalize_stops_without_cancel_delay() -> None:
    sched = schedule(
        stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)), finalize=Finalize.DELAYED)
    )
    assert [a.command for a in expand(sched, utc(2027, 1, 1), utc(2027, 1, 2))] == [
        Command.START,
        Command.STOP,
    ]


def test_overlapping_windows_merge_into_one_recording_naming_both() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11), line=20),
            oneoff(utc(2027, 1, 1, 10, 30), utc(2027, 1, 1, 12), line=23),
        )
    )
    (rec,) = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert (rec.start, rec.end) == (utc(2027, 1, 1, 10), utc(2027, 1, 1, 12))
    assert [s.line for s in rec.sources] == [20, 23]
    assert [a.command for a in expand(sched, utc(2027, 1, 1), utc(2027, 1, 2))] == [
        Command.START,
        Command.STOP,
        Command.CANCEL_DELAY,
    ]


def test_touching_windows_merge_without_split() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 11), utc(2027, 1, 1, 12)),
        )
    )
    (rec,) = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert (rec.start, rec.end) == (utc(2027, 1, 1, 10), utc(2027, 1, 1, 12))


def test_split_touching_windows_hand_over_with_one_restart() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 11), utc(2027, 1, 1, 12)),
            split=True,
        )
    )
    first, second = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert (first.closes, second.opens_with) == (False, Command.RESTART)
    assert brief(expand(sched, utc(2027, 1, 1), utc(2027, 1, 2))) == [
        (utc(2027, 1, 1, 10), "start", "news"),
        (utc(2027, 1, 1, 11), "restart", "news"),
        (utc(2027, 1, 1, 12), "stop", "news"),
        (utc(2027, 1, 1, 12), "cancel_delay", "news"),
    ]


def test_split_still_merges_overlapping_windows() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 10, 59), utc(2027, 1, 1, 12)),
            split=True,
        )
    )
    (rec,) = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert (rec.start, rec.end, rec.opens_with) == (
        utc(2027, 1, 1, 10),
        utc(2027, 1, 1, 12),
        Command.START,
    )


def test_delayed_finalize_reopens_with_restart_inside_the_stop_delay() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 11, 2), utc(2027, 1, 1, 12)),  # 120 s after: inside 180 s
            oneoff(utc(2027, 1, 1, 12, 3), utc(2027, 1, 1, 13)),  # exactly 180 s: outside
            finalize=Finalize.DELAYED,
        )
    )
    recs = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert [r.opens_with for r in recs] == [Command.START, Command.RESTART, Command.START]
    assert all(r.closes for r in recs)


def test_immediate_finalize_never_reopens_with_restart() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 11, 0, 1), utc(2027, 1, 1, 12)),
        )
    )
    assert [r.opens_with for r in recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))] == [
        Command.START,
        Command.START,
    ]


def test_delayed_restart_sees_a_predecessor_before_the_range() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 11, 1), utc(2027, 1, 1, 12)),
            finalize=Finalize.DELAYED,
        )
    )
    (rec,) = recordings(sched, utc(2027, 1, 1, 11, 30), utc(2027, 1, 2))
    assert rec.opens_with is Command.RESTART
    assert brief(expand(sched, utc(2027, 1, 1, 11, 1), utc(2027, 1, 2))) == [
        (utc(2027, 1, 1, 11, 1), "restart", "news"),
        (utc(2027, 1, 1, 12), "stop", "news"),
    ]


def test_window_padding_overrides_stream_padding() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11), pad_before=5 * M),
            oneoff(utc(2027, 1, 1, 14), utc(2027, 1, 1, 15)),
            pad_before=M,
            pad_after=2 * M,
        )
    )
    recs = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert [(r.start, r.end) for r in recs] == [
        (utc(2027, 1, 1, 9, 55), utc(2027, 1, 1, 11, 2)),
        (utc(2027, 1, 1, 13, 59), utc(2027, 1, 1, 15, 2)),
    ]


def test_padding_applies_before_merging() -> None:
    sched = schedule(
        stream(
            oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            oneoff(utc(2027, 1, 1, 11, 5), utc(2027, 1, 1, 12)),
            pad_after=5 * M,  # 11:00 + 5 min touches 11:05
        )
    )
    (rec,) = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert (rec.start, rec.end) == (utc(2027, 1, 1, 10), utc(2027, 1, 1, 12, 5))


def test_except_dates_skip_recurring_windows_on_local_dates_only() -> None:
    blackout = DateRange(date(2027, 1, 5), date(2027, 1, 6), Source(FILE, 3))
    sched = schedule(
        stream(
            cron("0 1 * * *", H),  # 01:00 Shanghai = 17:00 UTC the day before
            oneoff(utc(2027, 1, 5, 3), utc(2027, 1, 5, 4)),  # one-offs ignore except
            tz=SHANGHAI,
            excepts=(blackout,),
        )
    )
    starts = [r.start for r in recordings(sched, utc(2027, 1, 3), utc(2027, 1, 8))]
    assert starts == [
        utc(2027, 1, 3, 17),  # Jan 4 local
        utc(2027, 1, 5, 3),  # the one-off
        utc(2027, 1, 6, 17),  # Jan 7 local; Jan 5 and 6 are blacked out
        utc(2027, 1, 7, 17),  # Jan 8 local
    ]


def test_window_level_except_affects_that_window_only() -> None:
    blackout = (DateRange(date(2027, 1, 5), date(2027, 1, 5), Source(FILE, 3)),)
    sched = schedule(
        stream(cron("0 10 * * *", H, excepts=blackout), name="a"),
        stream(cron("0 10 * * *", H), name="b"),
    )
    recs = recordings(sched, utc(2027, 1, 5), utc(2027, 1, 6))
    assert [r.stream.stream for r in recs] == ["b"]


def test_disabled_streams_produce_nothing() -> None:
    sched = schedule(stream(cron("* * * * *", H), enabled=False))
    assert expand(sched, utc(2027, 1, 1), utc(2027, 1, 8)) == []


def test_same_stream_in_two_files_merges() -> None:
    a = ScheduleFile(
        "a.yaml", ZoneInfo("UTC"), (stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11))),)
    )
    b = ScheduleFile(
        "b.yaml", ZoneInfo("UTC"), (stream(oneoff(utc(2027, 1, 1, 10, 30), utc(2027, 1, 1, 12))),)
    )
    (rec,) = recordings(Schedule((a, b)), utc(2027, 1, 1), utc(2027, 1, 2))
    assert (rec.start, rec.end) == (utc(2027, 1, 1, 10), utc(2027, 1, 1, 12))


def test_window_id_names_stream_and_padded_start_with_a_key_hash() -> None:
    sched = schedule(stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)), pad_before=M))
    (rec,) = recordings(sched, utc(2027, 1, 1), utc(2027, 1, 2))
    assert re.fullmatch(r"news@2027-01-01T09:59:00Z#[0-9a-f]{8}", rec.window_id)
    assert rec.window_id == window_id(key(), utc(2027, 1, 1, 9, 59))


def test_window_id_survives_an_edited_end_and_differs_per_domain() -> None:
    before = schedule(stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11))))
    after = schedule(stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11, 30))))
    (r1,) = recordings(before, utc(2027, 1, 1), utc(2027, 1, 2))
    (r2,) = recordings(after, utc(2027, 1, 1), utc(2027, 1, 2))
    assert r1.window_id == r2.window_id
    assert r1.end != r2.end
    assert window_id(key(domain="a.example"), r1.start) != window_id(
        key(domain="b.example"), r1.start
    )


def test_recordings_include_one_open_at_the_range_start() -> None:
    sched = schedule(stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 12))))
    (rec,) = recordings(sched, utc(2027, 1, 1, 11), utc(2027, 1, 1, 13))
    assert rec.start == utc(2027, 1, 1, 10)
    assert recordings(sched, utc(2027, 1, 1, 12), utc(2027, 1, 1, 13)) == []  # half-open
    assert brief(expand(sched, utc(2027, 1, 1, 11), utc(2027, 1, 1, 13))) == [
        (utc(2027, 1, 1, 12), "stop", "news"),
        (utc(2027, 1, 1, 12), "cancel_delay", "news"),
    ]


def test_a_long_chain_is_followed_back_beyond_the_range() -> None:
    # 30 touching one-hour windows: one recording from 00:00 on day 1, whatever the query.
    sched = schedule(
        stream(
            *(
                oneoff(utc(2027, 1, 1) + i * H, utc(2027, 1, 1) + (i + 1) * H, line=20 + i)
                for i in range(30)
            )
        )
    )
    (rec,) = recordings(sched, utc(2027, 1, 2, 5), utc(2027, 1, 2, 6))
    assert (rec.start, rec.end) == (utc(2027, 1, 1), utc(2027, 1, 2, 6))
    cron_chain = schedule(stream(cron("0 * 1-2 1 *", H)))  # Jan 1-2, every hour, 1 h long
    (rec,) = recordings(cron_chain, utc(2027, 1, 2, 5), utc(2027, 1, 2, 6))
    assert (rec.start, rec.end) == (utc(2027, 1, 1), utc(2027, 1, 3))


def test_an_endless_chain_is_cut_and_marked_continuous() -> None:
    sched = schedule(stream(cron("0 0 * * *", 24 * H)))  # recording around the clock
    first = Timeline(sched).recordings(utc(2027, 6, 1), utc(2027, 6, 2))
    later = Timeline(sched).recordings(utc(2027, 6, 5), utc(2027, 6, 6))
    assert [r.window_id for r in first] == [r.window_id for r in later]
    assert first[0].window_id.startswith("news@continuous#")
    assert first[0].start <= utc(2027, 6, 1) - MAX_CHAIN
    assert expand(sched, utc(2027, 6, 1), utc(2027, 6, 8)) == []


def test_a_kept_span_answers_a_query_inside_it_as_the_query_alone_would() -> None:
    # Jan 1 to Apr 1 without a break: alone, a query follows the chain MAX_CHAIN either way.
    sched = schedule(stream(cron("0 0 * 1-3 *", 24 * H)))
    kept = Timeline(sched)
    wide = kept.recordings(utc(2027, 1, 20), utc(2027, 1, 21), keep_until=utc(2027, 3, 5))
    assert wide == Timeline(sched).recordings(utc(2027, 1, 20), utc(2027, 1, 21))
    assert wide[0].window_id.startswith("news@2027-01-01T00:00:00Z#")
    assert wide[0].end == utc(2027, 1, 21) + MAX_CHAIN  # the kept chain runs to Apr 1
    alone = Timeline(sched).recordings(utc(2027, 2, 10), utc(2027, 2, 11))
    assert alone[0].window_id.startswith("news@continuous#")
    assert kept.recordings(utc(2027, 2, 10), utc(2027, 2, 11)) == alone
    reloaded = Timeline(sched, kept).recordings(utc(2027, 1, 25), utc(2027, 1, 26))
    assert reloaded == Timeline(sched).recordings(utc(2027, 1, 25), utc(2027, 1, 26))


def test_a_single_window_longer_than_the_chain_limit_keeps_its_id() -> None:
    sched = schedule(stream(oneoff(utc(2027, 1, 1), utc(2027, 3, 1))))  # 59 days
    early = Timeline(sched).recordings(utc(2027, 1, 2), utc(2027, 1, 3))
    late = Timeline(sched).recordings(utc(2027, 2, 20), utc(2027, 2, 21))
    assert [r.window_id for r in early] == [r.window_id for r in late]
    assert early[0].window_id.startswith("news@2027-01-01T00:00:00Z#")


def test_actions_at_one_instant_put_starts_before_stops() -> None:
    sched = schedule(
        stream(oneoff(utc(2027, 1, 1, 9), utc(2027, 1, 1, 10)), name="a"),
        stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)), name="z"),
    )
    assert brief(expand(sched, utc(2027, 1, 1, 10), utc(2027, 1, 1, 10, 0, 1))) == [
        (utc(2027, 1, 1, 10), "start", "z"),
        (utc(2027, 1, 1, 10), "stop", "a"),
        (utc(2027, 1, 1, 10), "cancel_delay", "a"),
    ]


def test_open_at_lists_recordings_running_at_an_instant() -> None:
    sched = schedule(
        stream(oneoff(utc(2027, 1, 1, 9), utc(2027, 1, 1, 10)), name="a"),
        stream(oneoff(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)), name="b"),
    )
    assert [r.stream.stream for r in Timeline(sched).open_at(utc(2027, 1, 1, 10))] == ["b"]


def test_durations_longer_than_a_day_are_found_from_far_back() -> None:
    sched = schedule(stream(cron("0 0 1 1 *", 72 * H)))
    (rec,) = recordings(sched, utc(2027, 1, 3, 12), utc(2027, 1, 3, 13))
    assert (rec.start, rec.end) == (utc(2027, 1, 1), utc(2027, 1, 4))


def test_short_windows_are_warned_about() -> None:
    sched = schedule(
        stream(
            cron("0 10 * * *", 5 * S, line=8),
            oneoff(utc(2027, 1, 1), utc(2027, 1, 1, 0, 0, 10), line=9),
        )
    )
    found = short_windows(sched)
    assert [(p.line, p.severity) for p in found] == [(8, "warning")]
    assert "5s" in found[0].message
