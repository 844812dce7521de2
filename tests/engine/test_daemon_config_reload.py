"""Reloading the main config (DESIGN.md §12) through the running daemon: a write to
liverecd.yaml or SIGHUP applies qps in place, names what needs a restart, and a broken file
keeps the last good config."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from structlog.testing import capture_logs

from liverecd.api import ratelimit
from liverecd.config import ListenAddress
from liverecd.ops.config_reload import diff_config
from liverecd.ops.metrics import Metrics
from liverecd.schedule.config import load_config

from .conftest import TEST_AK, Workspace, running_daemon
from .test_daemon_wait import sample


def limiter_qps() -> float:
    return ratelimit._REGISTRY[(TEST_AK, "RealTimeRecordCommand", None)].qps


def edit(path: Path, *changes: tuple[str, str]) -> None:
    """One save (as editors do: write elsewhere, rename over) with every change in it."""
    text = path.read_text()
    for old, new in changes:
        assert text.count(old) == 1
        text = text.replace(old, new)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


async def test_reload_applies_qps_in_place_names_restart_keys_and_survives_a_broken_file(
    workspace: Workspace,
) -> None:
    workspace.write_schedule("a.yaml", "domain: d.example\napp: live\nstreams: []\n")
    cfg = workspace.config_path
    with capture_logs() as logs:
        async with running_daemon(workspace) as daemon:
            assert limiter_qps() == 50
            # 1. a write to liverecd.yaml (seen by the file watch): qps and status.listen
            edit(
                cfg,
                ("qps: 50", "qps: 20"),
                ("status:\n  listen: off", "status:\n  listen: 127.0.0.1:9"),
            )
            async with asyncio.timeout(10):
                await daemon.wait_reloads(1)
            assert limiter_qps() == 20 and daemon.config.api.qps == 20
            assert daemon.config.status.listen is None  # the running value stays
            # 2. SIGHUP with a broken file: the last good config stays
            text = cfg.read_text()
            cfg.write_text("api: [\n")
            daemon.request_reload("sighup")
            async with asyncio.timeout(10):
                await daemon.wait_reloads(2)
            assert daemon.config.api.qps == 20 and limiter_qps() == 20
            # 3. fixed again, and a schedule edit: the restart key is not said a second time
            edit(cfg, ("api: [\n", text.replace("qps: 50", "qps: 20")))
            daemon.request_reload("sighup")
            async with asyncio.timeout(10):
                await daemon.wait_reloads(3)
            workspace.write_schedule("a.yaml", "domain: d.example\napp: live\nstreams: []\n\n")
            daemon.request_reload("sighup")
            async with asyncio.timeout(10):
                await daemon.wait_reloads(4)
    restart = [e for e in logs if e["event"] == "config_restart_needed"]
    assert len(restart) == 1 and restart[0]["keys"] == ["status.listen"], restart
    assert restart[0]["log_level"] == "warning"
    applied = [e for e in logs if e["event"] == "config_reloaded"]
    assert applied and applied[0]["keys"] == ["api.qps"]
    [invalid] = [e for e in logs if e["event"] == "config_invalid"]
    assert invalid["log_level"] == "error" and "liverecd.yaml" in invalid["errors"][0]


def test_diff_names_every_changed_key_and_keeps_running_values_for_restart_keys(
    tmp_path: Path,
) -> None:
    base = "schedules: [s/*.yaml]\naccounts:\n  p:\n    profile: p\n    qps: 5\n"
    (tmp_path / "a.yaml").write_text(base + "status:\n  listen: 127.0.0.1:1\n")
    (tmp_path / "b.yaml").write_text(
        base.replace("qps: 5", "qps: 7").replace("profile: p", "profile: q")
        + "status:\n  listen: 127.0.0.1:2\nmax_lead: 5s\nlog:\n  level: debug\n"
        + "verify:\n  enabled: false\n  grace: 5s\n"
    )
    old, new = load_config(tmp_path / "a.yaml"), load_config(tmp_path / "b.yaml")
    change = diff_config(old, new)
    assert change.applied == ("accounts.p.qps", "log.level", "max_lead", "verify.grace")
    assert change.restart_needed == ("accounts.p.profile", "status.listen", "verify.enabled")
    assert change.config.verify.enabled and change.config.verify.grace == timedelta(seconds=5)
    assert change.config.status.listen == ListenAddress("127.0.0.1", 1)
    assert change.config.account("p").api.qps == 7
    assert change.config.account("p").profile == "p"
    assert change.config.log.level == "debug" and change.config.max_lead == new.max_lead


async def test_a_main_config_replaced_by_a_fifo_is_refused_without_stalling_the_loop(
    workspace: Workspace,
) -> None:
    # The main config is read on the event loop; opening a FIFO waits for a writer, so a
    # SIGHUP after `mkfifo liverecd.yaml` froze the whole daemon (no command, no /healthz).
    workspace.write_schedule("a.yaml", "domain: d.example\napp: live\nstreams: []\n")
    cfg = workspace.config_path
    worst = 0.0

    async def probe() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - t)

    def writer_after(seconds: float) -> None:  # frees a reader stuck on the FIFO, if any
        time.sleep(seconds)
        with contextlib.suppress(OSError):  # no reader: nobody to free
            os.close(os.open(cfg, os.O_WRONLY | os.O_NONBLOCK))

    with capture_logs() as logs:
        async with running_daemon(workspace, watch_files=False) as daemon:
            cfg.unlink()
            os.mkfifo(cfg)
            freer = threading.Thread(target=writer_after, args=(3.0,), daemon=True)
            freer.start()
            probing = asyncio.create_task(probe())
            daemon.request_reload("sighup")
            async with asyncio.timeout(10):
                await daemon.wait_reloads(1)
            probing.cancel()
            assert daemon.config.api.qps == 50  # the last good config stays
    assert worst < 1.0, f"the loop stalled {worst:.1f} s"
    [invalid] = [e for e in logs if e["event"] == "config_invalid"]
    assert "liverecd.yaml" in invalid["errors"][0] and "not a regular file" in invalid["errors"][0]


async def test_a_refused_main_config_is_a_failed_reload_on_healthz_and_in_the_metrics(
    workspace: Workspace,
) -> None:
    # A refused liverecd.yaml was only a log line: /healthz said healthy with last_reload ok,
    # and the reload counted as ok, while the edit the operator made was not in force.
    workspace.write_schedule("a.yaml", "domain: d.example\napp: live\nstreams: []\n")
    cfg = workspace.config_path
    metrics = Metrics()
    async with running_daemon(workspace, observer=metrics, watch_files=False) as daemon:
        edit(cfg, ("qps: 50", "qps: 0"))
        daemon.request_reload("sighup")
        async with asyncio.timeout(10):
            await daemon.wait_reloads(1)
        body = daemon.snapshot()
        assert body["last_reload"]["ok"] is False  # type: ignore[index]
        [problem] = body["problems"]  # type: ignore[misc]
        assert problem.startswith("config: ") and "liverecd.yaml:3:" in problem, problem
        assert sample(metrics, "liverecd_reloads_total", result="failed") == 1
        edit(cfg, ("qps: 0", "qps: 40"))  # fixed
        daemon.request_reload("sighup")
        async with asyncio.timeout(10):
            await daemon.wait_reloads(2)
        body = daemon.snapshot()
        assert body["problems"] == [] and body["last_reload"]["ok"] is True  # type: ignore[index]
        assert daemon.config.api.qps == 40


async def test_an_absurd_horizon_is_refused_with_its_line_and_the_last_good_one_kept(
    workspace: Workspace,
) -> None:
    # `horizon` had no upper bound: a reloaded `horizon: 3650d` was applied in place, and with
    # a cron that fires every minute its expansion (millions of windows) never ended.
    workspace.write_schedule(
        "a.yaml", "domain: d.example\napp: live\nstreams:\n  - name: n\n    windows:\n"
        '      - cron: "0 */2 * * *"\n        duration: 1h\n',
    )  # fmt: skip
    cfg = workspace.config_path
    with capture_logs() as logs:
        async with running_daemon(workspace, watch_files=False) as daemon:
            # the windows in force (not their phases: in an even hour one is opening meanwhile)
            windows = daemon.snapshot()["windows"]["total"]  # type: ignore[index]
            edit(cfg, ("max_lead: 0s", "max_lead: 0s\nhorizon: 3650d"))
            daemon.request_reload("sighup")
            async with asyncio.timeout(10):
                await daemon.wait_reloads(1)
            assert daemon.config.horizon == timedelta(hours=6)
            assert daemon.snapshot()["windows"]["total"] == windows  # type: ignore[index]
    [invalid] = [e for e in logs if e["event"] == "config_invalid"]
    [error] = invalid["errors"]
    assert error.endswith(":10: horizon: must be at most 168h, got 3650d"), error
