"""structlog, configured once at the entry point: one JSON object per line on stdout.

Every line carries `timestamp` (ISO 8601 UTC, `Z`), `level` and `event`, plus whatever the call
site bound (contextvars included). A terminal, or `log.format: console`, gets the console
renderer instead. Exceptions are rendered as structured tracebacks WITHOUT local variables: a
frame's locals can hold a request's signing key. Standard-library loggers (aiohttp, asyncio,
APScheduler) go through the same processors, so the stream stays one format.

The last processor before rendering redacts: any field whose name says secret/token/password/
auth key, and any occurrence of a value registered with `register_secret` (the AccessKey
secret, the STS token, the notify key) anywhere in a line. Call sites never log secrets; this
is the line of defence for the day one does by mistake.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO, cast

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from liverecd.schedule.model import LogConfig

if TYPE_CHECKING:
    from liverecd.api.credentials import Credentials

REDACTED = "***"
_SECRET_KEY = re.compile(r"secret|token|password|passwd|auth_?key|authorization|credential", re.I)
_SECRETS: set[str] = set()
_MIN_SECRET = 6  # shorter values would redact common words
_FIRST = ("timestamp", "level", "event")


def register_secret(value: str | None) -> None:
    """Redact `value` wherever it would appear in a log line from now on."""
    if value and len(value) >= _MIN_SECRET:
        _SECRETS.add(value)


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
        _SECRETS.difference_update(set(old) - {v for entry in _ROTATING for v in entry})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _SECRETS:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
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


def configure(config: LogConfig | None = None, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's logging for the whole process."""
    config = config or LogConfig()
    out = cast(TextIO, _NeverRaises(stream or sys.stdout))
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
