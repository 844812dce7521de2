"""What `liverecd demo` prints around the daemon's log: the plan before, the summary after.

Pure functions over the timeline's recordings and the emulator's records, so the judgement
"was every window recorded as expected" is the same in the demo and in its tests; and, after
the run, the daemon's own verification rows, read from its state store as `report` reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from liverecd.config import Config
from liverecd.emulator import RecordingInterval, RequestRecord
from liverecd.ops.demo_files import CONFIG_FILE, SCHEDULE_FILE
from liverecd.schedule.actions import Action, Recording
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.report import read_rows, text_table
from liverecd.verify.rows import Verification

TIMES = "\u00d7"  # the multiplication sign, as in "start, 4 times"
MIN_TOLERANCE = 1.0  # seconds of a window that may go unrecorded (start-up, latency, jitter)
TOLERANCE_SHARE = 0.1  # ... or this share of it, whichever is larger


@dataclass(frozen=True, slots=True)
class Happening:
    """Something the demo does to the world outside the daemon, shown in the plan."""

    time: datetime
    what: str
    stream: StreamKey


@dataclass(frozen=True, slots=True)
class StreamReport:
    """One stream's row group of the summary: what was planned, recorded and sent."""

    key: StreamKey
    windows: tuple[tuple[datetime, datetime], ...]
    intervals: tuple[RecordingInterval, ...]
    commands: str
    coverage: float  # share of the recordable time that was recorded
    ok: bool
    result: str


def plan_lines(
    actions: Sequence[Action], happenings: Sequence[Happening], t0: datetime, zone: ZoneInfo
) -> list[str]:
    """The plan, in time order: the daemon's actions and the demo's doings, with offsets."""
    rows = [(h.time, 0, h.what, h.stream) for h in happenings]
    rows += [(a.time, 1, a.command.value, a.stream) for a in actions]
    rows.sort(key=lambda row: (row[0], row[1]))  # stable: actions keep their own order
    width = max((len(r[2]) for r in rows), default=0)
    return [
        f"  {_clock(t, zone)}  {f'+{(t - t0).total_seconds():.1f}s':>6}  {what:<{width}}  "
        f"{stream.stream}"
        for t, _, what, stream in rows
    ]


def header(
    url: str, key_id: str, folder: Path, zone: ZoneInfo, plan: list[str], duration: float,
    keep: bool,
) -> str:  # fmt: skip
    """What the demo prints first: where things are, and the plan."""
    kept = "" if keep else "   (removed at the end; --keep keeps it)"
    return "\n".join([
        f"liverecd demo: the daemon and a Live API emulator, in this process, "
        f"for about {duration:g} s.",
        "",
        f"  emulator  {url}   (AccessKey {key_id}, made up)",
        f"  config    {folder / CONFIG_FILE}",
        f"  schedule  {folder / SCHEDULE_FILE}{kept}",
        "",
        f"The plan (times in {zone.key}):",
        *plan,
        "",
        "The daemon's log follows, as `liverecd run` writes it (JSON under systemd; request and",
        "window ids left out here). Ctrl-C ends the demo early.",
        "",
    ])  # fmt: skip


def judge(
    recs: Sequence[Recording], recorded: Callable[[StreamKey], Sequence[RecordingInterval]],
    requests: Sequence[RequestRecord], live_at: Mapping[StreamKey, datetime], *,
    late_allowance: float, now: datetime,
) -> tuple[StreamReport, ...]:  # fmt: skip
    """One `stream_report` per stream of `recs`, in their order; `live_at` for the streams
    judged from a later instant (see `stream_report`)."""
    return tuple(
        stream_report([r for r in recs if r.stream == key], recorded(key), requests,
                      live_at=live_at.get(key), late_allowance=late_allowance, now=now)
        for key in dict.fromkeys(r.stream for r in recs)
    )  # fmt: skip


def summary(reports: Sequence[StreamReport], rows: list[Verification], zone: ZoneInfo) -> str:
    """What the demo prints last: the table, the verdict, and the daemon's own verification
    rows (as `liverecd report` prints them)."""
    failed = [r.key.stream for r in reports if not r.ok]
    verdict = (
        f"Every window was recorded as scheduled, from when its stream was live ({len(reports)} "
        "streams). The daemon's own verification below also counts what the streams cost: the "
        "seconds before a late encoder came (absent), a start that recorded nothing (gap)."
        if not failed
        else f"Not recorded as scheduled: {', '.join(failed)}."
    )
    return (
        f"\nSummary (times in {zone.key}):\n{summary_table(reports, zone)}\n\n{verdict}\n"
        "\nVerified by the daemon (DescribeLiveStreamRecordIndexFiles + recording callbacks,"
        f" times in UTC; `liverecd report` prints the same):\n{text_table(rows)}"
    )


def stream_report(
    recordings: Sequence[Recording],
    intervals: Sequence[RecordingInterval],
    requests: Iterable[RequestRecord],
    *,
    live_at: datetime | None = None,
    late_allowance: float = 0.0,
    now: datetime,
) -> StreamReport:
    """Judge one stream: its windows (from `live_at` on, for a stream that went live late, with
    `late_allowance` seconds more tolerance) should be recorded, in one file per recording,
    and the recording should be over by the end of its last window."""
    key = recordings[0].stream
    windows = tuple((r.start, r.end) for r in recordings)
    spans = [(max(a, live_at) if live_at else a, b) for a, b in windows]
    expected = sum(max(0.0, (b - a).total_seconds()) for a, b in spans)
    covered = sum(_overlap(iv, a, b, now) for iv in intervals for a, b in spans)
    tolerance = max(MIN_TOLERANCE, TOLERANCE_SHARE * expected) + (late_allowance if live_at else 0)
    mine = [r for r in requests if r.stream == key and r.command]
    files = {iv.file for iv in intervals if any(_overlap(iv, a, b, now) for a, b in windows)}
    last_end = windows[-1][1]
    problems = []
    if covered < expected - tolerance:
        problems.append(f"only {covered:.1f}s of {expected:.1f}s recorded")
    if any(iv.end is None for iv in intervals):
        problems.append("still recording")
    elif any(iv.end is not None and (iv.end - last_end).total_seconds() > tolerance
             for iv in intervals):  # fmt: skip
        problems.append("recorded past the window's end")
    if len(files) != len(recordings):
        problems.append(f"{_plural(len(files), 'file')}, expected {len(recordings)}")
    return StreamReport(
        key=key, windows=windows, intervals=tuple(intervals), commands=command_summary(mine),
        coverage=covered / expected if expected > 0 else 1.0, ok=not problems,
        result="FAILED: " + "; ".join(problems) if problems else _success(mine, files, live_at),
    )  # fmt: skip


def command_summary(requests: Sequence[RequestRecord]) -> str:
    """Each command sent, in order of first sending, with how often (TIMES) and the error
    codes it was answered, e.g. `start{TIMES}4 [StreamNotFound{TIMES}3] stop cancel_delay`."""
    counts: dict[str, int] = {}
    codes: dict[str, dict[str, int]] = {}
    for r in requests:
        assert r.command is not None
        counts[r.command] = counts.get(r.command, 0) + 1
        code = r.code or ("no answer" if r.http_status is None else None)
        if code is not None:
            per = codes.setdefault(r.command, {})
            per[code] = per.get(code, 0) + 1
    parts = []
    for command, n in counts.items():
        text = command + _times(n)
        if command in codes:
            text += " [" + ", ".join(c + _times(k) for c, k in codes[command].items()) + "]"
        parts.append(text)
    return " ".join(parts) or "none"


def summary_table(reports: Sequence[StreamReport], zone: ZoneInfo) -> str:
    """The table: one row per window or recorded stretch, grouped by stream."""
    header = ("STREAM", "WINDOW", "RECORDED", "COVERAGE", "COMMANDS SENT", "RESULT")
    rows = [header]
    for rep in reports:
        windows = [_span(a, b, zone) for a, b in rep.windows]
        recorded = [_interval(iv, zone) for iv in rep.intervals] or ["nothing"]
        first = (rep.key.stream, f"{rep.coverage:.0%}", rep.commands, rep.result)
        for i in range(max(len(windows), len(recorded))):
            cells = first if i == 0 else ("", "", "", "")
            window = windows[i] if i < len(windows) else ""
            stretch = recorded[i] if i < len(recorded) else ""
            rows.append((cells[0], window, stretch, cells[1], cells[2], cells[3]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _success(requests: Sequence[RequestRecord], files: set[int], live_at: datetime | None) -> str:
    if live_at is not None:
        started = [r for r in requests if r.command == "start" and r.code is None]
        if len(started) > 1:  # two starts answered OK: the first recorded nothing
            return "ok: the silent start was noticed and sent again"
        return "ok: recorded once it went live"
    if any(r.code == "TaskAlreadyStarted" for r in requests):
        return "ok: was already recording"
    return f"ok: {_plural(len(files), 'file')}"


def _overlap(iv: RecordingInterval, a: datetime, b: datetime, now: datetime) -> float:
    end = iv.end or now
    return max(0.0, (min(end, b) - max(iv.start, a)).total_seconds())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _times(n: int) -> str:
    return "" if n == 1 else f"{TIMES}{n}"


def _clock(t: datetime, zone: ZoneInfo) -> str:
    """Time of day; tenths only for an instant not on a whole second (a scaled demo's)."""
    local = t.astimezone(zone)
    return _tenths(local) if local.microsecond else f"{local:%H:%M:%S}"


def _span(a: datetime, b: datetime, zone: ZoneInfo) -> str:
    return f"{_clock(a, zone)}-{_clock(b, zone)}"


def _interval(iv: RecordingInterval, zone: ZoneInfo) -> str:
    start = iv.start.astimezone(zone)
    end = "(still recording)" if iv.end is None else _tenths(iv.end.astimezone(zone))
    return f"{_tenths(start)}-{end}"


def _tenths(t: datetime) -> str:
    t = t + timedelta(microseconds=50_000)  # round, not truncate, to a tenth
    return f"{t:%H:%M:%S}.{t.microsecond // 100_000}"


async def verified_after(
    settling: asyncio.Task[None], config: Config, recs: Sequence[Recording], end: datetime
) -> None:
    """After `settling`, wait (10 s past `end` at most) until the daemon's verifier has judged
    every window of `recs`."""
    await settling
    first, last = min(r.end for r in recs), max(r.end for r in recs)
    wait = max(10.0, (end - datetime.now(UTC)).total_seconds() + 10.0)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            while True:
                rows = await read_rows(config, first, last)
                if sum(1 for r in rows if r.result is not Result.PENDING) >= len(recs):
                    return
                await asyncio.sleep(0.2)
