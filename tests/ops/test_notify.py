"""sd_notify over a real AF_UNIX datagram socket (path and abstract namespace), and the watchdog."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from liverecd.clock import FakeClock
from liverecd.ops.notify import (
    STATUS_INTERVAL,
    Notifier,
    status_from_snapshot,
    status_line,
    status_loop,
    watchdog_loop,
)


class Receiver:
    """What systemd would be: a bound datagram socket we read without blocking."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)

    def messages(self) -> list[dict[str, str]]:
        """Every datagram queued so far, parsed into fields (sendto delivers synchronously)."""
        out = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return out
            out.append(dict(line.split("=", 1) for line in data.decode().split("\n")))


@pytest.fixture
def path_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, str]]:
    # A short directory: AF_UNIX paths are limited to 107 bytes.
    path = str(tmp_path_factory.mktemp("n") / "notify")
    rx = Receiver(path)
    yield rx, path
    rx.sock.close()


@pytest.fixture
def abstract_receiver() -> Iterator[tuple[Receiver, str]]:
    name = f"liverecd-test-{uuid.uuid4().hex}"
    rx = Receiver("\0" + name)
    yield rx, "@" + name
    rx.sock.close()


def test_ready_with_status_reaches_a_path_socket(path_receiver: tuple[Receiver, str]) -> None:
    rx, path = path_receiver
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.ready("120 windows, 3 recording")
    assert rx.messages() == [{"READY": "1", "STATUS": "120 windows, 3 recording"}]
    notifier.close()


def test_messages_reach_an_abstract_namespace_socket(
    abstract_receiver: tuple[Receiver, str],
) -> None:
    rx, name = abstract_receiver
    notifier = Notifier.from_env({"NOTIFY_SOCKET": name})
    assert notifier.watchdog() and notifier.stopping() and notifier.status("draining")
    assert rx.messages() == [{"WATCHDOG": "1"}, {"STOPPING": "1"}, {"STATUS": "draining"}]
    notifier.close()


def test_reloading_carries_the_current_monotonic_time(path_receiver: tuple[Receiver, str]) -> None:
    rx, path = path_receiver
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    [message] = rx.messages()
    assert message["RELOADING"] == "1"
    assert before <= int(message["MONOTONIC_USEC"]) <= after
    notifier.close()


def test_without_notify_socket_every_call_is_a_no_op() -> None:
    notifier = Notifier.from_env({"WATCHDOG_USEC": "30000000"})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog()
    assert notifier.watchdog_interval() is None


def test_a_transport_we_do_not_speak_disables_notify() -> None:
    with capture_logs() as logs:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert [e["event"] for e in logs] == ["sd_notify_unsupported_socket"]


def test_send_errors_never_raise_and_are_logged_once_per_run(tmp_path: Path) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    with capture_logs() as logs:
        assert notifier.ready() is False
        assert notifier.watchdog() is False
    assert [e["event"] for e in logs] == ["sd_notify_failed"]
    assert logs[0]["fields"] == ["READY"]
    notifier.close()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_follows_watchdog_usec_and_pid(
    environ: dict[str, str], expected: float | None
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "@x", **environ}, pid=4242)
    assert notifier.watchdog_interval() == expected


@given(st.text())
def test_status_text_always_travels_as_one_field(text: str) -> None:
    fields = Notifier._status(text)
    assert len(fields) == 1
    assert "\n" not in fields[0] and fields[0].startswith("STATUS=")


async def test_watchdog_loop_pings_every_half_interval_while_heartbeat_is_ok(
    path_receiver: tuple[Receiver, str],
) -> None:
    rx, path = path_receiver
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    clock = FakeClock()
    healthy = [True]
    task = asyncio.create_task(watchdog_loop(notifier, lambda: healthy[0], clock=clock))
    try:
        await asyncio.sleep(0)
        assert rx.messages() == [{"WATCHDOG": "1"}]
        clock.advance(1.9)
        await asyncio.sleep(0)
        assert rx.messages() == []  # not before interval / 2
        clock.advance(0.1)
        await asyncio.sleep(0)
        assert rx.messages() == [{"WATCHDOG": "1"}]
        healthy[0] = False
        with capture_logs() as logs:
            for _ in range(3):
                clock.advance(2.0)
                await asyncio.sleep(0)
        assert rx.messages() == []  # withheld: systemd will restart the service
        assert [e["event"] for e in logs] == ["watchdog_ping_withheld"]
        healthy[0] = True
        clock.advance(2.0)
        await asyncio.sleep(0)
        assert rx.messages() == [{"WATCHDOG": "1"}]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        notifier.close()


async def test_watchdog_loop_returns_at_once_when_the_watchdog_is_off() -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "@x"})
    async with asyncio.timeout(5):
        await watchdog_loop(notifier, lambda: True, clock=FakeClock())


SNAPSHOT = {
    "config_loaded": True,
    "files": {"loaded": 2, "failed": []},
    "windows": {"total": 120, "open_now": 3, "recording": 3},
    "next_action": {
        "time": "2026-11-25T11:00:00Z",
        "command": "start",
        "stream": "play.example.com/live/news",
        "zone": "Asia/Shanghai",
    },
}
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai


@pytest.mark.parametrize(
    ("due", "expected_next"),
    [
        (datetime(2026, 11, 25, 11, 0, tzinfo=UTC), "next: start news at 19:00 CST"),
        (datetime(2026, 11, 26, 11, 0, tzinfo=UTC), "next: start news at 2026-11-26 19:00 CST"),
    ],
)
def test_status_line_names_the_next_action_in_the_stream_zone(
    due: datetime, expected_next: str
) -> None:
    line = status_line(
        windows=120,
        recording=3,
        now=NOW,
        next_at=due,
        next_command="start",
        next_stream="play.example.com/live/news",
        zone=ZoneInfo("Asia/Shanghai"),
    )
    assert line == f"120 windows, 3 recording, {expected_next}"


def test_status_line_without_a_next_action() -> None:
    assert (
        status_line(windows=0, recording=0, now=NOW) == "0 windows, 0 recording, nothing scheduled"
    )


def test_status_from_a_snapshot_reads_the_daemon_snapshot_format() -> None:
    line = status_from_snapshot(SNAPSHOT, NOW)
    assert line == "120 windows, 3 recording, next: start news at 19:00 CST"


def test_status_from_a_snapshot_says_when_files_fail_or_nothing_loaded() -> None:
    failing = {**SNAPSHOT, "files": {"loaded": 2, "failed": ["schedules/news.yaml"]}}
    assert status_from_snapshot(failing, NOW).endswith(
        "; 1 schedule file(s) failing, last good version in force"
    )
    assert status_from_snapshot({"config_loaded": False}, NOW) == "loading the configuration"
    no_zone = {**SNAPSHOT, "next_action": {**SNAPSHOT["next_action"], "zone": "Mars/Olympus"}}
    assert status_from_snapshot(no_zone, NOW).endswith("next: start news at 11:00 UTC")


async def test_status_loop_sends_status_only_when_the_text_changes(
    path_receiver: tuple[Receiver, str],
) -> None:
    rx, path = path_receiver
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    clock = FakeClock(NOW)
    current: list[Mapping[str, object]] = [{"config_loaded": False}]
    task = asyncio.create_task(status_loop(notifier, lambda: current[0], clock=clock))
    try:
        await asyncio.sleep(0)
        assert rx.messages() == [{"STATUS": "loading the configuration"}]
        clock.advance(STATUS_INTERVAL)
        await asyncio.sleep(0)
        assert rx.messages() == []  # unchanged: nothing sent
        current[0] = SNAPSHOT
        clock.advance(STATUS_INTERVAL)
        await asyncio.sleep(0)
        assert rx.messages() == [
            {"STATUS": "120 windows, 3 recording, next: start news at 19:00 CST"}
        ]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        notifier.close()
