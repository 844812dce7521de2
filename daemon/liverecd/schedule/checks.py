"""What `liverecd check` says beyond "valid": the credentials a config needs, and mistakes that
load fine but are probably not what the author meant (all warnings: exit 0).

Credentials are named with the places the daemon would look for them; whether they are there is
seen from a file's existence or a variable being set, never by reading a value.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from liverecd.config import (
    ENV_KEY_ID,
    ENV_NOTIFY_KEY,
    ENV_SECRET,
    FILE_KEY_ID,
    FILE_NOTIFY_KEY,
    FILE_SECRET,
    Config,
    Source,
)
from liverecd.durations import format_duration
from liverecd.errors import Problem
from liverecd.schedule.model import CronSpec, CronWindow, OneOffWindow, Schedule
from liverecd.schedule.occurrences import occurrences
from liverecd.schedule.quota import LateStart
from liverecd.schedule.timeline import iso_utc
from liverecd.schedule.yamlload import YMap, load_yaml

DOCUMENTED_QPS = 50  # RealTimeRecordCommand's documented per-account limit (live-api.md)
LONG_PAST = timedelta(days=30)  # a one-off that ended this long ago is probably a typo


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential the daemon will need: its `$CREDENTIALS_DIRECTORY` file name (systemd
    LoadCredential= ID) and its environment variable (None: the file only)."""

    name: str
    env: str | None
    why: str
    also: str = ""  # other places it may come from


def credentials_needed(config: Config) -> list[Credential]:
    """Every credential `liverecd run` with this config needs."""
    needed = [
        Credential(FILE_KEY_ID, ENV_KEY_ID, "api"),
        Credential(FILE_SECRET, ENV_SECRET, "api"),
    ]
    for name in config.account_names:  # an account with a prefix reads its own files only
        prefix = config.account(name).credentials_prefix
        if prefix is not None:
            why = f"account {name}"
            needed += [Credential(prefix + FILE_KEY_ID, None, why),
                       Credential(prefix + FILE_SECRET, None, why)]  # fmt: skip
    if config.watch.callback_listen is not None:
        why = f"watch.callback_listen {config.watch.callback_listen}"
        needed.append(Credential(FILE_NOTIFY_KEY, ENV_NOTIFY_KEY, why))
    if config.verify.enabled and config.verify.callback_listen is not None:
        why = f"verify.callback_listen {config.verify.callback_listen}"
        needed.append(Credential("record_auth_key", "LIVERECD_RECORD_AUTH_KEY", why))
    if config.database is not None:
        also = " or ~/.pgpass ($PGPASSFILE), if the server asks for one"
        needed.append(Credential("database_password", "PGPASSWORD", "database", also))
    return needed


def describe_credential(need: Credential, environ: Mapping[str, str] | None = None) -> str:
    """`credential NAME (for WHY): from ...; here: ...` without reading the value."""
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if directory:
        found = (Path(directory) / need.name).is_file()
        here = f"{'present' if found else 'MISSING'} in $CREDENTIALS_DIRECTORY"
    elif need.env is not None and need.env in env:
        here = f"${need.env} is set"
    else:
        here = "not in this shell (fine if the service gets it from LoadCredential=)"
    variable = f" or ${need.env}" if need.env is not None else ""
    return (
        f"credential {need.name} (for {need.why}): $CREDENTIALS_DIRECTORY/{need.name} "
        f"(systemd LoadCredential={need.name}:...){variable}{need.also}; here: {here}"
    )


def config_warnings(config: Config) -> list[Problem]:
    """Main-config values that load but are likely wrong: api.qps above the documented limit."""
    if config.api.qps <= DOCUMENTED_QPS:
        return []
    display = config.source.file if config.source else str(config.path)
    line, col = _locate(config.path, display, ("api", "qps"))
    message = (
        f"api.qps: {config.api.qps:g} is above the documented {DOCUMENTED_QPS} calls/s per "
        "account: the API will throttle (Throttling.User) and starts will land late"
    )
    return [Problem(display, line, col, message, "warning")]


def _locate(path: Path, display: str, keys: tuple[str, ...]) -> tuple[int | None, int | None]:
    node = load_yaml(path, display).root
    for key in keys:
        if not isinstance(node, YMap) or key not in node.entries:
            return None, None
        node = node.entries[key]
    return node.line, node.col


def past_windows(schedule: Schedule, now: datetime) -> list[Problem]:
    """A warning for each one-off window of an enabled stream that ended long before `now`
    (a typo in the year); last week's events left in a file are not worth a line each."""
    out: list[Problem] = []
    for stream in schedule.streams():
        if not stream.enabled:
            continue
        for w in stream.windows:
            if isinstance(w, OneOffWindow) and w.end <= now - LONG_PAST:
                message = (
                    f"window ended {iso_utc(w.end)}, before {iso_utc(now.replace(microsecond=0))}"
                    ": it will never "
                    "record (a typo in the year?)"
                )
                out.append(_warning(w.source, message))
    return out


def endless_rules(schedule: Schedule, start: datetime, end: datetime) -> list[Problem]:
    """A warning for each recurring window whose windows overlap each other in [start, end):
    they merge, so the stream records without a break and never gets a stop."""
    rules = [
        (stream, w)
        for stream in schedule.streams()
        if stream.enabled
        for w in stream.windows
        if isinstance(w, CronWindow)
    ]
    # Thousands of windows share a few thousand (rule, zone) pairs: look at each pair once, far
    # enough back for its longest window.
    longest: dict[tuple[CronSpec, ZoneInfo], timedelta] = {}
    for stream, w in rules:
        key = (w.cron, stream.timezone)
        longest[key] = max(longest.get(key, w.duration), w.duration)
    shortest = {key: _closest_firings(*key, start - back, end) for key, back in longest.items()}
    out: list[Problem] = []
    for stream, w in rules:
        gap = shortest[w.cron, stream.timezone]
        if gap is not None and gap < w.duration:
            message = (
                f"windows overlap each other: cron {w.cron.expr!r} fires every "
                f"{format_duration(gap)} (at the closest) but each window lasts "
                f"{format_duration(w.duration)}, so {stream.key} records without a break "
                "and is never stopped; make duration shorter than the time between firings"
            )
            out.append(_warning(w.source, message))
    return out


def _closest_firings(
    cron: CronSpec, tz: ZoneInfo, start: datetime, end: datetime
) -> timedelta | None:
    firings = [o.at for o in occurrences(cron, tz, start, end)]
    return min((b - a for a, b in itertools.pairwise(firings)), default=None)


def quota_warnings(late: list[LateStart], qps: float, max_lead: timedelta) -> list[Problem]:
    """One warning per instant at which starts land late: how many, the worst, the first."""
    by_due: dict[datetime, list[LateStart]] = {}
    for item in late:
        by_due.setdefault(item.due, []).append(item)
    out: list[Problem] = []
    for due, items in sorted(by_due.items()):
        first = min(items, key=lambda i: i.source)
        worst = max(i.lateness for i in items).total_seconds()
        streams = len({i.stream for i in items})
        count = f"{len(items)} starts ({streams} streams)" if len(items) > 1 else "1 start"
        message = (
            f"{count} due {iso_utc(due)} land late, by up to {worst:.2f}s (first: {first.stream}"
            f"): more starts are due then than api.qps {qps:g} can send within max_lead "
            f"{format_duration(max_lead)}"
        )
        out.append(_warning(first.source, message))
    return out


def _warning(source: Source, message: str) -> Problem:
    return Problem(source.file, source.line, source.col, message, "warning")
