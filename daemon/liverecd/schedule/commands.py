"""`liverecd check` and `liverecd plan` (DESIGN.md §2): validate, and show what would be sent.

Neither needs credentials (`check` lists those the daemon will need) nor sends anything.
Problems go to stderr as `FILE:LINE:COL: message` (warnings say so); the credentials and the
one-line summary of `check`, and the table or JSON of `plan`, go to stdout.
Exit 0 when the config and every schedule are valid (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liverecd.clock import SystemClock
from liverecd.config import CONFIG_HELP, DEFAULT_ACCOUNT, DEFAULT_CONFIG, Config
from liverecd.durations import format_duration
from liverecd.errors import ConfigError, LiverecdError, Problem
from liverecd.schedule.actions import Action, Recording, unsorted_actions
from liverecd.schedule.checks import (
    config_warnings,
    credentials_needed,
    describe_credential,
    endless_rules,
    past_windows,
    quota_warnings,
)
from liverecd.schedule.config import load_config
from liverecd.schedule.findings import dst_findings, short_windows
from liverecd.schedule.loader import LoadResult, load_schedules
from liverecd.schedule.quota import late_starts, plan_starts
from liverecd.schedule.timeline import Timeline, iso_utc
from liverecd.schedule.yamlload import gc_paused
from liverecd.streams import Command, StreamKey

_Span = tuple[datetime, datetime]
_Early = dict[tuple[str, datetime], datetime]  # (window, time) of a start sent early: when
_HEADER = ("LOCAL", "UTC", "COMMAND", "STREAM", "ACCOUNT", "WINDOW", "SOURCE")


class UsageError(LiverecdError):
    """A command-line value that cannot be used (exit 1, like an invalid config)."""


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Options of `check` (name "check") or `plan` (name "plan")."""
    arg = parser.add_argument
    arg("-c", "--config", default=DEFAULT_CONFIG, metavar="CONFIG", help=CONFIG_HELP)
    offset = "in --tz, else UTC" if name == "plan" else "UTC"  # check has no --tz
    arg("--from", dest="start", metavar="ISO8601",
        help=f"start of the range (default: now; without an offset: {offset})")  # fmt: skip
    hours = "48" if name == "check" else "24"
    arg("--hours", metavar="N", help=f"length of the range in hours (default: {hours})")
    if name == "plan":
        arg("--tz", metavar="ZONE",
            help="show every local time in this IANA zone, e.g. Asia/Shanghai (default: each "
            "schedule file's own zone); a --from without an offset is read in it too")  # fmt: skip
        arg("--format", choices=("text", "json"), default="text", help="text: a table for people "
            "(default); json: one array of objects for scripts")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run `check` or `plan`; return the exit code."""
    # A one-shot command that builds a million long-lived objects and no cyclic garbage: the
    # cyclic collector would only rescan them, again and again (a quarter of the run time
    # with 100,000 windows). Reference counting still frees everything.
    with gc_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        loaded = _load(args.config)
        if loaded is None:
            return 1
        config, result = loaded
        tz = _zone(getattr(args, "tz", None))
        start = _start(args.start, tz)
        default = timedelta(hours=48 if args.command == "check" else 24)
        end = start + _hours(args.hours, default)
        if args.command == "check":
            return _check(config, result, start, end)
        return _plan(config, result, (start, end), args.format, tz)
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
    warnings += past_windows(schedule, start) + endless_rules(schedule, start, end)
    account = _accounts(result)
    opening = [r for r in recs if r.start >= start]
    for name in config.account_names:  # each account has its own quota
        mine = [r for r in opening if account.get(r.stream, DEFAULT_ACCOUNT) == name]
        qps = config.account(name).api.qps
        warnings += quota_warnings(late_starts(mine, qps, config.max_lead), qps, config.max_lead)
    if config.database is not None:  # HA: do the cluster's members run this timetable?
        from liverecd.ha.check import cluster_findings

        warnings += cluster_findings(config, schedule)
    warnings = config_warnings(config) + sorted(
        warnings, key=lambda p: (p.file, p.line or 0, p.col or 0)
    )
    _print_problems(warnings)
    for need in credentials_needed(config):
        print(describe_credential(need))
    if config.accounts:
        for name in config.account_names:
            count = sum(1 for r in recs if account.get(r.stream, DEFAULT_ACCOUNT) == name)
            print(f"account {name}: {_plural(count, 'window')}")
    hours = format_duration(end - start)
    summary = (
        f"ok: {_plural(len(result.files), 'file')}, {_plural(timeline.stream_count, 'stream')}, "
        f"{_plural(len(recs), 'window')} in the next {hours}"
    )
    if warnings or result.problems:
        summary += f" ({_count(list(result.problems) + warnings)})"
    print(summary)
    return 0


def _accounts(result: LoadResult) -> dict[StreamKey, str]:
    """Each stream's account in the loaded schedule."""
    return {s.key: s.account for s in result.schedule.streams()}


def _plan(config: Config, result: LoadResult, span: _Span, fmt: str, tz: ZoneInfo | None) -> int:
    start, end = span
    timeline = Timeline(result.schedule)
    # A rule whose windows overlap shows one start and no stop: say why beside the plan.
    _print_problems(endless_rules(result.schedule, start, end))
    # One pass reaching max_lead past the range: starts due just after it can still pull
    # the ones inside it earlier.
    recs = timeline.touching(start, end + config.max_lead)
    actions = plan_actions(recs, start, end)
    after = [r for r in recs if end <= r.start < end + config.max_lead]
    account = _accounts(result)
    early: _Early = {}
    items: list[Action | Recording] = [*actions, *after]
    for name in config.account_names:  # each account sends at its own qps
        mine = [x for x in items if account.get(x.stream, DEFAULT_ACCOUNT) == name]
        qps = config.account(name).api.qps
        early.update({(p.action.window_id, p.action.time): p.send_at
                      for p in plan_starts(mine, qps, config.max_lead) if p.early})  # fmt: skip
    if fmt == "json":
        print(_json(actions, early, account))
    else:
        # Line by line: the table of a busy day is tens of MB as one string.
        sys.stdout.writelines(line + "\n" for line in _table(timeline, actions, span, tz, account))
    return 0


def plan_actions(recs: list[Recording], start: datetime, end: datetime) -> list[Action]:
    """The actions of `recs` in [start, end), plus a `start` at `start` for every recording
    already open then (DESIGN.md §2)."""
    opened = [
        Action(start, Command.START, r.stream, r.window_id, r.source)
        for r in recs
        if r.start < start < r.end
    ]
    opened += unsorted_actions(recs, start, end)
    opened.sort(key=Action.sort_key)
    return opened


def _json(actions: list[Action], early: _Early, account: dict[StreamKey, str]) -> str:
    rows = []
    for a in actions:
        row = {
            "time": iso_utc(a.time),
            "command": a.command.value,
            "domain": a.stream.domain,
            "app": a.stream.app,
            "stream": a.stream.stream,
            "account": account.get(a.stream, DEFAULT_ACCOUNT),
            "window": a.window_id,
            "source": str(a.source),
        }
        if (send_at := early.get((a.window_id, a.time))) and a.command.rank == 0:
            row["send_at"] = iso_utc(send_at)
        rows.append(json.dumps(row))
    return "[\n" + ",\n".join(rows) + "\n]" if rows else "[]"


def _table(
    timeline: Timeline,
    actions: list[Action],
    span: _Span,
    tz: ZoneInfo | None,
    account: dict[StreamKey, str],
) -> Iterator[str]:
    if not actions:
        yield f"no actions from {iso_utc(span[0])} to {iso_utc(span[1])}"
        return
    rows = [_HEADER if tz is None else (f"LOCAL ({tz.key})", *_HEADER[1:])]
    # Many actions share an instant, a zone, a stream and a source: each is formatted once,
    # keyed by identity (an action holds its recording's StreamKey and Source objects, and
    # hashing a dataclass runs in Python).
    streams: dict[int, tuple[ZoneInfo, str, str]] = {}
    times: dict[tuple[datetime, ZoneInfo], tuple[str, str]] = {}
    places: dict[int, str] = {}
    for a in actions:
        if (named := streams.get(id(a.stream))) is None:
            who = account.get(a.stream, DEFAULT_ACCOUNT)
            named = streams[id(a.stream)] = (tz or timeline.zone(a.stream), str(a.stream), who)
        zone, name, who = named
        if (shown := times.get((a.time, zone))) is None:
            local = a.time.astimezone(zone)
            shown = times[a.time, zone] = (
                f"{local:%Y-%m-%d %H:%M:%S} {_offset(local)}", iso_utc(a.time))  # fmt: skip
        if (place := places.get(id(a.source))) is None:
            place = places[id(a.source)] = str(a.source)
        rows.append((*shown, a.command.value, name, who, a.window_id, place))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)  # each cell left-aligned in its column
    for row in rows:
        yield line.format(*row).rstrip()


def _offset(local: datetime) -> str:
    """`+08:00`: unlike an abbreviation ("CST" is China, Cuba and US Central), unambiguous."""
    return local.isoformat()[-6:] if local.utcoffset() else "+00:00"


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz {name!r} is not an IANA time zone such as Asia/Shanghai") from None


def _start(text: str | None, tz: ZoneInfo | None) -> datetime:
    if text is None:
        return SystemClock().wall()
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--from {text!r} is not an ISO 8601 date and time such as 2027-03-14T06:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz or UTC)  # `fold` 0: an ambiguous hour's first
    return parsed.astimezone(UTC)


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
