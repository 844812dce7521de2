"""`liverecd check` with a `database` block: compare this timetable with the cluster's members.

Read-only (it never creates the schema) and best effort: an unreachable database is a warning,
not an invalid config, since `check` must work on a machine that cannot reach it.
"""

from __future__ import annotations

import asyncio

import psycopg

from liverecd.config import Config
from liverecd.errors import Problem
from liverecd.ha import sql
from liverecd.ha.digest import timetable_digest
from liverecd.ha.store import connect_kwargs, where
from liverecd.schedule.model import Schedule


def cluster_findings(config: Config, schedule: Schedule) -> list[Problem]:
    """One warning per live member whose timetable differs from `schedule` (none without
    `database`), or one saying the database could not be asked."""
    db = config.database
    if db is None:
        return []
    src = db.source

    def warn(message: str) -> Problem:
        if src is None:
            return Problem(str(config.path), None, None, message, "warning")
        return Problem(src.file, src.line, src.col, message, "warning")

    ours = timetable_digest(schedule)
    try:
        rows = asyncio.run(_members(config))
    except (psycopg.Error, OSError, TimeoutError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [warn(f"database {where(db)}: cannot compare timetables with the cluster ({why})")]
    return [
        warn(f"member {m} ({role}) runs a different timetable ({d}; this one: {ours})")
        for m, d, role in rows
        if d != ours
    ]


async def _members(config: Config) -> list[tuple[str, str, str]]:
    db = config.database
    assert db is not None
    async with asyncio.timeout(5):
        conn = await psycopg.AsyncConnection.connect(db.url, **connect_kwargs(db))
        async with conn:
            exists = await conn.execute("SELECT to_regclass('liverecd_members')")
            if (await exists.fetchone()) in (None, (None,)):
                return []
            keys = {"cluster": db.cluster, "fresh": db.lease.total_seconds() * 3}
            cur = await conn.execute(sql.MEMBERS.encode(), keys)
            return [(str(m), str(d), str(r)) for m, d, r in await cur.fetchall()]
