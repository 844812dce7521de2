"""The window lifecycle as a table: a row in a phase, an outcome, and what it becomes (the new
phase, forgotten, or unchanged) with the follow-up command it calls for. Pure: no I/O, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from liverecd.api.outcome import Outcome
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.engine.lifecycle import Phase, RecordingState, after_settled, opening_row
from liverecd.schedule.actions import Recording
from liverecd.schedule.model import Finalize, Source
from liverecd.streams import Command, StreamKey

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = StreamKey("play.example.com", "live", "news")
GONE = "forgotten"


def recording(end_min: int = 60, finalize: Finalize = Finalize.IMMEDIATE) -> Recording:
    return Recording(
        window_id="w", stream=KEY, start=T0, end=T0 + timedelta(minutes=end_min),
        sources=(Source("s.yaml", 1),), finalize=finalize,
    )  # fmt: skip


def row(phase: Phase, rec: Recording) -> RecordingState:
    return RecordingState(
        window_id="w", stream=KEY, start=rec.start, end=rec.end, finalize=rec.finalize,
        delay=rec.delay, phase=phase, last_command=Command.START, updated_at=T0,
    )  # fmt: skip


def settle(command: Command, reason: str, outcome: Outcome | None, acted: bool) -> Settled:
    order = Order(command=command, stream=KEY, window_id="w", due=T0)
    return Settled(order=order, command=command, reason=reason, attempts=1, outcome=outcome,
                   maybe_acted=acted)  # fmt: skip


# phase before, command, reason, outcome, maybe acted, finalize, end (min) -> phase after, follow-up
TABLE = [
    (Phase.OPENING, Command.START, "succeeded", Outcome.OK, True, "immediate", 60,
     Phase.RECORDING, None),
    (Phase.OPENING, Command.START, "succeeded", Outcome.IDEMPOTENT_OK, True, "immediate", 60,
     Phase.RECORDING, None),
    (Phase.OPENING, Command.START, "window_closed", None, False, "immediate", 60, GONE, None),
    (Phase.OPENING, Command.START, "fatal", Outcome.FATAL, False, "immediate", 60, GONE, None),
    (Phase.OPENING, Command.START, "retries_exhausted", Outcome.RETRY, True, "immediate", 60,
     Phase.OPENING, None),  # it may have started: the stop stays owed
    (Phase.OPENING, Command.START, "succeeded", Outcome.OK, True, "immediate", -1,
     Phase.RECORDING, Command.STOP),  # the window closed while the start was out
    (Phase.RECORDING, Command.STOP, "succeeded", Outcome.OK, True, "immediate", -1,
     Phase.FINALIZING, Command.CANCEL_DELAY),
    (Phase.RECORDING, Command.STOP, "succeeded", Outcome.IDEMPOTENT_OK, True, "delayed", -1,
     Phase.DELAYING, None),
    (Phase.RECORDING, Command.STOP, "fatal", Outcome.FATAL, False, "immediate", -1,
     Phase.RECORDING, None),
    (Phase.FINALIZING, Command.CANCEL_DELAY, "succeeded", Outcome.OK, True, "immediate", -1,
     GONE, None),
    (Phase.FINALIZING, Command.CANCEL_DELAY, "cancelled", None, False, "immediate", -1,
     Phase.FINALIZING, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "command", "reason", "outcome", "acted", "finalize", "end", "after", "follow"),
    TABLE,
)
def test_an_outcome_moves_the_window_as_the_table_says(
    before: Phase, command: Command, reason: str, outcome: Outcome | None, acted: bool,
    finalize: str, end: int, after: Phase | str, follow: Command | None,
) -> None:  # fmt: skip
    rec = recording(end, Finalize(finalize))
    now = T0 + timedelta(minutes=1) if end > 0 else T0 + timedelta(minutes=2)
    timeline = {"w": rec}
    t = after_settled(settle(command, reason, outcome, acted), [row(before, rec)], timeline, now)
    if after == GONE:
        assert t.deletes == ("w",) and not t.puts
    elif t.puts:
        assert [r.phase for r in t.puts] == [after]
    else:
        assert after == before and not t.deletes  # unchanged
    assert [o.command for o in t.orders] == ([follow] if follow else [])


def test_the_opening_intent_is_an_opening_row_for_the_window() -> None:
    rec = recording()
    intent = opening_row(rec, Command.START, T0)
    assert (intent.phase, intent.window_id, intent.end) == (Phase.OPENING, "w", rec.end)
    assert intent.phase.running and not Phase.FINALIZING.running


@pytest.mark.parametrize(
    ("reason", "outcome", "heir_after", "follow"),
    [
        ("succeeded", Outcome.OK, Phase.RECORDING, []),  # it records for the heir: no stop
        ("cancelled", Outcome.RETRY, None, [("heir", Command.START)]),  # nothing opened it
    ],
)
def test_an_opening_command_out_while_a_reload_moved_its_window_answers_for_the_heir(
    reason: str, outcome: Outcome, heir_after: Phase | None,
    follow: list[tuple[str, Command]],
) -> None:  # fmt: skip
    # The reload carried the intent of "w" (now gone) over to "heir", open now.
    heir_rec = Recording(
        window_id="heir", stream=KEY, start=T0 - timedelta(minutes=1),
        end=T0 + timedelta(minutes=60), sources=(Source("s.yaml", 1),),
    )  # fmt: skip
    carried = opening_row(heir_rec, Command.START, T0)
    now = T0 + timedelta(seconds=5)
    s = settle(Command.START, reason, outcome, acted=True)
    t = after_settled(s, [carried], {"heir": heir_rec}, now)
    assert not t.deletes
    assert [r.phase for r in t.puts] == ([heir_after] if heir_after else [])
    assert [(o.window_id, o.command) for o in t.orders] == follow


@pytest.mark.parametrize(
    ("reason", "outcome", "acted", "finalize", "follow"),
    [
        ("succeeded", Outcome.OK, True, "immediate", [Command.CANCEL_DELAY, Command.START]),
        ("succeeded", Outcome.OK, True, "delayed", [Command.RESTART]),
        ("cancelled", Outcome.RETRY, True, "immediate", [Command.RESTART]),  # may be in delay
        ("cancelled", Outcome.RETRY, False, "immediate", []),  # surely never carried out
    ],
)
def test_a_stop_out_while_an_edit_moved_its_end_later_opens_the_window_again(
    reason: str, outcome: Outcome, acted: bool, finalize: str, follow: list[Command]
) -> None:
    rec = recording(60, Finalize(finalize))  # the stop was due at T0, the old end
    now = T0 + timedelta(seconds=5)
    t = after_settled(settle(Command.STOP, reason, outcome, acted), [row(Phase.RECORDING, rec)],
                      {"w": rec}, now)  # fmt: skip
    assert [o.command for o in t.orders] == follow
    assert all(o.deadline == rec.end for o in t.orders if o.opens)
