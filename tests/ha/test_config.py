"""The `database` block (DESIGN §9): parsed, defaulted, and located errors that never echo a
password; a member whose database is unreachable says where and keeps trying."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import EmulatorFactory
from liverecd.errors import ConfigError
from liverecd.net import free_port
from liverecd.schedule.config import load_config
from reliability.procs import DaemonProcess, daemon_env
from reliability.rig import account

from .cluster import member_config

BASE = "schedules: ['s/*.yaml']\n"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "liverecd.yaml"
    path.write_text(BASE + text)
    return path


def test_without_a_database_block_the_state_stays_in_sqlite(tmp_path: Path) -> None:
    assert load_config(config(tmp_path, "")).database is None


def test_a_database_block_takes_its_defaults(tmp_path: Path) -> None:
    db = load_config(config(tmp_path, "database:\n  url: postgresql://liverecd@db/x\n")).database
    assert db is not None
    assert (db.url, db.cluster) == ("postgresql://liverecd@db/x", "main")
    assert db.lease == timedelta(seconds=6)
    assert db.source is not None and db.source.line == 3


@pytest.mark.parametrize(
    ("block", "line", "col", "message"),
    [
        ("  url: postgresql://liverecd:hunter2secret@db/x\n", 3, 8, "no password in the URL"),
        ("  url: mysql://db/x\n", 3, 8, "expected a URL such as postgresql://"),
        ("  url: postgresql://u@db/x\n  lease: 1s\n", 4, 10, "lease"),
        ("  url: postgresql://u@db/x\n  cluster: 'a b'\n", 4, 12, "letters, digits"),
        ("  cluster: main\n", 3, 3, "missing required key 'url'"),
    ],
)
def test_a_bad_database_block_is_a_located_error(
    tmp_path: Path, block: str, line: int, col: int, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config(tmp_path, "database:\n" + block))
    (problem,) = caught.value.problems
    assert (problem.line, problem.col) == (line, col)
    assert message in problem.message
    assert "hunter2secret" not in str(caught.value)


@pytest.mark.slow
async def test_an_unreachable_database_is_named_and_retried_before_ready(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    emu = await emulator_factory()
    port = free_port()
    path, _ = member_config(tmp_path, emu.url, f"postgresql://liverecd@127.0.0.1:{port}/x",
                            lease="3s", schedule="streams: []\n")  # fmt: skip
    proc = await DaemonProcess.spawn(path, daemon_env(account("HaUnreach"), sts=False))
    try:
        async with asyncio.timeout(20):
            while sum(e.get("event") == "database_unreachable" for e in proc.events) < 2:
                assert proc.process.returncode is None, proc.output()
                await asyncio.sleep(0.05)
        first = next(e for e in proc.events if e.get("event") == "database_unreachable")
        assert f"127.0.0.1:{port}/x" in str(first["database"])
        assert proc.event("member_standby") is None and proc.event("daemon_started") is None
    finally:
        assert await proc.terminate() == 0


async def test_a_schema_from_a_newer_liverecd_stops_the_start(
    tmp_path: Path, emulator_factory: EmulatorFactory, pg_url: str
) -> None:
    from liverecd.ha import sql
    from liverecd.ha.store import Database

    from .conftest import db_config

    db = Database(db_config(pg_url))
    await db.open()
    await db.fetch(sql.WRITE_VERSION, (sql.SCHEMA_VERSION + 1,))
    await db.close()
    emu = await emulator_factory()
    path, _ = member_config(tmp_path, emu.url, pg_url, lease="3s", schedule="streams: []\n")
    proc = await DaemonProcess.spawn(path, daemon_env(account("HaNewer"), sts=False))
    assert await proc.finish() == 1
    assert "written by a newer liverecd" in proc.stderr
    assert proc.event("member_standby") is None
