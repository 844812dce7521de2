"""A stdout nobody reads never stops the daemon (issue 12, case 3).

`liverecd run` gets a pipe that is already full and never read as its stdout (what a FIFO with
a reader that stopped reading, or a stalled journald, looks like). Every start and stop still
goes out, SIGTERM still ends it cleanly, and /metrics has the count of log lines it had to drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import EmulatorFactory
from liverecd.net import free_port

from .conftest import LeakScan
from .procs import daemon_env
from .rig import (
    SECRET,
    account,
    all_idle,
    http_get,
    key,
    now,
    schedule_text,
    seconds,
    until,
    write_config,
    write_schedule,
)

pytestmark = pytest.mark.realtime  # a subprocess whose stdout nobody reads
AK = account("Stdout01")


@pytest.fixture
def full_pipe() -> Iterator[int]:
    """The write end of a pipe whose buffer is full and whose read end nobody reads."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        while True:
            os.write(write, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(write, True)  # the flag is shared with the child: it must block there
    yield write
    os.close(write)
    os.close(read)


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_a_stdout_nobody_reads_blocks_no_command_and_no_sigterm(
    tmp_path: Path, emulator_factory: EmulatorFactory, full_pipe: int, leaks: LeakScan
) -> None:
    emu = await emulator_factory(accounts={AK: SECRET})
    port = free_port()
    config = write_config(tmp_path, emu.url, status=f"127.0.0.1:{port}")
    t0 = now()
    windows = {f"s{i:02d}": [(t0 + seconds(3), t0 + seconds(6))] for i in range(40)}
    windows["late"] = [(t0 + seconds(8), t0 + seconds(10))]
    write_schedule(tmp_path, "a.yaml", schedule_text(windows))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        stdout=full_pipe, stderr=asyncio.subprocess.PIPE, env=daemon_env(AK, sts=False),
    )  # fmt: skip
    try:
        await until(t0 + seconds(10))
        assert await all_idle(emu, map(key, windows), within=8.0)
        status, metrics = await http_get(f"http://127.0.0.1:{port}/metrics")
        leaks.add("/metrics", metrics)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    leaks.add("stderr", await proc.stderr.read())
    for name in windows:
        assert len(emu.recordings(key(name))) == 1, name
    dropped = [
        ln for ln in metrics.splitlines() if ln.startswith("liverecd_log_lines_dropped_total")
    ]
    assert status == 200 and len(dropped) == 1, dropped  # counting: tests/engine/test_logs.py


@pytest.mark.timeout(60)
async def test_a_sighup_while_the_last_log_lines_drain_at_exit_is_no_death(
    tmp_path: Path, emulator_factory: EmulatorFactory, full_pipe: int
) -> None:
    # At exit the log queue gets a second to drain into a stdout nobody reads, after the
    # event loop (and its signal handlers) have gone: a SIGHUP then (logrotate, a reload
    # racing the stop) killed the daemon with status 129 after a clean stop.
    emu = await emulator_factory(accounts={AK: SECRET})
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        stdout=full_pipe, stderr=asyncio.subprocess.PIPE, env=daemon_env(AK, sts=False),
    )  # fmt: skip
    try:
        await asyncio.sleep(3)  # ready by now (a SIGTERM before ready is a stop after it)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            while proc.returncode is None:  # one lands while the log drains at exit
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGHUP)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 0.1)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.timeout(60)
async def test_a_closed_stdout_sends_the_log_to_stderr(
    tmp_path: Path, emulator_factory: EmulatorFactory
) -> None:
    # Started with stdout closed (`liverecd run >&-`, a supervisor that closes it), Python has
    # no sys.stdout, and the first log line was an AttributeError traceback: exit 1.
    emu = await emulator_factory(accounts={AK: SECRET})
    config = write_config(tmp_path, emu.url)
    write_schedule(tmp_path, "a.yaml", schedule_text({}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE, env=daemon_env(AK, sts=False),
        preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(15):
            while b"daemon_started" not in b"".join(lines[-1:]):
                line = await proc.stderr.readline()
                assert line, b"".join(lines).decode()
                lines.append(line)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            lines.append(await proc.stderr.read())
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert b"Traceback" not in b"".join(lines) and b"daemon_stopped" in lines[-1]
