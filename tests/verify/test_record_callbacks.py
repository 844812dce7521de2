"""Recording callbacks: the receiver refuses forged, stale, non-JSON and oversized posts (and
stores nothing); with callbacks on, the daemon sends a start that Alibaba did not confirm again
within `verify.confirm`, and stores the file events it hears."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from conftest import EmulatorFactory
from engine.conftest import APP, DOMAIN, Workspace, now, running_daemon, schedule_text, seconds
from liverecd.clock import SystemClock
from liverecd.config import ListenAddress
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Result
from liverecd.verify.receiver import RecordReceiver

KEY = "recordKey0123456789"
STREAM = StreamKey(DOMAIN, APP, "cam")


def signed(stamp: int, host: str = "127.0.0.1", key: str = KEY) -> dict[str, str]:
    sig = hashlib.md5(f"{host}|{stamp}|{key}".encode(), usedforsecurity=False).hexdigest()
    return {"ALI-LIVE-TIMESTAMP": str(stamp), "ALI-LIVE-SIGNATURE": sig}


FILE_EVENT = {
    "domain": DOMAIN, "app": APP, "stream": "cam", "uri": "live/cam/0_a_b.m3u8",
    "duration": 60, "start_time": 1_700_000_000, "stop_time": 1_700_000_060, "push_args": {},
}  # fmt: skip


async def test_forged_stale_non_json_and_huge_callbacks_are_refused_and_nothing_stored(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    store = SqliteStateStore(tmp_path)
    heard: list[str] = []
    writes: list[asyncio.Task[bool]] = []
    receiver = RecordReceiver(
        ListenAddress("127.0.0.1", unused_tcp_port), KEY, host=None, clock=SystemClock(),
        on_file=lambda s, f: writes.append(asyncio.create_task(store.put_file(s, f))),
        on_status=lambda s, e: heard.append(e),
    )  # fmt: skip
    url = await receiver.start()
    t = int(time.time())
    body = json.dumps(FILE_EVENT).encode()
    cases = [
        ({}, body),  # unsigned
        (signed(t, key="someoneElseKey00000"), body),  # forged
        (signed(t, host="evil.example.com"), body),  # signed for another host
        (signed(t - 301), body),  # stale
        (signed(t), b"not json"),
        (signed(t), b"[1, 2]"),
        (signed(t), io.BytesIO(b'{"x": "' + b"a" * (1024 * 1024) + b'"}')),
    ]
    try:
        with capture_logs() as logs:
            async with aiohttp.ClientSession() as session:
                statuses = []
                for headers, data in cases:
                    async with session.post(url, data=data, headers=headers) as resp:
                        statuses.append(resp.status)
                status_event = {"domain": DOMAIN, "app": APP, "stream": "cam",
                                "event": "record_started"}  # fmt: skip
                async with session.post(url, json=status_event, headers=signed(t)) as resp:
                    ok = resp.status
                other = {**FILE_EVENT, "stream": "not-scheduled"}
                async with session.post(url, json=other, headers=signed(t)) as resp:
                    assert resp.status == 200
    finally:
        await receiver.close()
    assert all(await asyncio.gather(*writes))
    assert statuses == [403, 403, 403, 403, 400, 400, 400]
    assert ok == 200 and heard == ["record_started"]
    start = datetime.fromtimestamp(1_700_000_000, UTC)
    around = (start - timedelta(hours=1), start + timedelta(hours=1))
    assert await store.files(STREAM, *around) == []  # nothing refused was stored
    # a file of a stream we do not schedule is kept, and never counted for another stream
    assert [f.uri for f in await store.files(StreamKey(DOMAIN, APP, "not-scheduled"), *around)] == [
        FILE_EVENT["uri"]
    ]
    reasons = {e["reason"] for e in logs if e["event"] == "record_callback_refused"}
    assert reasons == {"unsigned", "bad_signature", "stale_timestamp", "not_json", "too_large"}
    assert all(e["log_level"] == "warning" for e in logs if e["event"] == "record_callback_refused")
    assert KEY not in repr(receiver) and KEY not in json.dumps(logs, default=str)
    await store.close()


@pytest.fixture
async def callback_workspace(
    tmp_path: Path, emulator_factory: EmulatorFactory, unused_tcp_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> Workspace:  # fmt: skip
    monkeypatch.setenv("LIVERECD_RECORD_AUTH_KEY", KEY)
    emu = await emulator_factory(
        index_millis=True, record_notify_url=f"http://127.0.0.1:{unused_tcp_port}/notify/record",
        record_notify_key=KEY,
    )  # fmt: skip
    ws = Workspace(tmp_path, emu)
    extra = (f"verify:\n  grace: 300ms\n  confirm: 1s\n"
             f"  callback_listen: 127.0.0.1:{unused_tcp_port}\n")  # fmt: skip
    ws.write_config(extra=extra)
    return ws


@pytest.mark.slow
async def test_a_silent_start_is_sent_again_within_confirm_and_the_window_is_saved(
    callback_workspace: Workspace,
) -> None:
    ws, emu = callback_workspace, callback_workspace.emulator
    t = now()
    t = t.replace(microsecond=t.microsecond // 1000 * 1000)
    a, b = t + seconds(1.5), t + seconds(8.5)
    ws.write_schedule("main.yaml", schedule_text({"cam": [(a, b)]}))
    emu.silent_starts(STREAM)
    with capture_logs() as logs:
        async with running_daemon(ws):
            await asyncio.sleep((b + seconds(1.5) - now()).total_seconds())
            store = SqliteStateStore(ws.root / "state", readonly=True)
            async with asyncio.timeout(15):
                while (row := await store.verification(await _only_window(store))) is None or (  # noqa: ASYNC110 - polls another connection's writes
                    row.result is Result.PENDING
                ):
                    await asyncio.sleep(0.2)
            callback_files = await store.files(STREAM, a, b)
            await store.close()
    starts = [r for r in emu.requests if r.command == "start"]
    assert len(starts) == 2 and all(r.http_status == 200 for r in starts)
    assert (starts[1].wall - starts[0].wall).total_seconds() <= 1 + 2
    assert any(e["event"] == "recording_not_confirmed" for e in logs)
    assert row.result in (Result.OK, Result.GAP), row
    missed = [g for g in row.gaps if g.cause == "missed"]
    assert len(missed) <= 1 and all((g.end - g.start).total_seconds() <= 3 for g in missed)
    assert [f.uri for f in callback_files] == [f.uri for f in emu.files(STREAM)]


async def _only_window(store: SqliteStateStore) -> str:
    rows = await store.verifications(now() - timedelta(hours=1), now() + timedelta(hours=1))
    return rows[0].window_id if rows else ""
