"""What the page remembers of settled commands: the last errors and each window's last command.

The engine decides and forgets; the operator wants "what failed lately, with its code and
RequestId" and "what was the last command of this recording". `Ledger.settled` is an engine
settle listener (it runs on the event loop, O(1) per command); both memories are bounded, so a
daemon that runs for months holds the same few kilobytes.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime

from liverecd.engine.dispatch.orders import Settled
from liverecd.ops.page.model import ErrorEntry

FAILURES = frozenset({"fatal", "retries_exhausted", "window_closed"})
MAX_ERRORS = 100
MAX_WINDOWS = 50_000  # last commands kept: more than the recordings any daemon runs at once


@dataclass(frozen=True, slots=True)
class LastCommand:
    """The last settled command of a window."""

    command: str
    reason: str
    time: datetime


class Ledger:
    """Bounded memories of settled commands. Fed and read on the event loop."""

    def __init__(self, *, max_errors: int = MAX_ERRORS, max_windows: int = MAX_WINDOWS) -> None:
        self._errors: deque[ErrorEntry] = deque(maxlen=max_errors)
        self._last: OrderedDict[str, LastCommand] = OrderedDict()
        self._max_windows = max_windows

    def settled(self, settled: Settled, now: datetime) -> None:
        """Remember how a command settled (`now`: the wall clock when it did)."""
        when = settled.sent_at or now
        wid = settled.order.window_id
        self._last[wid] = LastCommand(str(settled.command), settled.reason, when)
        self._last.move_to_end(wid)
        if len(self._last) > self._max_windows:
            self._last.popitem(last=False)
        if settled.reason in FAILURES:
            result = settled.result
            self._errors.append(
                ErrorEntry(
                    time=when, stream=str(settled.order.stream), window=wid,
                    command=str(settled.command), reason=settled.reason,
                    code=(result.code or result.transport_error) if result else None,
                    request_id=result.request_id if result else None,
                    message=result.message if result else None,
                )
            )  # fmt: skip

    def last(self, window_id: str) -> LastCommand | None:
        """The last settled command of `window_id`, if remembered."""
        return self._last.get(window_id)

    def errors(self, needle: str = "") -> tuple[ErrorEntry, ...]:
        """The remembered failures, newest first (of streams containing `needle`)."""
        return tuple(e for e in reversed(self._errors) if needle in e.stream)
