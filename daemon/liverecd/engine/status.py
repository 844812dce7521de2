"""The daemon's status, typed: what /healthz, STATUS= and the status page show.

`Status` is immutable and built on the loop from counters and indexes (never a scan of every
window); the status thread reads the latest one and renders it with `view(now)`, which is where
time-dependent truths are decided: the next action is the first that has not passed *now*, and a
dropped command keeps the daemon unhealthy for `DROP_UNHEALTHY` after it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from liverecd.engine.alarms import STOP
from liverecd.engine.dispatch.orders import Failure

if TYPE_CHECKING:
    from liverecd.engine.core import Engine
    from liverecd.schedule.loader import LoadResult

DROP_UNHEALTHY = timedelta(minutes=10)
PAST_SLACK = timedelta(seconds=1)  # an action this late is still "next" (it is being sent)
UPCOMING = 8  # next actions kept in the status


def iso(when: datetime) -> str:
    """ISO 8601 UTC with `Z`."""
    return when.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Action:
    """A command the daemon will send for a window, and when it is due."""

    time: datetime
    command: str
    stream: str
    window: str

    def json(self) -> dict[str, str]:
        """JSON-able form."""
        return {"time": iso(self.time), "command": self.command, "stream": self.stream,
                "window": self.window}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """One consistent picture of the daemon (see module doc)."""

    time: datetime
    config_loaded: bool = False
    files_loaded: int = 0
    files_failed: tuple[str, ...] = ()
    file_problems: tuple[str, ...] = ()  # FILE:LINE:COL: message, errors only
    config_problems: tuple[str, ...] = ()  # the main config's, while a reload refuses it
    windows_total: int = 0
    open_now: int = 0  # windows the daemon holds open (opening or recording)
    recording: int = 0  # recordings the API confirmed
    upcoming: tuple[Action, ...] = ()
    queue: int = 0
    last_failure: Failure | None = None
    state_error: str | None = None
    last_reload: tuple[datetime, bool] | None = None
    clock_jumps: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # sections other parts add (page, HA)

    def problems(self, now: datetime) -> list[str]:
        """Why the daemon is not healthy at `now` (empty when it is)."""
        out = [f"config: {p}" for p in self.config_problems]
        out += [f"schedule: {p}" for p in self.file_problems]
        if self.state_error is not None:
            out.append(f"state writes failing: {self.state_error}")
        failure = self.last_failure
        if failure is not None and now - failure.time < DROP_UNHEALTHY:
            out.append(f"command failed at {iso(failure.time)}: {failure.text}")
        return out

    def next_action(self, now: datetime) -> Action | None:
        """The first upcoming action that has not passed at `now`."""
        return next((a for a in self.upcoming if a.time >= now - PAST_SLACK), None)

    def view(self, now: datetime) -> dict[str, Any]:
        """The JSON body /healthz serves (before the status server adds its own checks)."""
        nxt = self.next_action(now)
        failure = self.last_failure
        return {
            "config_loaded": self.config_loaded,
            "files": {
                "loaded": self.files_loaded,
                "failed": list(self.files_failed),
                "problems": list(self.file_problems),
            },
            "windows": {
                "total": self.windows_total,
                "open_now": self.open_now,
                "recording": self.recording,
            },
            "next_action": nxt.json() if nxt is not None else None,
            "queue": self.queue,
            "last_error": failure.text if failure is not None else None,
            "last_error_time": iso(failure.time) if failure is not None else None,
            "state_error": self.state_error,
            "last_reload": (
                {"time": iso(self.last_reload[0]), "ok": self.last_reload[1]}
                if self.last_reload
                else None
            ),
            "clock_jumps": self.clock_jumps,
            "problems": self.problems(now),
            "time": iso(now),
            **self.extra,
        }


def status_of(
    engine: Engine, loaded: LoadResult | None,
    last_reload: tuple[datetime, bool, tuple[str, ...]] | None,
) -> Status:  # fmt: skip
    """The status of `engine` now, from counters and indexes (no scan of the timetable);
    `last_reload`: when, whether every file loaded, and the main config's problems."""
    open_now, recording = engine.counts()
    upcoming = []
    for _, kind, wid in engine.alarms.upcoming(UPCOMING):
        rec = engine.windows.get(wid)
        if rec is not None:
            when = rec.end if kind == STOP else rec.start
            upcoming.append(Action(when, kind, str(rec.stream), wid))
    return Status(
        time=engine.clock.wall(),
        config_loaded=loaded is not None,
        files_loaded=len(loaded.files) if loaded else 0,
        files_failed=tuple(loaded.failed) if loaded else (),
        file_problems=tuple(str(p) for p in loaded.errors) if loaded else (),
        config_problems=last_reload[2] if last_reload else (),
        windows_total=len(engine.windows),
        open_now=open_now,
        recording=recording,
        upcoming=tuple(sorted(upcoming, key=lambda a: a.time)),
        queue=len(engine.dispatcher),
        last_failure=engine.last_failure,
        state_error=engine.book.last_error,
        last_reload=last_reload[:2] if last_reload else None,
        clock_jumps=engine.clock_jumps,
    )
