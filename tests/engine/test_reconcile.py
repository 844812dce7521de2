"""Reconcile and the post-outcome transitions: pure tables, and properties over random states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from liverecd.api.result import ApiResult, Outcome
from liverecd.config import Source
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.engine.lifecycle import Phase, RecordingState, after_settled
from liverecd.engine.reconcile import opening_command, reconcile
from liverecd.schedule.actions import Recording
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
START, STOP, CANCEL, RESTART = Command.START, Command.STOP, Command.CANCEL_DELAY, Command.RESTART


def key(name: str) -> StreamKey:
    return StreamKey("play.example.com", "live", name)


def rec(
    wid: str,
    name: str,
    start: float,
    end: float,
    *,
    opens: Command = START,
    finalize: Finalize = Finalize.IMMEDIATE,
) -> Recording:
    """A recording from `start` to `end` minutes after NOW."""
    return Recording(
        window_id=wid,
        stream=key(name),
        start=NOW + timedelta(minutes=start),
        end=NOW + timedelta(minutes=end),
        sources=(Source("s.yaml", 1),),
        finalize=finalize,
        opens_with=opens,
    )


def row(
    wid: str,
    name: str,
    phase: Phase,
    start: float = -30,
    end: float = 30,
    *,
    finalize: Finalize = Finalize.IMMEDIATE,
    stopped: float | None = None,
) -> RecordingState:
    return RecordingState(
        window_id=wid,
        stream=key(name),
        start=NOW + timedelta(minutes=start),
        end=NOW + timedelta(minutes=end),
        finalize=finalize,
        delay=timedelta(seconds=180),
        phase=phase,
        last_command=START,
        updated_at=NOW,
        stopped_at=None if stopped is None else NOW + timedelta(minutes=stopped),
    )


def timeline(*recs: Recording) -> dict[str, Recording]:
    return {r.window_id: r for r in recs if r.end > NOW}


def sent(plan: object) -> list[tuple[Command, str]]:
    return [(o.command, o.window_id) for o in plan.orders]  # type: ignore[attr-defined]


def test_startup_opens_every_open_window_and_reasserts_what_runs() -> None:
    t = timeline(rec("new", "a", -5, 30), rec("ran", "b", -5, 30), rec("later", "c", 10, 30))
    plan = reconcile(t, [row("ran", "b", Phase.RECORDING)], NOW)
    assert sent(plan) == [(START, "new"), (START, "ran")]
    assert [r.window_id for r in plan.puts] == ["new"]  # intent written; "ran" already known
    assert plan.counts["opened"] == 1 and plan.counts["reasserted"] == 1


def test_a_window_that_closed_during_the_downtime_is_stopped_and_a_stop_owed_is_finished() -> None:
    rows = [row("gone", "a", Phase.RECORDING, -60, -1), row("half", "b", Phase.FINALIZING)]
    plan = reconcile({}, rows, NOW)
    assert set(sent(plan)) == {(STOP, "gone"), (CANCEL, "half")}
    assert all(o.due == NOW for o in plan.orders)


def test_rows_of_windows_not_open_yet_are_left_alone() -> None:
    plan = reconcile(timeline(rec("soon", "a", 1, 30)), [row("soon", "a", Phase.OPENING)], NOW)
    assert plan.orders == () and plan.deletes == ()


def test_a_stop_delay_that_is_over_is_forgotten_one_still_running_is_kept() -> None:
    rows = [
        row("old", "a", Phase.DELAYING, finalize=Finalize.DELAYED, stopped=-10),
        row("recent", "b", Phase.DELAYING, finalize=Finalize.DELAYED, stopped=-1),
    ]
    plan = reconcile({}, rows, NOW)
    assert plan.deletes == ("old",) and plan.orders == ()


def test_reload_touches_unchanged_windows_not_at_all() -> None:
    t = timeline(rec("w", "a", -5, 30))
    plan = reconcile(t, [row("w", "a", Phase.RECORDING)], NOW, previous=t)
    assert plan.orders == () and plan.puts == () and plan.deletes == ()


def test_reload_starts_a_new_open_window_and_stops_a_removed_one() -> None:
    before = timeline(rec("old", "a", -5, 30))
    after = timeline(rec("new", "b", -5, 30))
    plan = reconcile(after, [row("old", "a", Phase.RECORDING)], NOW, previous=before)
    assert set(sent(plan)) == {(START, "new"), (STOP, "old")}


def test_reload_carries_a_recording_over_when_its_window_changes_id() -> None:
    before = timeline(rec("w@12:00", "a", -5, 30))
    after = timeline(rec("w@11:50", "a", -15, 30))  # the start moved earlier while recording
    plan = reconcile(after, [row("w@12:00", "a", Phase.RECORDING)], NOW, previous=before)
    assert plan.orders == ()
    assert [(r.window_id, r.phase) for r in plan.puts] == [("w@11:50", Phase.RECORDING)]
    assert plan.deletes == ("w@12:00",) and plan.counts["carried"] == 1


def test_opening_command_restarts_only_a_task_known_to_be_held() -> None:
    split = rec("b", "a", 0, 30, opens=RESTART)
    held = [row("a0", "a", Phase.RECORDING, -60, 0)]
    assert opening_command(split, held, NOW) is RESTART  # split boundary: hand over
    assert opening_command(split, [], NOW) is START  # nothing known holds the task
    delayed = rec("d", "b", 0, 30)
    waiting = [row("d0", "b", Phase.DELAYING, -60, -1, finalize=Finalize.DELAYED, stopped=-1)]
    assert opening_command(delayed, waiting, NOW) is RESTART  # start would be TaskAlreadyStarted
    own = [row("d", "b", Phase.RECORDING, 0, 30)]
    assert opening_command(split, own + held, NOW) is RESTART
    assert opening_command(rec("d", "b", 0, 30, opens=RESTART), own, NOW) is START  # re-assert


def _settled(order: Order, outcome: Outcome | None, *, acted: bool = False) -> Settled:
    result = None if outcome is None else ApiResult(http_status=200)
    reason = "succeeded" if outcome is not None and outcome.succeeded else "window_closed"
    return Settled(order=order, command=order.command, reason=reason, attempts=1,
                   outcome=outcome, result=result, maybe_acted=acted)  # fmt: skip


def test_a_stop_that_lands_owes_a_cancel_delay_in_the_stops_place() -> None:
    rows = [row("w", "a", Phase.RECORDING, -30, -1)]
    stop = Order(command=STOP, stream=key("a"), window_id="w", due=NOW - timedelta(minutes=1))
    t = after_settled(_settled(stop, Outcome.OK), rows, {}, NOW)
    assert [r.phase for r in t.puts] == [Phase.FINALIZING]
    [cancel] = t.orders
    assert cancel.command is CANCEL and cancel.chain_due == stop.due


def test_a_delayed_finalize_waits_out_its_delay_instead() -> None:
    rows = [row("w", "a", Phase.RECORDING, -30, -1, finalize=Finalize.DELAYED)]
    stop = Order(command=STOP, stream=key("a"), window_id="w", due=NOW)
    t = after_settled(_settled(stop, Outcome.OK), rows, {}, NOW)
    assert [(r.phase, r.stopped_at) for r in t.puts] == [(Phase.DELAYING, NOW)] and not t.orders


def test_an_opening_that_surely_did_nothing_forgets_its_intent_one_that_may_have_acted_not() -> (
    None
):
    rows = [row("w", "a", Phase.OPENING)]
    start = Order(command=START, stream=key("a"), window_id="w", due=NOW)
    assert after_settled(_settled(start, None), rows, {}, NOW).deletes == ("w",)
    assert after_settled(_settled(start, None, acted=True), rows, {}, NOW).deletes == ()


def test_an_opening_that_lands_after_its_window_vanished_is_stopped_at_once() -> None:
    rows = [row("w", "a", Phase.OPENING), row("older", "a", Phase.RECORDING, -90, -30)]
    start = Order(command=START, stream=key("a"), window_id="w", due=NOW)
    t = after_settled(_settled(start, Outcome.OK), rows, {}, NOW)
    assert [r.phase for r in t.puts] == [Phase.RECORDING]
    assert t.deletes == ("older",)  # taken over
    assert [(o.command, o.window_id) for o in t.orders] == [(STOP, "w")]


# -- properties ---------------------------------------------------------------------------------

phases = st.sampled_from(list(Phase))
spans = st.tuples(st.integers(-120, 120), st.integers(1, 120))


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[str, Recording], list[RecordingState]]:
    recs, rows = [], []
    for i, name in enumerate(draw(st.lists(st.sampled_from("abcd"), unique=True, max_size=4))):
        start = -120
        for j in range(draw(st.integers(0, 3))):
            gap, length = draw(spans)
            start, end = start + gap, start + gap + length
            recs.append(rec(f"{name}{j}", name, start, end))
            start = end
        for j in range(draw(st.integers(0, 2))):
            gap, length = draw(spans)
            rows.append(row(f"{name}r{i}{j}", name, draw(phases), gap - 60, gap - 60 + length))
    return timeline(*recs), rows


@settings(max_examples=200, deadline=None)
@given(worlds(), st.booleans())
def test_reconcile_never_stops_an_open_stream_nor_opens_a_closed_one(
    world: tuple[dict[str, Recording], list[RecordingState]], reload: bool
) -> None:
    t, rows = world
    plan = reconcile(t, rows, NOW, previous={} if reload else None)
    open_streams = {r.stream for r in t.values() if r.is_open(NOW)}
    per_stream: dict[tuple[StreamKey, Command], int] = {}
    for o in plan.orders:
        per_stream[(o.stream, o.command)] = per_stream.get((o.stream, o.command), 0) + 1
        if o.command is STOP:
            assert o.stream not in open_streams
        if o.opens:
            assert o.stream in open_streams and o.deadline is not None and o.deadline > NOW
    assert all(n == 1 for n in per_stream.values())
    if not reload:
        assert {o.stream for o in plan.orders if o.opens} == open_streams
