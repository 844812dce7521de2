"""Signals from the first instant of `liverecd run` (issue 12, case 8).

Python dies of a SIGHUP (status 129) and, without a handler, of a SIGTERM too, until someone
handles them; the daemon's handlers live on its event loop, which exists only after imports,
config, credentials and extensions. `hold()` is called first thing: until the loop takes over,
these signals are only remembered, and the service replays them once it can act on them (a
SIGTERM then drains and exits 0; a SIGHUP reloads once the daemon is ready).
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_pending: list[signal.Signals] = []


def _remember(signum: int, frame: FrameType | None) -> None:
    remember(signal.Signals(signum))


def hold() -> None:
    """Remember SIGTERM, SIGINT and SIGHUP instead of dying of them (until the loop's own
    handlers replace these)."""
    for sig in HANDLED:
        signal.signal(sig, _remember)


def ignore() -> None:
    """Ignore SIGTERM, SIGINT and SIGHUP from now on (the process is exiting: its last log
    lines draining, its objects freed). Python resets its own handlers to the default while it
    finalizes, which would let a late SIGHUP kill a process that stopped cleanly; an ignored
    signal stays ignored."""
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)


def remember(sig: signal.Signals) -> None:
    """Hold `sig` for the daemon's handlers (a signal that came before they could take it)."""
    _pending.append(sig)


def stop_pending() -> signal.Signals | None:
    """The first SIGTERM or SIGINT held so far, if any (it stays held)."""
    return next((s for s in _pending if s is not signal.SIGHUP), None)


def take_pending() -> list[signal.Signals]:
    """The signals held so far, in order of arrival (each once); forgets them."""
    taken = list(dict.fromkeys(_pending))
    _pending.clear()
    return taken


def hold_on_loop(stopped: asyncio.Future[None]) -> None:
    """Hold signals on the running loop until the daemon's handlers replace these (a start-up
    still waiting for credentials); a SIGTERM or SIGINT, now or held before, sets `stopped`."""

    def held(sig: signal.Signals) -> None:
        remember(sig)
        if sig is not signal.SIGHUP and not stopped.done():
            stopped.set_result(None)

    loop = asyncio.get_running_loop()
    for sig in HANDLED:
        loop.add_signal_handler(sig, held, sig)
    if stop_pending() is not None and not stopped.done():
        stopped.set_result(None)
