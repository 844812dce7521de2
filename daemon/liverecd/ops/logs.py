"""structlog, configured once at the entry point: one JSON object per line on stdout.

Every line carries `timestamp` (ISO 8601 UTC, `Z`), `level` and `event`, plus whatever the call
site bound (contextvars included). A terminal, or `log.format: console`, gets the console
renderer instead. Exceptions are rendered as structured tracebacks WITHOUT local variables: a
frame's locals can hold a request's signing key. Standard-library loggers (aiohttp, asyncio,
APScheduler) go through the same processors, so the stream stays one format.

The last processor before rendering redacts: any field whose name says secret/token/password/
auth key, and any occurrence of a value in the process's secret registry (`liverecd.redaction`:
the AccessKey secret, the STS token, the notify key) anywhere in a line. Call sites never log
secrets; this is the line of defence for the day one does by mistake.

Writing never blocks the event loop (issue 12, case 3): a stdout nobody reads (a FIFO, a
stalled journald) would otherwise stop every command and even SIGTERM. Lines go to a bounded
queue that a writer thread drains with blocking writes; when the queue is full a line is
dropped and counted (`dropped_lines()`, the metric `liverecd_log_lines_dropped_total`), and the
writer says how many once it catches up. At exit the queue gets a short grace to drain.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, cast

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from liverecd import redaction
from liverecd.config import LogConfig

if TYPE_CHECKING:
    from liverecd.api.credentials import Credentials

REDACTED = redaction.REDACTED
_SECRET_KEY = re.compile(r"secret|token|password|passwd|auth_?key|authorization|credential", re.I)
_FIRST = ("timestamp", "level", "event")
QUEUE_LINES = 10_000  # lines held for a slow reader before new ones are dropped
EXIT_GRACE = 1.0  # seconds the queue may take to drain at exit


def register_secret(value: str | None) -> None:
    """Redact `value` in every output from now on (the registry of `liverecd.redaction`)."""
    redaction.register(value)


_ROTATING: deque[tuple[str, ...]] = deque()
_ROTATING_KEEP = 16  # credential sets: a few generations of every account's STS keys


def register_credentials(creds: Credentials) -> None:
    """Redact `creds`' secret and token from now on. STS credentials rotate (every 30 s in
    some setups): only the newest sets stay registered, so scrubbing stays cheap for weeks."""
    values = tuple(s.reveal() for s in (creds.secret, creds.security_token) if s is not None)
    for value in values:
        register_secret(value)
    _ROTATING.append(values)
    while len(_ROTATING) > _ROTATING_KEEP:
        old = _ROTATING.popleft()
        redaction.forget(set(old) - {v for entry in _ROTATING for v in entry})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redaction.scrub(value)
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Processor: blank secret-named fields and registered secret values, at any depth.

    Also puts `timestamp`, `level` and `event` first, for people reading the raw stream."""
    out: EventDict = {k: event_dict[k] for k in _FIRST if k in event_dict}
    for key, value in event_dict.items():
        out[key] = REDACTED if _is_secret_key(key) and value is not None else _scrub(value)
    return out


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def _renderers(console: bool, colors: bool) -> list[Processor]:
    if console:
        return [redact, structlog.dev.ConsoleRenderer(colors=colors)]
    return [
        structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False, use_rich=False)
        ),
        redact,
        structlog.processors.JSONRenderer(sort_keys=False),
    ]


class _NeverRaises:
    """A log sink that survives its reader: when stdout becomes a broken pipe (journald
    restarted, a pipe closed), log calls must not raise into the daemon's work, and the
    interpreter's final flush must not turn a clean exit into status 120."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                self._out.write(text)
            except OSError:
                self._give_up()
        return len(text)

    def flush(self) -> None:
        if not self._broken:
            try:
                self._out.flush()
            except OSError:
                self._give_up()

    def isatty(self) -> bool:
        return bool(getattr(self._out, "isatty", lambda: False)())

    def _give_up(self) -> None:
        self._broken = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._out.fileno())
            os.close(devnull)


class _QueuedSink:
    """A log sink whose writes never block: lines queue for a writer thread that owns the file
    descriptor; a full queue drops the line and counts it."""

    def __init__(self, fd: int, capacity: int = QUEUE_LINES) -> None:
        self._fd = fd
        self._lines: queue.Queue[str] = queue.Queue(capacity)
        self.dropped = 0
        self._reported = 0
        self._broken = False
        threading.Thread(target=self._drain, name="liverecd-log", daemon=True).start()

    def write(self, text: str) -> int:
        try:
            self._lines.put_nowait(text)
        except queue.Full:
            self.dropped += 1
        return len(text)

    def flush(self) -> None:
        """Nothing to do here: the writer thread writes as soon as it can."""

    def isatty(self) -> bool:
        return False  # a terminal is written directly (see _queued_sink)

    def wait_empty(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the queue to drain (at exit)."""
        deadline = time.monotonic() + timeout
        while self._lines.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _drain(self) -> None:
        while True:
            text = self._lines.get()
            try:
                self._write(text)
                if self.dropped > self._reported and self._lines.empty():
                    self._write(self._dropped_line())
            finally:
                self._lines.task_done()

    def _dropped_line(self) -> str:
        count, self._reported = self.dropped - self._reported, self.dropped
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        line = {"timestamp": now, "level": "warning", "event": "log_lines_dropped",
                "dropped": count, "dropped_total": self.dropped}  # fmt: skip
        return json.dumps(line) + "\n"

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", errors="replace")
        while data and not self._broken:
            try:
                data = data[os.write(self._fd, data) :]
            except InterruptedError:
                continue
            except OSError:
                self._broken = True  # the reader is gone for good: discard from now on


_SINK: _QueuedSink | None = None


def dropped_lines() -> int:
    """Log lines dropped so far because the reader of stdout was too slow."""
    return _SINK.dropped if _SINK is not None else 0


def _queued_sink(stream: TextIO) -> _QueuedSink | None:
    global _SINK  # one stdout per process, one writer thread for it
    try:
        fd = stream.fileno()
        if os.isatty(fd):
            return None  # someone is watching: keep lines in step with print() (the demo)
    except (AttributeError, OSError, ValueError):
        return None  # not a file (a test's StringIO): written directly
    if _SINK is None or _SINK._fd != fd:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
        _SINK = _QueuedSink(fd)
        atexit.register(_SINK.wait_empty, EXIT_GRACE)
    return _SINK


def configure(config: LogConfig | None = None, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's logging for the whole process. Lines
    for a real file (stdout by default) go through the non-blocking queue."""
    config = config or LogConfig()
    target = stream or sys.stdout or sys.stderr  # stdout closed (`>&-`): it is None
    if target is None:
        target = open(os.devnull, "w")  # noqa: SIM115, PTH123 - the sink for the process's life
    out = cast(TextIO, _queued_sink(target) or _NeverRaises(target))
    tty = bool(getattr(out, "isatty", lambda: False)())
    console = config.format == "console" or tty
    level = logging.getLevelNamesMapping()[config.level.upper()]
    structlog.configure(
        processors=[*_shared(), *_renderers(console, tty)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                *_shared(),
                structlog.stdlib.ExtraAdder(),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderers(console, tty),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler announces every job added and run at INFO: thousands of lines per horizon.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("aiohttp.access").setLevel(max(level, logging.WARNING))


def fatal(exc: BaseException, config: LogConfig | None) -> None:
    """The reason the daemon cannot run, as one `daemon_failed` line on stderr in the log
    format (JSON under systemd: a log pipeline's `| json` must parse this line above all)."""
    configure(config, stream=sys.stderr)
    structlog.get_logger(__name__).critical("daemon_failed", error=str(exc))


@contextlib.contextmanager
def configured(config: LogConfig, *, stream: TextIO) -> Iterator[None]:
    """`configure` for the duration of a one-shot command, then the process's logging as it was
    (a command run in-process, as tests do, must not leave a closed stream configured)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure(config, stream=stream)
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
