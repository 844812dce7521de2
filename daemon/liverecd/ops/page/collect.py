"""The one place the page reads the daemon: `collect(daemon, now, query, context)`.

It runs on the daemon's event loop (it reads live engine structures), so it must stay cheap:
nothing here looks at every window. The next windows come from the `WindowIndex` (built off the
loop, in the status thread), recordings from the state book (rows of windows being recorded,
not the timeline), errors and last commands from the `Ledger`. When the engine's typed status
replaces these reads, this function is what changes; the model, the template and the JSON stay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TypeVar

from liverecd.api.accounts import AccountPacers
from liverecd.api.ratelimit import RateLimiter
from liverecd.config import DEFAULT_ACCOUNT
from liverecd.engine.daemon import Daemon
from liverecd.engine.lifecycle import RecordingState
from liverecd.ops.page import model as m
from liverecd.ops.page.index import WindowIndex
from liverecd.ops.page.ledger import Ledger
from liverecd.schedule.actions import Recording
from liverecd.schedule.loader import LoadResult
from liverecd.verify.rows import Verification

PAGE_SIZE = 50
MAX_ERRORS_SHOWN = 20
MAX_RESULTS_SHOWN = 200
T = TypeVar("T")
UTC_NAME = "UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class Feeds:
    """Sections other features fill in (each `None` until its feature exists).

    `role()`: the HA role (§9). `results(needle, limit)`: recent verified windows, newest first,
    of streams containing `needle` (§8). `credentials()`: each account's credential source and
    when its credentials expire (§10), by account name.
    """

    role: Callable[[], m.Role | None] | None = None
    results: Callable[[str, int], Sequence[m.WindowResult]] | None = None
    credentials: Callable[[], Mapping[str, tuple[str, datetime | None]]] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What the page keeps between requests."""

    started_at: datetime
    ledger: Ledger
    feeds: Feeds = field(default_factory=Feeds)
    version: str = field(default_factory=lambda: _version())


def _version() -> str:
    try:
        return version("liverecd")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def collect(
    daemon: Daemon,
    now: datetime,
    query: m.Query,
    context: Context,
    ahead: Ahead,
    problems: Sequence[str] = (),
) -> m.PageModel:
    """The page's model at `now`. Call on the daemon's event loop; `ahead` comes from
    `upcoming`, computed off the loop."""
    loaded = daemon.timetable.loaded
    feeds, needle, offset = context.feeds, query.stream, query.page * PAGE_SIZE
    base = _base(daemon)
    rows = [r for r in daemon.engine.book.rows() if r.phase.running and needle in str(r.stream)]
    rows.sort(key=lambda r: (r.start, str(r.stream)))
    shown = [_recording(r, daemon, context.ledger, base) for r in rows[offset : offset + PAGE_SIZE]]
    return m.PageModel(
        time=now,
        version=context.version,
        started_at=context.started_at,
        healthy=not problems,
        problems=tuple(problems),
        query=query,
        windows_total=ahead.windows,
        files_loaded=len(loaded.files) if loaded else 0,
        file_problems=_file_problems(loaded),
        accounts=_accounts(daemon, feeds.credentials() if feeds.credentials else {}),
        recording=_listing(shown, len(rows), offset),
        upcoming=ahead.listing,
        errors=context.ledger.errors(needle)[:MAX_ERRORS_SHOWN],
        role=feeds.role() if feeds.role else None,
        results=tuple(feeds.results(needle, MAX_RESULTS_SHOWN)) if feeds.results else None,
    )


@dataclass(frozen=True, slots=True)
class Ahead:
    """The next windows (one page of them) and the size of the timeline they come from."""

    listing: m.Listing[m.Upcoming]
    windows: int


def upcoming(daemon: Daemon, index: WindowIndex, now: datetime, query: m.Query) -> Ahead:
    """The page of next windows `query` asks for. Safe off the daemon's loop: it reads the
    immutable index and load result only."""
    offset = query.page * PAGE_SIZE
    recs, total = index.upcoming(now, needle=query.stream, offset=offset, limit=PAGE_SIZE)
    zones, base = _zones(daemon.timetable.loaded), _base(daemon)
    return Ahead(_listing([_upcoming(r, zones, base) for r in recs], total, offset), index.size)


def _base(daemon: Daemon) -> str:
    """Sources are shown relative to the config's folder."""
    return f"{daemon.config.path.parent}{os.sep}"


def _listing(items: list[T], total: int, offset: int) -> m.Listing[T]:
    return m.Listing(items=tuple(items), total=total, offset=offset, page_size=PAGE_SIZE)


def _zones(loaded: LoadResult | None) -> dict[str, str]:
    if loaded is None:
        return {}
    return {f.path: f.timezone.key for f in loaded.schedule.files}


def _file_problems(loaded: LoadResult | None) -> tuple[m.FileProblem, ...]:
    if loaded is None:
        return ()
    out = []
    for p in loaded.problems:
        where = p.file if p.line is None else f"{p.file}:{p.line}"
        where += f":{p.col}" if p.line is not None and p.col is not None else ""
        out.append(m.FileProblem(location=where, severity=p.severity, message=p.message))
    return tuple(out)


def _accounts(
    daemon: Daemon, credentials: Mapping[str, tuple[str, datetime | None]]
) -> tuple[m.Account, ...]:
    """Each account's RealTimeRecordCommand quota in use, and its credentials' source."""
    pacer = daemon.pacer
    limiters: Mapping[str, object] = (
        pacer.limiters if isinstance(pacer, AccountPacers) else {DEFAULT_ACCOUNT: pacer}
    )
    out = []
    for name, limiter in limiters.items():
        quotas = []
        if isinstance(limiter, RateLimiter):
            quotas.append(
                m.Quota(api="RealTimeRecordCommand", limit=limiter.qps,
                        rate=round(limiter.rate, 2), used_last_second=limiter.sent_last_second())
            )  # fmt: skip
        region = daemon.config.account(name).api.region
        source, expires = credentials.get(name, (None, None))
        out.append(m.Account(name=name, region=region, quotas=tuple(quotas),
                             credential_source=source, credential_expires_at=expires))  # fmt: skip
    return tuple(out)


def window_result(row: Verification) -> m.WindowResult:
    """A verified (or still pending) window as the page shows it."""
    return m.WindowResult(
        stream=str(row.stream), window=row.window_id, start=row.start, end=row.end,
        result=row.result.value, coverage=row.coverage,
        gaps=tuple(m.Gap(start=g.start, end=g.end, cause=g.cause) for g in row.gaps),
    )  # fmt: skip


def _where(rec: Recording, base: str) -> str:
    where = str(rec.source)
    return where[len(base) :] if where.startswith(base) else where


def _recording(row: RecordingState, daemon: Daemon, ledger: Ledger, base: str) -> m.Recording:
    rec = daemon.engine.windows.get(row.window_id)
    last = ledger.last(row.window_id)
    return m.Recording(
        stream=str(row.stream), window=row.window_id, start=row.start, end=row.end,
        since=row.started_at, phase=str(row.phase),
        last_command=last.command if last else str(row.last_command),
        last_outcome=last.reason if last else None,
        source=_where(rec, base) if rec is not None else "",
    )  # fmt: skip


def _upcoming(rec: Recording, zones: dict[str, str], base: str) -> m.Upcoming:
    return m.Upcoming(
        stream=str(rec.stream), window=rec.window_id, start=rec.start, end=rec.end,
        command=str(rec.opens_with), zone=zones.get(rec.source.file, UTC_NAME),
        source=_where(rec, base),
    )  # fmt: skip
