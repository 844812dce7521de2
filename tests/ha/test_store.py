"""The PostgreSQL store and lease against a real server: schema and migrations, rows that round
trip, writes fenced by the epoch, the lease's takeover rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from liverecd.clock import SystemClock
from liverecd.engine.lifecycle import Phase, RecordingState
from liverecd.errors import FencedError
from liverecd.ha import sql
from liverecd.ha.gate import SenderGate
from liverecd.ha.lease import Leadership
from liverecd.ha.store import Database, DatabaseError, SchemaTooNewError, TermStore
from liverecd.schedule.model import Finalize
from liverecd.streams import Command, StreamKey

from .conftest import db_config
from .pg import PgServer


def row(wid: str, phase: Phase = Phase.RECORDING) -> RecordingState:
    t = datetime(2026, 12, 18, 12, 0, tzinfo=UTC)
    return RecordingState(
        window_id=wid, stream=StreamKey("play.example.com", "live", "news"), start=t,
        end=t + timedelta(hours=1), finalize=Finalize.DELAYED, delay=timedelta(seconds=180),
        phase=phase, last_command=Command.START, updated_at=t, started_at=t + timedelta(seconds=1),
    )  # fmt: skip


async def opened(url: str, lease: float = 3.0) -> Database:
    db = Database(db_config(url, lease=lease))
    await db.open()
    return db


def leader(db: Database, name: str) -> Leadership:
    return Leadership(db, holder=name, clock=SystemClock(), on_change=lambda: None)


async def test_schema_is_created_once_and_versioned(pg_url: str) -> None:
    first, second = await opened(pg_url), await opened(pg_url)
    try:
        assert await second.migrate() == sql.SCHEMA_VERSION
        rows = await first.fetch("SELECT version FROM liverecd_schema")
        # each migration once, the second start migrated nothing
        assert rows == [(v,) for v in range(1, sql.SCHEMA_VERSION + 1)]
    finally:
        await first.close()
        await second.close()


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    db = await opened(pg_url)
    await db.fetch(sql.WRITE_VERSION, (sql.SCHEMA_VERSION + 1,))
    await db.close()
    with pytest.raises(SchemaTooNewError, match="newer liverecd"):
        await opened(pg_url)


async def test_an_unreachable_database_names_host_and_port(pg_server: PgServer) -> None:
    from liverecd.net import free_port

    port = free_port()
    db = Database(db_config(pg_server.url("postgres", port=port)))
    with pytest.raises(DatabaseError, match=f"127.0.0.1:{port}"):
        await db.open()
    await db.close()


async def test_rows_round_trip_under_the_lease(pg_url: str) -> None:
    db = await opened(pg_url)
    try:
        lead = leader(db, "a")
        lead.campaigning = True
        await lead.step()
        assert lead.epoch == 1
        store = TermStore(db, "a", lead.epoch)
        rows = [row("w1"), row("w2", Phase.OPENING)]
        await store.apply(rows, [])
        await store.apply([], ["w2"])
        assert await store.load() == rows[:1]
    finally:
        await db.close()


async def test_a_superseded_epoch_cannot_write(pg_url: str) -> None:
    db = await opened(pg_url, lease=3.0)
    try:
        a, b = leader(db, "a"), leader(db, "b")
        a.campaigning = b.campaigning = True
        await a.step()
        await b.step()
        assert (a.epoch, b.epoch) == (1, None)  # a holds it: b must wait for its expiry
        await db.fetch("UPDATE liverecd_lease SET expires_at = clock_timestamp()")
        await b.step()
        assert b.epoch == 2
        old = TermStore(db, "a", 1)
        with pytest.raises(FencedError, match="epoch 1"):
            await old.apply([row("w1")], [])
        await a.step()  # a hears of it at its next renewal
        assert (a.epoch, a.role) == (None, "standby")
        assert await TermStore(db, "b", 2).load() == []
    finally:
        await db.close()


async def test_the_gate_closes_before_the_lease_can_be_taken(pg_url: str) -> None:
    db = await opened(pg_url, lease=3.0)
    try:
        a = leader(db, "a")
        a.campaigning = True
        gate = SenderGate(SystemClock())
        await a.step()
        a.gate = gate
        gate.confirm(a.confirmed_until)
        assert gate.is_open and a.role == "active"
        (expires,) = (await db.fetch("SELECT expires_at FROM liverecd_lease"))[0]
        await asyncio.sleep(3.0 - a.margin + 0.05)  # a stops renewing: a stall
        assert not gate.is_open
        (now,) = (await db.fetch("SELECT clock_timestamp()"))[0]
        assert now < expires  # closed while nobody else could have taken over yet
        await a.step()  # the renewal goes through: same epoch, nobody took over
        assert gate.is_open and a.epoch == 1
    finally:
        await db.close()
