"""The systemd notify protocol (sd_notify(3)) in a few lines, the watchdog and STATUS= loops.

A datagram of `KEY=VALUE` lines to the AF_UNIX socket named by `NOTIFY_SOCKET` (a path, or
`@name` for the abstract namespace). Without `NOTIFY_SOCKET` (not under systemd, or a unit that
is not `Type=notify`) every call is a no-op. Sending never raises and never blocks the event
loop: the socket is non-blocking, and a failure is logged once per run of failures, because a
notify problem must never take the recordings down with it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from liverecd.clock import Clock, SystemClock

if TYPE_CHECKING:
    from liverecd.engine.daemon import Daemon

log = structlog.get_logger(__name__)

STATUS_INTERVAL = 2.0  # seconds between STATUS= checks; sent only when the text changes


def _address(raw: str | None) -> str | None:
    """The socket address Python's AF_UNIX understands, or None when there is nothing usable."""
    if not raw:
        return None
    if raw.startswith("@"):
        return "\0" + raw[1:]  # abstract namespace: a leading NUL byte instead of a path
    if raw.startswith("/"):
        return raw
    # Anything else (e.g. systemd >= 254's `vsock:CID:PORT`) is a transport we do not speak.
    log.warning("sd_notify_unsupported_socket", notify_socket=raw)
    return None


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    usec, for_pid = environ.get("WATCHDOG_USEC", ""), environ.get("WATCHDOG_PID", "")
    if for_pid and for_pid != str(pid):
        return None  # meant for another process (we were started by a child of the main one)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class Notifier:
    """Sends sd_notify messages; a no-op when `address` is None."""

    def __init__(self, address: str | None, *, watchdog_interval: float | None = None) -> None:
        self._address = address
        self._watchdog_interval = watchdog_interval
        self._sock: socket.socket | None = None
        self._failing = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, pid: int | None = None) -> Notifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, as sd_notify(3) does.

        `pid` defaults to this process; WATCHDOG_PID naming another process disables the watchdog.
        """
        own_pid = os.getpid() if pid is None else pid
        return cls(
            _address(environ.get("NOTIFY_SOCKET")),
            watchdog_interval=_watchdog_interval(environ, own_pid),
        )

    @property
    def enabled(self) -> bool:
        """True when messages go somewhere."""
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """WatchdogSec= in seconds when the watchdog is on for this process, else None."""
        return self._watchdog_interval if self.enabled else None

    def ready(self, status: str | None = None) -> bool:
        """READY=1: startup or a reload is complete."""
        return self.send("READY=1", *self._status(status))

    def reloading(self, status: str | None = None) -> bool:
        """RELOADING=1 with MONOTONIC_USEC (systemd >= 253 requires it for Type=notify-reload)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", *self._status(status))

    def stopping(self, status: str | None = None) -> bool:
        """STOPPING=1: the drain has begun."""
        return self.send("STOPPING=1", *self._status(status))

    def status(self, text: str) -> bool:
        """STATUS=text, shown by `systemctl status`."""
        return self.send(*self._status(text))

    def watchdog(self) -> bool:
        """WATCHDOG=1: the service is alive."""
        return self.send("WATCHDOG=1")

    def send(self, *fields: str) -> bool:
        """Send one datagram of newline-joined fields; True if it left, False otherwise.

        Never raises: an OSError is logged (once per run of failures) and swallowed.
        """
        if self._address is None or not fields:
            return False
        try:
            self._socket().sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:
            if not self._failing:
                log.warning(
                    "sd_notify_failed", error=str(exc), fields=[f.split("=")[0] for f in fields]
                )
            self._failing = True
            return False
        self._failing = False
        return True

    def close(self) -> None:
        """Close the socket; a later send opens a new one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)  # a full receive queue must not stall the event loop
            self._sock = sock
        return self._sock

    @staticmethod
    def _status(text: str | None) -> tuple[str, ...]:
        # One line per field: a newline inside STATUS= would start a bogus field.
        return () if text is None else ("STATUS=" + " ".join(text.split()),)


def status_line(
    *,
    windows: int,
    recording: int,
    now: datetime,
    next_at: datetime | None = None,
    next_command: str = "",
    next_stream: str = "",
    zone: tzinfo = UTC,
) -> str:
    """The STATUS= text, e.g. "120 windows, 3 recording, next: start news at 19:00 CST".

    The next action is shown in `zone` (its stream's file zone), with its date when that is not
    `now`'s local date. `next_stream` may be DOMAIN/APP/STREAM; only STREAM is shown.
    """
    text = f"{windows} windows, {recording} recording"
    if next_at is None:
        return text + ", nothing scheduled"
    local = next_at.astimezone(zone)
    same_day = local.date() == now.astimezone(zone).date()
    when = local.strftime("%H:%M %Z" if same_day else "%Y-%m-%d %H:%M %Z")
    return f"{text}, next: {next_command} {next_stream.rsplit('/', 1)[-1]} at {when}"


def status_from_snapshot(snapshot: Mapping[str, object], now: datetime) -> str:
    """The STATUS= text for a daemon status snapshot (the /healthz body; engine/snapshot.py).

    Reads `config_loaded`, `windows.total`, `windows.recording`, `files.failed` and
    `next_action.{time, command, stream, zone}`; `zone` (IANA) is optional, UTC by default.
    """
    if not snapshot.get("config_loaded"):
        return "loading the configuration"
    windows = _mapping(snapshot.get("windows"))
    nxt = _mapping(snapshot.get("next_action"))
    at, zone = nxt.get("time"), nxt.get("zone")
    text = status_line(
        windows=_int(windows.get("total")),
        recording=_int(windows.get("recording")),
        now=now,
        next_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
        next_command=str(nxt.get("command", "")),
        next_stream=str(nxt.get("stream", "")),
        zone=_zone(zone),
    )
    failed = _mapping(snapshot.get("files")).get("failed")
    if isinstance(failed, list | tuple) and failed:
        text += f"; {len(failed)} schedule file(s) failing, last good version in force"
    return text


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _zone(name: object) -> tzinfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


async def status_loop(
    notifier: Notifier,
    snapshot: Callable[[], Mapping[str, object]],
    *,
    clock: Clock | None = None,
    interval: float = STATUS_INTERVAL,
) -> None:
    """Send STATUS= whenever the text for `snapshot()` changes, checking every `interval`."""
    if not notifier.enabled:
        return
    clock = clock or SystemClock()
    last = None
    while True:
        text = status_from_snapshot(snapshot(), clock.wall())
        if text != last:
            notifier.status(text)
            last = text
        await clock.sleep(interval)


async def watchdog_loop(
    notifier: Notifier,
    heartbeat_ok: Callable[[], bool],
    *,
    clock: Clock | None = None,
) -> None:
    """Send WATCHDOG=1 every half WatchdogSec= while `heartbeat_ok()`; return at once when off.

    Runs ON the event loop it guards: when the loop is wedged this coroutine cannot run, the pings
    stop, and systemd restarts the service. `heartbeat_ok` lets the caller withhold pings when a
    part it depends on (e.g. the dispatcher) has stopped making progress although the loop runs.
    """
    interval = notifier.watchdog_interval()
    if interval is None:
        return
    clock = clock or SystemClock()
    withheld = False
    while True:
        if heartbeat_ok():
            notifier.watchdog()
            withheld = False
        elif not withheld:
            log.error("watchdog_ping_withheld", reason="heartbeat not ok")
            withheld = True
        await clock.sleep(interval / 2)


class StatusLineExtension:
    """A service extension: `status_loop` on the daemon's snapshot, so that `systemctl status`
    shows what the daemon is doing (a no-op without NOTIFY_SOCKET)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self._daemon: Daemon | None = None

    async def start(self, daemon: Daemon) -> None:
        """Remember the daemon whose snapshot is shown."""
        self._daemon = daemon

    async def run(self) -> None:
        """Send STATUS= on every change until cancelled."""
        if self._daemon is not None:
            await status_loop(self._notifier, self._daemon.snapshot, clock=self._daemon.clock)

    async def close(self) -> None:
        """Nothing to release."""
