"""`liverecd report -c CONFIG [--since 24h] [--until ISO8601] [--format text|json]` (DESIGN §8).

One row per window that ended in the range, read through the state-store interface: the
embedded store opened read-only (it runs while the daemon writes; no credentials needed), or
under `database:` the cluster's shared tables (libpq's own password means, as for the daemon;
no lease: reads are not fenced). JSON rows carry at least `window`, `domain`,
`app`, `stream`, `start`, `end`, `result`, `coverage` (null while pending), `gaps` and `files`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liverecd.config import CONFIG_HELP, DEFAULT_CONFIG, Config
from liverecd.durations import parse_duration
from liverecd.errors import LiverecdError
from liverecd.verify.rows import Verification, iso


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Arguments of `liverecd report`."""
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, type=Path, help=CONFIG_HELP)
    parser.add_argument("--since", default="24h", metavar="DURATION",
                        help="windows that ended this long ago (default: 24h)")  # fmt: skip
    parser.add_argument("--until", default=None, metavar="ISO8601",
                        help="end of the range (default: now; without an offset: UTC)")  # fmt: skip
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text: a table (default); json: one array of objects")  # fmt: skip


def row_json(v: Verification) -> dict[str, Any]:
    """One window as DESIGN §8's JSON object."""
    return {
        "window": v.window_id, "domain": v.stream.domain, "app": v.stream.app,
        "stream": v.stream.stream, "start": iso(v.start), "end": iso(v.end),
        "result": v.result.value, "coverage": v.coverage,
        "gaps": [{"from": iso(g.start), "to": iso(g.end), "cause": g.cause} for g in v.gaps],
        "files": [{"uri": f.uri, "start": iso(f.start), "end": iso(f.end)} for f in v.files],
    }  # fmt: skip


def text_table(rows: list[Verification]) -> str:
    """A fixed-width table, one line per window."""
    head = f"{'END (UTC)':20}  {'STREAM':40}  {'RESULT':10}  {'COVERAGE':>8}  GAPS"
    lines = [head]
    for v in rows:
        cov = "-" if v.coverage is None else f"{v.coverage:.1%}"
        gaps = ", ".join(
            f"{g.cause} {g.start:%H:%M:%S}-{g.end:%H:%M:%S}" for g in v.gaps
        )  # fmt: skip
        end = v.end.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{end:20}  {v.stream!s:40}  {v.result.value:10}  {cov:>8}  {gaps}")
    return "\n".join(lines)


def _until(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LiverecdError(f"--until {text!r}: expected an ISO 8601 instant") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    """Print the rows; 0 (an empty range is not an error)."""
    from liverecd.schedule.config import load_config

    config = load_config(args.config)
    until = _until(args.until)
    try:
        since = until - parse_duration(args.since)
    except ValueError as exc:
        raise LiverecdError(f"--since {args.since!r}: {exc}") from None
    rows = asyncio.run(read_rows(config, since, until))
    if args.format == "json":
        json.dump([row_json(v) for v in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text_table(rows))
    return 0


async def read_rows(config: Config, since: datetime, until: datetime) -> list[Verification]:
    """The verification rows of windows that ended in [since, until], from the store `config`
    names (none when the embedded store was never created)."""
    if config.database is not None:  # a cluster keeps its rows in the shared database
        from liverecd.ha.store import shared_rows

        return await shared_rows(config.database, since, until)
    from liverecd.engine.store.sqlite import DB_NAME, SqliteStateStore

    if not (Path(config.state_dir) / DB_NAME).exists():
        return []
    store = SqliteStateStore(config.state_dir, readonly=True)
    try:
        return await store.verifications(since, until)
    finally:
        await store.close()
