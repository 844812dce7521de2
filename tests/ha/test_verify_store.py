"""Verification rows in the shared database: they round trip like the SQLite store's, a
superseded epoch cannot write them, and `liverecd report` reads them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from liverecd.api.record_index import IndexFile
from liverecd.errors import StateError
from liverecd.ha.store import Database
from liverecd.ha.verify_store import SharedVerificationStore, report_rows
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Gap, Result
from liverecd.verify.store import Verification

from .conftest import db_config

T = datetime(2026, 12, 18, 12, 0, tzinfo=UTC)
NEWS = StreamKey("play.example.com", "live", "news")


def pending(wid: str, end_min: int) -> Verification:
    due = T + timedelta(minutes=end_min + 1)
    return Verification(window_id=wid, stream=NEWS, start=T, end=T + timedelta(minutes=end_min),
                        due=due, first_due=due)  # fmt: skip


def file(uri: str, a: int, b: int) -> IndexFile:
    return IndexFile(uri=uri, start=T + timedelta(minutes=a), end=T + timedelta(minutes=b),
                     duration=(b - a) * 60.0)  # fmt: skip


async def holder(url: str, name: str) -> tuple[Database, int]:
    """An open database whose lease `name` holds; its epoch."""
    db = Database(db_config(url))
    await db.open()
    (epoch,) = (await db.fetch(
        "INSERT INTO liverecd_lease VALUES (%s, %s, 1, clock_timestamp() + interval '1 hour')"
        " ON CONFLICT (cluster) DO UPDATE SET holder = EXCLUDED.holder,"
        " epoch = liverecd_lease.epoch + 1 RETURNING epoch", (db.cluster, name),
    ))[0]  # fmt: skip
    return db, int(epoch)


async def test_rows_and_files_round_trip_and_pending_rows_are_read_by_the_next_term(
    pg_url: str,
) -> None:
    db, epoch = await holder(pg_url, "a")
    try:
        store = SharedVerificationStore(db, "a", epoch)
        done = pending("w2", 30)
        done = Verification(
            window_id="w2", stream=NEWS, start=T, end=done.end, result=Result.GAP, coverage=0.5,
            gaps=(Gap(T, T + timedelta(minutes=15), "missed"),), files=(file("f2", 15, 30),),
            due=done.due, first_due=done.first_due, attempts=2, error=None,
        )  # fmt: skip
        await asyncio.to_thread(store.put_verification, pending("w1", 60), done)
        assert await asyncio.to_thread(store.put_file, NEWS, file("f1", 0, 20))
        assert not await asyncio.to_thread(store.put_file, NEWS, file("f1", 0, 20))  # once
        assert await asyncio.to_thread(store.verification, "w2") == done
        assert await asyncio.to_thread(store.files, NEWS, T, T + timedelta(minutes=10)) == [
            file("f1", 0, 20)
        ]
        assert await asyncio.to_thread(store.files, NEWS, T + timedelta(minutes=20), T) == []
        ended = await asyncio.to_thread(store.verifications, T, T + timedelta(minutes=45))
        assert [v.window_id for v in ended] == ["w2"]
        db2, epoch2 = await holder(pg_url, "b")  # a takeover
        try:
            assert await SharedVerificationStore(db2, "b", epoch2).refresh() == [pending("w1", 60)]
        finally:
            await db2.close()
    finally:
        await db.close()


async def test_a_superseded_epoch_cannot_write_verifications(pg_url: str) -> None:
    db, epoch = await holder(pg_url, "a")
    try:
        old = SharedVerificationStore(db, "a", epoch)
        await holder(pg_url, "b")
        with pytest.raises(StateError, match=f"epoch {epoch}"):
            await asyncio.to_thread(old.put_verification, pending("w1", 60))
        with pytest.raises(StateError, match=f"epoch {epoch}"):
            await asyncio.to_thread(old.put_file, NEWS, file("f1", 0, 20))
        assert await SharedVerificationStore(db, "b", epoch + 1).refresh() == []
    finally:
        await db.close()


async def test_the_store_refuses_a_blocking_call_on_the_event_loop(pg_url: str) -> None:
    db, epoch = await holder(pg_url, "a")
    try:
        with pytest.raises(StateError, match="event loop"):
            SharedVerificationStore(db, "a", epoch).verification("w1")
    finally:
        await db.close()


async def test_report_reads_the_shared_rows(pg_url: str) -> None:
    db, epoch = await holder(pg_url, "a")
    try:
        store = SharedVerificationStore(db, "a", epoch)
        await asyncio.to_thread(store.put_verification, pending("w1", 60), pending("w2", 30))
    finally:
        await db.close()
    rows = await report_rows(db_config(pg_url), T, T + timedelta(minutes=40))
    assert [v.window_id for v in rows] == ["w2"]
