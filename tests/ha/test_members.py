"""Members compare their timetables: a member running a different one is named in a warning,
in /healthz and on the status page, and an edit that makes them agree again clears it (the
standby follows edits too)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from conftest import EmulatorFactory
from liverecd.ha.digest import timetable_digest
from liverecd.schedule.config import load_config
from liverecd.schedule.loader import load_schedules
from reliability.rig import http_get, now, schedule_text, seconds, write_schedule

from .cluster import Member, member_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def test_the_digest_ignores_where_the_schedule_is_written(tmp_path: Path) -> None:
    text = schedule_text({"news": [(now() + seconds(60), now() + seconds(120))]})
    digests = []
    for name, padding in (("a", ""), ("b", "# a comment moves every line\n\n")):
        root = tmp_path / name
        root.mkdir()
        path, _ = member_config(root, "http://127.0.0.1:1", "postgresql://u@h/d", lease="3s",
                                schedule=padding + text)  # fmt: skip
        digests.append(timetable_digest(load_schedules(load_config(path)).schedule))
    assert digests[0] == digests[1]


async def test_a_member_with_another_timetable_is_named_until_it_agrees(
    emulator_factory: EmulatorFactory, pg_url: str, tmp_path: Path
) -> None:
    emu = await emulator_factory()
    t0 = now()
    ours = schedule_text({"news": [(t0 + seconds(300), t0 + seconds(400))]})
    theirs = schedule_text({"news": [(t0 + seconds(300), t0 + seconds(500))]})
    members = []
    for name, text in (("A", ours), ("B", theirs)):
        root = tmp_path / name
        root.mkdir()
        config, port = member_config(root, emu.url, pg_url, lease="3s", schedule=text)
        members.append(Member(name, root, config, port))
    a, b = members
    try:
        await a.start()
        await a.wait("leader_acquired")
        await b.start()
        differs = await a.wait("timetable_differs", within=10)
        assert str(differs["member"]).split(":")[1] == str(b.proc.process.pid)  # type: ignore[union-attr]
        assert len((await a.health())["timetable_differs"]) == 1  # type: ignore[arg-type]
        page_a, page_b = await a.health("/api/status"), await b.health("/api/status")
        assert page_a["role"] == {  # the status page names each member's role (DESIGN §11)
            "role": "active", "cluster": "test", "epoch": 1,
            "detail": f"members run different timetables: {differs['member']}",
        }  # fmt: skip
        assert page_b["role"]["role"] == "standby"  # type: ignore[index]
        check = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liverecd", "check", "-c", str(a.config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await check.communicate()
        assert check.returncode == 0, err
        assert f":{b.proc.process.pid}:" in err.decode()  # type: ignore[union-attr]
        assert "runs a different timetable" in err.decode() and b"1 warning" in out
        write_schedule(b.root, "s.yaml", ours)  # the standby is deployed the same schedule
        async with asyncio.timeout(10):
            while True:  # polling a page: there is nothing to wait on
                if not (await a.health())["timetable_differs"]:
                    break
                await asyncio.sleep(0.2)
        write_schedule(b.root, "zz.yaml", "streams: [\n")  # a broken save on the standby
        async with asyncio.timeout(10):
            while True:  # polling a page: there is nothing to wait on
                if (await http_get(f"http://127.0.0.1:{b.port}/healthz"))[0] == 503:
                    break
                await asyncio.sleep(0.2)
        health = await b.health()
        assert health["role"] == "standby" and "zz.yaml:2:1" in str(health["problems"]), health
        files = health["files"]
        assert files["loaded"] == 1 and str(files["failed"]).endswith("zz.yaml']"), files  # type: ignore[index]
    finally:
        for m in members:
            if m.proc is not None:
                assert await m.proc.terminate() == 0
