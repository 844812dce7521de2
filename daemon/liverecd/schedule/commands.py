"""`liverecd check` and `liverecd plan` (DESIGN.md §2): validate, and show what would be sent.

Neither needs credentials nor sends anything. Problems go to stderr as `FILE:LINE:COL: message`
(warnings say so); the one-line summary of `check` and the table or JSON of `plan` go to stdout.
Exit 0 when the config and every schedule are valid (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from liverecd.clock import SystemClock
from liverecd.durations import format_duration
from liverecd.errors import ConfigError, LiverecdError, Problem
from liverecd.schedule.actions import Action, Recording
from liverecd.schedule.config import load_config
from liverecd.schedule.findings import dst_findings, short_windows
from liverecd.schedule.loader import LoadResult, load_schedules
from liverecd.schedule.model import Config
from liverecd.schedule.quota import LateStart, late_starts, plan_starts
from liverecd.schedule.timeline import Timeline, actions_in, iso_utc
from liverecd.streams import Command

_HEADER = ("LOCAL", "UTC", "COMMAND", "STREAM", "WINDOW", "SOURCE")


class UsageError(LiverecdError):
    """A command-line value that cannot be used (exit 1, like an invalid config)."""


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Options of `check` (name "check") or `plan` (name "plan")."""
    parser.add_argument("-c", "--config", required=True, metavar="CONFIG", help="main config")
    parser.add_argument(
        "--from",
        dest="start",
        metavar="ISO8601",
        help="start of the range (default: now; without an offset: UTC)",
    )
    default_hours = "the config's horizon, 48" if name == "check" else "24"
    parser.add_argument(
        "--hours",
        metavar="N",
        help=f"length of the range in hours (default: {default_hours})",
    )
    if name == "plan":
        parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    """Run `check` or `plan`; return the exit code."""
    # A one-shot command that builds a million long-lived objects and no cyclic garbage: the
    # cyclic collector would only rescan them, again and again (a quarter of the run time
    # with 100,000 windows). Reference counting still frees everything.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if was_enabled:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    try:
        loaded = _load(args.config)
        if loaded is None:
            return 1
        config, result = loaded
        start = _start(args.start)
        default = config.horizon if args.command == "check" else timedelta(hours=24)
        end = start + _hours(args.hours, default)
        if args.command == "check":
            return _check(config, result, start, end)
        return _plan(config, result, start, end, args.format)
    except LiverecdError as exc:
        print(f"liverecd {args.command}: {exc}", file=sys.stderr)
        return 1


def _load(path: str) -> tuple[Config, LoadResult] | None:
    """The config and schedules; None (problems printed) when either is invalid."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        _print_problems(exc.problems)
        print(f"invalid: {_count(exc.problems)} in {path}")
        return None
    result = load_schedules(config)
    _print_problems(result.problems)
    if result.errors:
        print(f"invalid: {_count(result.problems)}")
        return None
    return config, result


def _check(config: Config, result: LoadResult, start: datetime, end: datetime) -> int:
    schedule = result.schedule
    timeline = Timeline(schedule)
    recs = timeline.recordings(start, end)
    warnings = dst_findings(schedule, start, end) + short_windows(schedule)
    opening = [r for r in recs if r.start >= start]
    warnings += _quota_problems(late_starts(opening, config.api.qps, config.max_lead), config)
    if config.database is not None:  # HA: do the cluster's members run this timetable?
        from liverecd.ha.check import cluster_findings

        warnings += cluster_findings(config, schedule)
    _print_problems(sorted(warnings, key=lambda p: (p.file, p.line or 0, p.col or 0)))
    hours = format_duration(end - start)
    summary = (
        f"ok: {_plural(len(result.files), 'file')}, {_plural(timeline.stream_count, 'stream')}, "
        f"{_plural(len(recs), 'window')} in the next {hours}"
    )
    if warnings or result.problems:
        summary += f" ({_count(list(result.problems) + warnings)})"
    print(summary)
    return 0


def _quota_problems(late: list[LateStart], config: Config) -> list[Problem]:
    """One warning per window: how many of its starts land late, and the worst lateness."""
    worst: dict[tuple[str, int, int, str], tuple[LateStart, int]] = {}
    for item in late:
        key = (item.source.file, item.source.line, item.source.col, str(item.stream))
        seen = worst.get(key)
        count = 1 if seen is None else seen[1] + 1
        top = item if seen is None or item.lateness > seen[0].lateness else seen[0]
        worst[key] = (top, count)
    out: list[Problem] = []
    for (file, line, col, stream), (top, count) in worst.items():
        times = "" if count == 1 else f" ({count} starts late, the worst shown)"
        out.append(
            Problem(
                file,
                line,
                col,
                f"start of {stream} due {iso_utc(top.due)} lands "
                f"{top.lateness.total_seconds():.2f}s late{times}: more starts are due then "
                f"than api.qps {config.api.qps:g} can send within max_lead "
                f"{format_duration(config.max_lead)}",
                "warning",
            )
        )
    return out


def _plan(config: Config, result: LoadResult, start: datetime, end: datetime, fmt: str) -> int:
    timeline = Timeline(result.schedule)
    # One pass reaching max_lead past the range: starts due just after it can still pull
    # the ones inside it earlier.
    recs = timeline.touching(start, end + config.max_lead)
    actions = plan_actions(recs, start, end)
    after = [r for r in recs if end <= r.start < end + config.max_lead]
    early = {
        (p.action.window_id, p.action.time): p.send_at
        for p in plan_starts([*actions, *after], config.api.qps, config.max_lead)
        if p.early
    }
    if fmt == "json":
        print(_json(actions, early))
    else:
        print(_table(timeline, actions, start, end))
    return 0


def plan_actions(recs: list[Recording], start: datetime, end: datetime) -> list[Action]:
    """The actions of `recs` in [start, end), plus a `start` at `start` for every recording
    already open then (DESIGN.md §2)."""
    opened = [
        Action(start, Command.START, r.stream, r.window_id, r.source)
        for r in recs
        if r.start < start < r.end
    ]
    return sorted(opened + actions_in(recs, start, end), key=Action.sort_key)


def _json(actions: list[Action], early: dict[tuple[str, datetime], datetime]) -> str:
    rows = []
    for a in actions:
        row = {
            "time": iso_utc(a.time),
            "command": a.command.value,
            "domain": a.stream.domain,
            "app": a.stream.app,
            "stream": a.stream.stream,
            "window": a.window_id,
            "source": str(a.source),
        }
        send_at = early.get((a.window_id, a.time))
        if send_at is not None and a.command.rank == 0:
            row["send_at"] = iso_utc(send_at)
        rows.append(json.dumps(row))
    return "[\n" + ",\n".join(rows) + "\n]" if rows else "[]"


def _table(timeline: Timeline, actions: list[Action], start: datetime, end: datetime) -> str:
    if not actions:
        return f"no actions from {iso_utc(start)} to {iso_utc(end)}"
    rows = [_HEADER]
    # Many actions share an instant and a zone: format each pair once.
    shown: dict[tuple[datetime, ZoneInfo], tuple[str, str]] = {}
    for a in actions:
        zone = timeline.zone(a.stream)
        times = shown.get((a.time, zone))
        if times is None:
            local = a.time.astimezone(zone)
            times = shown[a.time, zone] = (
                f"{local:%Y-%m-%d %H:%M:%S} {local:%Z}",
                iso_utc(a.time),
            )
        rows.append((*times, a.command.value, str(a.stream), a.window_id, str(a.source)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _start(text: str | None) -> datetime:
    if text is None:
        return SystemClock().wall()
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--from {text!r} is not an ISO 8601 date and time such as 2027-03-14T06:00:00Z"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _hours(text: str | None, default: timedelta) -> timedelta:
    if text is None:
        return default
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not (math.isfinite(hours) and 0 < hours <= 24 * 366):
        raise UsageError(f"--hours {text!r} must be a number of hours above 0 (at most a year)")
    return timedelta(hours=hours)


def _print_problems(problems: Iterable[Problem]) -> None:
    for p in problems:
        print(p, file=sys.stderr)


def _count(problems: Iterable[Problem]) -> str:
    items = list(problems)
    errors = sum(1 for p in items if p.severity == "error")
    warnings = len(items) - errors
    parts = [_plural(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return ", ".join(parts) or "no problems"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
