"""Signals from the first instant of `liverecd run` (issue 12, case 8).

Python dies of a SIGHUP (status 129) and, without a handler, of a SIGTERM too, until someone
handles them; the daemon's handlers live on its event loop, which exists only after imports,
config, credentials and extensions. `hold()` is called first thing: until the loop takes over,
these signals are only remembered, and the service replays them once it can act on them (a
SIGTERM then drains and exits 0; a SIGHUP reloads once the daemon is ready).
"""

from __future__ import annotations

import signal
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_pending: list[signal.Signals] = []


def _remember(signum: int, frame: FrameType | None) -> None:
    _pending.append(signal.Signals(signum))


def hold() -> None:
    """Remember SIGTERM, SIGINT and SIGHUP instead of dying of them (until the loop's own
    handlers replace these)."""
    for sig in HANDLED:
        signal.signal(sig, _remember)


def stop_held() -> bool:
    """Whether a SIGTERM or SIGINT is among the held signals (they stay held)."""
    return any(sig in (signal.SIGTERM, signal.SIGINT) for sig in _pending)


def take_pending() -> list[signal.Signals]:
    """The signals held so far, in order of arrival (each once); forgets them."""
    taken = list(dict.fromkeys(_pending))
    _pending.clear()
    return taken
