"""Start-up guards (issue 12): one daemon per state directory (case 6), and signals that arrive
before the daemon is ready do what they mean instead of killing it (case 8)."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from conftest import EmulatorFactory
from liverecd.errors import StateError
from liverecd.ops import service
from liverecd.schedule.config import load_config

from .conftest import LeakScan
from .procs import DaemonProcess, daemon_env
from .rig import (
    SECRET,
    account,
    credentials,
    key,
    now,
    schedule_text,
    seconds,
    serving,
    write_config,
    write_schedule,
)

pytestmark = pytest.mark.realtime  # subprocesses and real signals before ready
AK = account("Startup01")


async def run_to_exit(config: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env=daemon_env(AK, sts=False),
    )  # fmt: skip
    async with asyncio.timeout(20):
        _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


@pytest.mark.timeout(60)
async def test_a_second_daemon_on_the_same_state_refuses_and_names_the_first(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET})
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({"cam": [(now(), now() + seconds(30))]}))
    first = await DaemonProcess.spawn(config, daemon_env(AK, sts=False))
    try:
        await first.wait_event("daemon_started", within=15)
        await asyncio.sleep(0.5)
        assert emu.state(key("cam")) == "recording"

        code, err = await run_to_exit(config)  # as `liverecd run`
        leaks.add("second daemon's stderr", err)
        assert code == 1 and f"pid {first.process.pid}" in err and "Traceback" not in err, err
        with pytest.raises(StateError, match=f"pid {first.process.pid}"):  # in-process
            async with serving(config, credentials(AK)):
                pytest.fail("a second daemon started on a locked state_dir")

        assert emu.state(key("cam")) == "recording"  # the first one's recording runs on
        assert [r.command for r in emu.requests if r.command] == ["start"]
    finally:
        assert await first.terminate() == 0
        leaks.add("first daemon's output", first.output())


async def spawn_and_signal(config: Path, sig: signal.Signals, after: float) -> DaemonProcess:
    """Send `sig` `after` seconds into the start-up, counted from when the process has its
    handler for it: before that the interpreter is still starting (on a loaded machine that can
    take longer than `after`), and any Python program dies of a SIGHUP there."""
    proc = await DaemonProcess.spawn(config, daemon_env(AK, sts=False))
    status = Path(f"/proc/{proc.process.pid}/status")
    for _ in range(3000):  # 15 s
        if _catches(status, sig):
            break
        await asyncio.sleep(0.005)  # another process's state: nothing to await but time
    else:
        pytest.fail(f"the daemon never took {sig.name}: {proc.output()}")
    await asyncio.sleep(after)
    proc.process.send_signal(sig)
    return proc


def _catches(status: Path, sig: signal.Signals) -> bool:
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    return bool(int(fields["SigCgt"], 16) & (1 << (sig - 1)))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("after", [0.15, 0.4])
async def test_a_sighup_before_ready_is_a_reload_after_ready(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan, after: float
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET})
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    proc = await spawn_and_signal(config, signal.SIGHUP, after)
    try:
        await proc.wait_event("daemon_started", within=15)
        reload = await proc.wait_event("reload", within=10)
        assert reload["trigger"] == "sighup", reload
    finally:
        assert await proc.terminate() == 0
        leaks.add("daemon output", proc.output())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("after", [0.15, 0.4])
async def test_a_sigterm_before_ready_exits_cleanly(
    tmp_path: Path, emulator_factory: EmulatorFactory, leaks: LeakScan, after: float
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET})
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    proc = await spawn_and_signal(config, signal.SIGTERM, after)
    assert await proc.finish() == 0, proc.output()
    leaks.add("daemon output", proc.output())
    assert proc.event("stop_requested") is not None, proc.output()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_while_the_credentials_are_retried_exits_cleanly(
    tmp_path: Path, leaks: LeakScan, sig: signal.Signals
) -> None:
    # The credentials are retried until their source answers (the daemon is not ready
    # meanwhile); a SIGTERM there used to be held for a daemon that never came: `systemctl
    # stop` waited for its timeout and a SIGKILL, Ctrl-C did nothing.
    config = write_config(tmp_path, "http://127.0.0.1:9")  # never reached
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    env = {k: v for k, v in daemon_env(AK, sts=False).items() if not k.startswith("ALIBABA_")}
    env |= {"HOME": str(tmp_path), "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
            "ALIBABA_CLOUD_CREDENTIALS_URI": "http://127.0.0.1:9/refused"}  # fmt: skip
    proc = await DaemonProcess.spawn(config, env)
    await proc.wait_event("credentials_unavailable", within=15)
    proc.process.send_signal(sig)
    assert await proc.finish() == 0, proc.output()
    leaks.add("daemon output", proc.output())
    assert proc.event("stop_requested") is not None and "Traceback" not in proc.output()
    assert proc.event("daemon_started") is None, proc.output()


@pytest.mark.timeout(60)
async def test_a_signal_while_the_service_closes_is_logged_not_its_death(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    # After the daemon stops, the process still closes its companions and the state store, and
    # asyncio.run waits for the loop's threads (a horizon fill takes seconds on a large
    # timetable); a SIGHUP there (logrotate, a reload racing the stop) killed it: status 129.
    emu = await emulator_factory(accounts={AK: SECRET})
    config = load_config(write_config(tmp_path, emu.url))
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    ready = asyncio.Event()
    serving = asyncio.create_task(
        service.serve(config, credentials(AK), watch_files=False, on_ready=lambda _: ready.set())
    )
    async with asyncio.timeout(15):
        await ready.wait()
        os.kill(os.getpid(), signal.SIGTERM)  # a real one, as systemd sends it
        assert await serving == 0
    for sig in (signal.SIGHUP, signal.SIGTERM):  # the loop runs on, as under asyncio.run
        assert signal.getsignal(sig) not in (signal.SIG_DFL, None), f"a {sig.name} would kill"
    with capture_logs() as logs:
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.1)
    assert [e["signal"] for e in logs if e["event"] == "signal_ignored"] == ["SIGHUP"]


@pytest.mark.timeout(60)
async def test_a_lock_file_the_pid_cannot_be_written_to_is_no_traceback(
    tmp_path: Path, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a full state disk the pid written into the lock file (for a second daemon's message)
    # raised ENOSPC out of `liverecd run` as a bare traceback; the pid is only informative.
    emu = await emulator_factory(accounts={AK: SECRET})
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    async with serving(config, credentials(AK)) as daemon:
        assert daemon.snapshot()["config_loaded"] is True
