"""What the daemon hands the dispatcher (`Order`) and what it hears back (`Settled`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from liverecd.api.result import ApiResult, Outcome
from liverecd.schedule.actions import Recording
from liverecd.streams import Command, StreamKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One command to carry to a conclusion. Instants are aware UTC wall-clock times.

    `deadline` ends an opening command's retries (its window's end); stops and cancel_delays
    have none: they are retried until they land. `early` lets a first attempt leave up to
    `max_lead` before `due` (starts only: a restart or a stop never leaves early).
    `chain_due` places the order among its stream's commands (a cancel_delay takes its stop's
    place, so a later window's start never slips between the two); it defaults to `due`.
    `reassert` marks a start re-asserting a recording that may already run (start-up, the
    watch): the command is final. Any other opening command is settled just before it leaves
    (`reconcile.resolve_opening`), from what the stream's rows say then.
    """

    command: Command
    stream: StreamKey
    window_id: str
    due: datetime
    deadline: datetime | None = None
    early: bool = False
    chain_due: datetime | None = None
    reassert: bool = False  # re-asserting what may already run: sent as is, never upgraded

    @property
    def key(self) -> tuple[str, Command]:
        """At most one order per window and command is pending at a time."""
        return (self.window_id, self.command)

    @property
    def opens(self) -> bool:
        """True for start and restart."""
        return self.command in (Command.START, Command.RESTART)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """How an order left the dispatcher.

    `reason`: `succeeded`, `fatal`, `retries_exhausted`, `window_closed` (an opening command's
    window closed before it got through), `skipped` (the resolver said nothing to send) or
    `cancelled`. `command` is the last command sent (a restart with an unknown outcome is
    re-asserted as start). `maybe_acted` is True when an attempt may have been carried out
    (a success or an unknown outcome): the caller then still owes a stop.
    """

    order: Order
    command: Command
    reason: str
    attempts: int
    outcome: Outcome | None = None
    result: ApiResult | None = None
    maybe_acted: bool = False
    sent_at: datetime | None = None  # wall clock, when the last attempt left
    window: Recording | None = None  # the window as the timeline had it (for listeners)

    @property
    def succeeded(self) -> bool:
        """The command landed (OK or IDEMPOTENT_OK)."""
        return self.outcome is not None and self.outcome.succeeded


@dataclass(frozen=True, slots=True)
class Failure:
    """The last command that failed for good (dropped or refused), as the status shows it."""

    time: datetime
    text: str
