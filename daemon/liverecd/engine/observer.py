"""How the engine reports what it does to metrics without importing them (imports flow down).

`ops.metrics` implements `EngineObserver`; tests and the plain CLI use `NullObserver`.
All durations are seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

import structlog

from liverecd.api.result import Outcome
from liverecd.streams import Command

if TYPE_CHECKING:
    from liverecd.config import Config
    from liverecd.engine.dispatch.orders import Settled
    from liverecd.engine.online.sessions import Event

log = structlog.get_logger(__name__)
T = TypeVar("T")


class EngineObserver(Protocol):
    def command_attempt(
        self, command: Command, outcome: Outcome, latency: float, lateness: float | None
    ) -> None:
        """One attempt answered (or failed on the wire). `lateness` is set on first attempts."""

    def retry_scheduled(self, command: Command, outcome: Outcome) -> None:
        """A retry of `command` was queued after `outcome`."""

    def command_dropped(self, command: Command, reason: str) -> None:
        """`command` was given up (`fatal`, `retries_exhausted`, `window_closed`)."""

    def throttled(self) -> None:
        """The API answered Throttling* (or 429)."""

    def queue_changed(self, depth: int) -> None:
        """The dispatcher queue now holds `depth` commands."""

    def limiter_waited(self, seconds: float) -> None:
        """A command waited this long for a limiter slot."""

    def windows_changed(self, total: int, open_now: int, recording: int) -> None:
        """Timeline size, windows open now, recordings the daemon believes are running."""

    def reloaded(self, ok: bool, timestamp: float) -> None:
        """A reload finished; `ok` False when any file kept its last good version."""

    def loop_heartbeat(self, timestamp: float) -> None:
        """The event loop is alive (used by /healthz and the watchdog)."""

    def stream_dropped(self) -> None:
        """The online watch saw a stream inside an open window drop (its recording ended)."""

    def stream_rearmed(self, lost_seconds: float) -> None:
        """A start succeeded in a stream's new session after a drop; `lost_seconds`: from the
        drop to that start, the recording the drop cost."""

    def online_list_call(self, ok: bool) -> None:
        """One DescribeLiveStreamsOnlineList call was answered (`ok`: a usable listing)."""

    def watch_healthy(self, healthy: bool) -> None:
        """The online watch can (True) or cannot (False: off, failing, stalled) be relied on to
        see streams come online."""


class NullObserver:
    """Observes nothing."""

    def command_attempt(
        self, command: Command, outcome: Outcome, latency: float, lateness: float | None
    ) -> None:
        return None

    def retry_scheduled(self, command: Command, outcome: Outcome) -> None:
        return None

    def command_dropped(self, command: Command, reason: str) -> None:
        return None

    def throttled(self) -> None:
        return None

    def queue_changed(self, depth: int) -> None:
        return None

    def limiter_waited(self, seconds: float) -> None:
        return None

    def windows_changed(self, total: int, open_now: int, recording: int) -> None:
        return None

    def reloaded(self, ok: bool, timestamp: float) -> None:
        return None

    def loop_heartbeat(self, timestamp: float) -> None:
        return None

    def stream_dropped(self) -> None:
        return None

    def stream_rearmed(self, lost_seconds: float) -> None:
        return None

    def online_list_call(self, ok: bool) -> None:
        return None

    def watch_healthy(self, healthy: bool) -> None:
        return None


class Lifecycle(Protocol):
    """What a service manager hears (ops.notify.Notifier implements it)."""

    def ready(self, status: str | None = None) -> object: ...

    def reloading(self, status: str | None = None) -> object: ...

    def stopping(self, status: str | None = None) -> object: ...


class Quiet:
    """A service manager that hears nothing (tests, embedding)."""

    def ready(self, status: str | None = None) -> object:
        return None

    def reloading(self, status: str | None = None) -> object:
        return None

    def stopping(self, status: str | None = None) -> object:
        return None


@dataclass(frozen=True, slots=True)
class Listeners:
    """Who hears the daemon besides its observer, fixed when it is built: settled commands
    (the page's ledger, verification), the online watch's events (verification's evidence),
    and reloaded main configs (what companions take in place)."""

    settled: tuple[Callable[[Settled], None], ...] = ()
    watch: tuple[Callable[[Event], None], ...] = ()
    config: tuple[Callable[[Config], None], ...] = ()

    def reloaded(self, config: Config) -> None:
        """Tell the config listeners of a reloaded main config."""
        tell(self.config, config)


def tell(listeners: Iterable[Callable[[T], None]], what: T) -> None:
    """Give `what` to each listener. One that raises is logged (`listener_failed`) and the
    others still hear it: a companion's bug must not cost the engine its own bookkeeping."""
    for listener in listeners:
        try:
            listener(what)
        except Exception:
            with contextlib.suppress(OSError):  # a log that cannot be written is no reason either
                log.exception("listener_failed", listener=getattr(listener, "__qualname__", "?"))
