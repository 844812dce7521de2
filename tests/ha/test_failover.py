"""Two `liverecd run` processes, one PostgreSQL, one emulator (DESIGN §9): kill -9 of the active,
SIGSTOP of the active, a partition between the active and the database, a database restart.

In every scenario the emulator never counts more than the quota in any second and never sees
the two members send less than a second apart. Leases are 3 s (the least the config allows) to
keep the tests short; the database outage test uses 6 s, so that its safe period is measurable.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from conftest import TEST_SECRET, EmulatorFactory
from liverecd.emulator import Emulator
from reliability.rig import http_get, key, now, schedule_text, seconds, until

from .cluster import Member, Proxy, member_config, same_second, sent_by, stamp
from .pg import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
LEASE = 3.0


@pytest.fixture
async def emu(emulator_factory: EmulatorFactory) -> Emulator:
    keys = [Member(n, Path(), Path(), 0).key for n in ("A", "B")]
    return await emulator_factory(accounts=dict.fromkeys(keys, TEST_SECRET), stop_delay=0.2)


@pytest.fixture
async def members(tmp_path: Path) -> AsyncIterator[list[Member]]:
    made: list[Member] = []
    yield made
    for m in made:
        if m.proc is not None and m.proc.process.returncode is None:
            m.proc.process.send_signal(signal.SIGCONT)
            await m.proc.terminate()


def make(
    members: list[Member], tmp_path: Path, emu: Emulator, url: str, schedule: str, *,
    lease: float = LEASE,
) -> tuple[Member, Member]:  # fmt: skip
    for name in ("A", "B"):
        root = tmp_path / name
        root.mkdir()
        config, port = member_config(root, emu.url, url, lease=f"{lease}s", schedule=schedule)
        members.append(Member(name, root, config, port))
    return members[0], members[1]


async def active_then_standby(a: Member, b: Member) -> None:
    await a.start()
    await a.wait("leader_acquired")
    await b.start()
    await b.wait("member_standby")


def check_quota_and_overlap(emu: Emulator, a: Member, b: Member) -> None:
    assert emu.max_in_any_second() <= 50
    assert same_second(emu, a, b) == []


def first_start(emu: Emulator, m: Member, stream: str, after: datetime) -> datetime | None:
    got = [r.wall for r in sent_by(emu, m) if r.stream == key(stream) and r.command == "start"
           and r.wall >= after]  # fmt: skip
    return min(got) if got else None


async def test_kill_9_of_the_active_hands_over_within_lease_plus_2s(
    emu: Emulator, pg_url: str, tmp_path: Path, members: list[Member]
) -> None:
    t0 = now()
    # `early` is open when the active dies; `late` opens during the failover.
    wins = {"early": [(t0 + seconds(4), t0 + seconds(40))],
            "late": [(t0 + seconds(9), t0 + seconds(40))]}  # fmt: skip
    a, b = make(members, tmp_path, emu, pg_url, schedule_text(wins))
    await active_then_standby(a, b)
    assert (await b.health())["role"] == "standby"
    await until(t0 + seconds(6))
    assert first_start(emu, a, "early", t0) is not None
    assert a.proc is not None
    await a.proc.kill()
    killed = a.proc.killed
    assert killed is not None
    acquired = await b.wait("leader_acquired", within=LEASE + 5)
    assert (stamp(acquired) - killed).total_seconds() <= LEASE + 2
    await until(t0 + seconds(9 + LEASE + 3.5))
    late = first_start(emu, b, "late", t0)
    assert late is not None and (late - (t0 + seconds(9))).total_seconds() <= LEASE + 3
    assert first_start(emu, b, "early", killed) is not None  # re-asserted by the takeover
    assert not [r for r in sent_by(emu, b) if r.command == "restart"]
    health = await b.health()
    assert health["role"] == "active" and health["epoch"] == 2
    check_quota_and_overlap(emu, a, b)


async def test_a_frozen_active_wakes_up_as_standby_and_sends_nothing(
    emu: Emulator, pg_url: str, tmp_path: Path, members: list[Member]
) -> None:
    t0 = now()
    # A window opens while the active is frozen: it has a start due the instant it wakes.
    wins = {"news": [(t0 + seconds(4), t0 + seconds(9))],
            "sport": [(t0 + seconds(8), t0 + seconds(30))]}  # fmt: skip
    a, b = make(members, tmp_path, emu, pg_url, schedule_text(wins))
    await active_then_standby(a, b)
    await until(t0 + seconds(5))
    assert a.proc is not None
    a.proc.process.send_signal(signal.SIGSTOP)
    frozen = now()
    await b.wait("leader_acquired", within=LEASE + 5)
    await asyncio.sleep(max(0.0, 3 * LEASE - (now() - frozen).total_seconds()))
    a.proc.process.send_signal(signal.SIGCONT)
    lost = await a.wait("leader_lost", within=5)
    await a.wait("member_standby", count=2, within=10)
    await asyncio.sleep(1.0)
    assert [r for r in emu.requests if r.access_key_id == a.key and r.wall > frozen] == []
    assert lost["reason"] in ("lease_unconfirmed", "superseded")
    assert (await a.health())["role"] == "standby"
    assert (await b.health())["role"] == "active"
    assert "liverecd_active 0.0" in (await http_get(f"http://127.0.0.1:{a.port}/metrics"))[1]
    assert "liverecd_active 1.0" in (await http_get(f"http://127.0.0.1:{b.port}/metrics"))[1]
    assert first_start(emu, b, "sport", t0) is not None
    check_quota_and_overlap(emu, a, b)


async def test_a_member_cut_from_the_database_fences_itself_and_the_other_takes_over(
    emu: Emulator, pg_server: PgServer, pg_url: str, tmp_path: Path, members: list[Member]
) -> None:
    proxy = Proxy(pg_server.port)
    await proxy.start()
    t0 = now()
    wins = {"news": [(t0 + seconds(3), t0 + seconds(30))],
            "talk": [(t0 + seconds(10), t0 + seconds(30))]}  # fmt: skip
    a, b = make(members, tmp_path, emu, pg_url.replace(str(pg_server.port), str(proxy.port)),
                schedule_text(wins))  # fmt: skip
    b.config.write_text(b.config.read_text().replace(str(proxy.port), str(pg_server.port)))
    try:
        await active_then_standby(a, b)
        await until(t0 + seconds(5))
        proxy.cut()
        cut = now()
        lost = await a.wait("leader_lost", within=LEASE + 2)
        assert lost["reason"] == "lease_unconfirmed"
        assert (stamp(lost) - cut).total_seconds() <= LEASE
        acquired = await b.wait("leader_acquired", within=LEASE + 5)
        assert stamp(acquired) > stamp(lost)
        await until(t0 + seconds(12))
        assert first_start(emu, b, "talk", t0) is not None
        assert [r for r in emu.requests if r.access_key_id == a.key and r.wall > stamp(lost)] == []
        assert (await a.health())["role"] == "standby"
        check_quota_and_overlap(emu, a, b)
    finally:
        await proxy.close()


async def test_a_database_restart_keeps_owed_commands_going_and_loses_no_window(
    emu: Emulator, pg_server: PgServer, pg_url: str, tmp_path: Path, members: list[Member]
) -> None:
    lease = 6.0
    t0 = now()
    # The database stops at t0+5 for 10 s. `soon` opens 1 s into the outage, inside the safe
    # period (the lease cannot have passed to anyone): it starts on time. `blind` opens after
    # the safe period: held, it starts once the database is back. `over` closes in the outage.
    wins = {"over": [(t0 + seconds(3), t0 + seconds(7))],
            "soon": [(t0 + seconds(6), t0 + seconds(40))],
            "blind": [(t0 + seconds(12), t0 + seconds(40))]}  # fmt: skip
    a, b = make(members, tmp_path, emu, pg_url, schedule_text(wins), lease=lease)
    await active_then_standby(a, b)
    await until(t0 + seconds(5))
    stopping = now()
    # `immediate` (a crash) returns at once; `fast` waits for a checkpoint, which on a loaded
    # host took seconds and moved the outage past `soon`'s start.
    await asyncio.to_thread(pg_server.stop, "immediate")
    down = now()
    try:
        await until(max(t0 + seconds(14), down + seconds(lease + 1)))
        during = [r for r in emu.requests if r.command and stopping < r.wall]
        assert (await a.health())["role"] == "standby"  # fenced: it cannot prove its lease
    finally:
        await asyncio.to_thread(pg_server.start)
    back = now()
    # On time, whether it left before the stop (a lagging test host can begin the outage late)
    # or in it: the database being down never holds an owed start in the safe period.
    soon = [r for r in emu.requests if r.stream == key("soon") and r.command == "start"]
    assert soon and soon[0].wall - (t0 + seconds(6)) < seconds(1)
    assert not [r for r in during if r.stream == key("blind")]  # held, not sent blind
    await until(back + seconds(lease + 3))
    senders = [m for m in (a, b) if first_start(emu, m, "blind", t0) is not None]
    assert senders, "the window that opened during the outage was never started"
    assert emu.state(key("blind")) == "recording" and emu.state(key("soon")) == "recording"
    assert emu.state(key("over")) == "idle"
    check_quota_and_overlap(emu, a, b)


async def test_a_verification_owed_by_a_dead_active_is_done_by_the_new_one(
    emu: Emulator, pg_url: str, tmp_path: Path, members: list[Member]
) -> None:
    t0 = now()
    # `news` ends at t0+7; its check falls due `grace` after its file (t0+13 or so). The active
    # dies in between: the check it owed is in the shared tables, and the new active runs it.
    wins = {"news": [(t0 + seconds(3), t0 + seconds(7))]}
    a, b = make(members, tmp_path, emu, pg_url, schedule_text(wins))
    for m in (a, b):
        config = yaml.safe_load(m.config.read_text())
        config["verify"] = {"grace": "6s"}
        m.config.write_text(yaml.safe_dump(config, sort_keys=False))
    await active_then_standby(a, b)
    await until(t0 + seconds(8.5))  # the stop and its cancel_delay have settled
    assert [r for r in sent_by(emu, a) if r.command == "stop"]
    assert a.proc is not None
    await a.proc.kill()
    await b.wait("leader_acquired", within=LEASE + 5)
    verified = await b.wait("window_verified", within=20)
    assert verified["stream"] == str(key("news")) and verified["result"] != "pending"
    assert a.events("window_verified") == []
    got = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "liverecd", "report", "-c", str(b.config), "--since", "1h",
         "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    rows = json.loads(got.stdout)
    assert [(r["window"], r["result"]) for r in rows] == [(verified["window"], verified["result"])]
    check_quota_and_overlap(emu, a, b)
