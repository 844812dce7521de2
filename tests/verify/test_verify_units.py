"""The `verify:` config block (defaults, FILE:LINE:COL errors) and the confirmation rules: an
unconfirmed start is sent again at most 3 times, a confirmed or already recording one never."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from liverecd.api.result import Outcome
from liverecd.clock import FakeClock
from liverecd.config import ListenAddress
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.errors import ConfigError
from liverecd.schedule.config import load_config
from liverecd.streams import Command, StreamKey
from liverecd.verify.confirm import Confirmer

KEY = StreamKey("play.example.com", "live", "cam")


def test_the_verify_block_takes_design_defaults_and_reads_every_key(tmp_path: Path) -> None:
    path = tmp_path / "liverecd.yaml"
    path.write_text("schedules: [a/*.yaml]\n")
    default = load_config(path).verify
    assert (default.enabled, default.grace, default.min_coverage, default.qps) == (
        True, timedelta(seconds=60), 0.98, 15.0,
    )  # fmt: skip
    assert (default.callback_listen, default.confirm) == (None, timedelta(seconds=20))
    path.write_text(
        "schedules: [a/*.yaml]\nverify:\n  enabled: false\n  grace: 2m\n  min_coverage: 0.9\n"
        "  qps: 10\n  callback_listen: 127.0.0.1:9400\n  callback_host: rec.example.com\n"
        "  confirm: 5s\n"
    )
    v = load_config(path).verify
    assert (v.enabled, v.grace, v.min_coverage, v.qps, v.confirm) == (
        False, timedelta(minutes=2), 0.9, 10.0, timedelta(seconds=5),
    )  # fmt: skip
    assert v.callback_listen == ListenAddress("127.0.0.1", 9400)
    assert v.callback_host == "rec.example.com"


def test_a_bad_verify_value_is_named_with_file_line_col_and_field(tmp_path: Path) -> None:
    path = tmp_path / "liverecd.yaml"
    path.write_text("schedules: [a/*.yaml]\nverify:\n  min_coverage: 1.5\n  confirm: soon\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, display_base=tmp_path)
    text = [str(p) for p in info.value.problems]
    assert any(t.startswith("liverecd.yaml:3:17") and "verify.min_coverage" in t for t in text)
    assert any(t.startswith("liverecd.yaml:4:12") and "verify.confirm" in t for t in text)


def settled_start(at: datetime, outcome: Outcome = Outcome.OK) -> Settled:
    order = Order(command=Command.START, stream=KEY, window_id="w", due=at,
                  deadline=at + timedelta(hours=1))  # fmt: skip
    return Settled(order=order, command=Command.START, reason="succeeded", attempts=1,
                   outcome=outcome, sent_at=at)  # fmt: skip


async def spin(clock: FakeClock, seconds: float) -> None:
    for _ in range(int(seconds * 10)):
        clock.advance(0.1)
        await asyncio.sleep(0)
        await asyncio.sleep(0)


async def test_an_unconfirmed_start_is_sent_again_at_most_three_times() -> None:
    clock = FakeClock(start=datetime(2026, 3, 1, tzinfo=UTC))
    sent: list[str] = []

    def resend(stream: StreamKey, wid: str) -> bool:
        sent.append(wid)
        confirmer.on_settled(settled_start(clock.wall()))  # the engine's start lands again
        return True

    confirmer = Confirmer(timedelta(seconds=20), clock, resend=resend,
                          is_open=lambda w: True, is_offline=lambda k: False)  # fmt: skip
    runner = asyncio.create_task(confirmer.run())
    with capture_logs() as logs:
        confirmer.on_settled(settled_start(clock.wall()))
        await spin(clock, 19)
        assert sent == []
        await spin(clock, 2)
        assert sent == ["w"]
        await spin(clock, 100)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert sent == ["w"] * 3
    levels = [(e["event"], e["log_level"]) for e in logs if e["event"].startswith("recording_")]
    assert levels == [("recording_not_confirmed", "warning")] * 3 + [
        ("recording_unconfirmed", "error")
    ]


async def test_a_confirmed_or_already_recording_start_is_never_sent_again() -> None:
    clock = FakeClock(start=datetime(2026, 3, 1, tzinfo=UTC))
    sent: list[str] = []
    confirmer = Confirmer(timedelta(seconds=20), clock, resend=lambda s, w: bool(sent.append(w)),
                          is_open=lambda w: True, is_offline=lambda k: False)  # fmt: skip
    runner = asyncio.create_task(confirmer.run())
    confirmer.on_settled(settled_start(clock.wall()))
    confirmer.on_status(KEY, "record_started", "w")
    await spin(clock, 30)
    # already recording (TaskAlreadyStarted after a record_started): nothing awaited
    confirmer.on_settled(settled_start(clock.wall(), Outcome.IDEMPOTENT_OK))
    await spin(clock, 30)
    # a pause while live and open is awaited like a start; offline, it is the watch's business
    confirmer.on_status(KEY, "record_paused", "w")
    confirmer.on_status(KEY, "record_resumed", "w")
    await spin(clock, 30)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert sent == []
