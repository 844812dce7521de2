"""`liverecd demo`: the bundled templates, the summary's judgement, and whole runs of the demo
(in-process once for the module, and as `python -m liverecd demo` in a subprocess)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

from liverecd.cli import main
from liverecd.config import Source
from liverecd.emulator import RecordingInterval, RequestRecord
from liverecd.errors import LiverecdError
from liverecd.ops import demo
from liverecd.ops.demo_files import (
    CONFIG_FILE,
    SCHEDULE_FILE,
    load_timeline,
    render,
    template,
    write_files,
)
from liverecd.ops.demo_report import TIMES, command_summary, stream_report
from liverecd.schedule.actions import Recording
from liverecd.streams import StreamKey

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
DURATION = 10  # the shortest demo: a third of the real one's timetable
STREAMS = ("news", "sports", "concert", "talk", "lecture")


def key(name: str) -> StreamKey:
    return StreamKey("play.example.com", "live", name)


# -- templates --------------------------------------------------------------------------------


def test_templates_ship_as_package_data() -> None:
    for name in (CONFIG_FILE, SCHEDULE_FILE):
        assert "{{ now + " in template(name) or "{{ endpoint }}" in template(name)


def test_rendered_files_are_a_valid_config_and_schedule(tmp_path: Path) -> None:
    config = write_files(tmp_path, t0=T0, scale=1.0, endpoint="http://127.0.0.1:9")
    text = (tmp_path / SCHEDULE_FILE).read_text()
    assert "{{" not in text
    assert "start: 2026-11-25T20:00:03+08:00" in text  # local time with its offset
    assert config.api.endpoint == "http://127.0.0.1:9"
    recs = load_timeline(config).recordings(T0, T0 + timedelta(seconds=30))
    assert {r.stream.stream for r in recs} == set(STREAMS)
    assert max(r.end for r in recs) < T0 + timedelta(seconds=30)


def test_render_scales_instants_and_durations() -> None:
    text = "timezone: Asia/Shanghai\nstart: {{ now + 3s }}\ncap: {{ 2s }}\n"
    assert render(text, t0=T0, scale=0.5) == (
        "timezone: Asia/Shanghai\nstart: 2026-11-25T20:00:01.500+08:00\ncap: 1s\n"
    )


def test_render_refuses_a_mark_it_does_not_know() -> None:
    with pytest.raises(LiverecdError, match="unknown mark"):
        render("endpoint: {{ url }}", t0=T0, scale=1.0)


def test_a_demo_shorter_than_the_minimum_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--duration", "3"])
    assert exc.value.code == 2
    assert "--duration" in capsys.readouterr().err


# -- the summary's judgement ------------------------------------------------------------------


def recording(name: str, a: float, b: float) -> Recording:
    start, end = T0 + timedelta(seconds=a), T0 + timedelta(seconds=b)
    return Recording(f"{name}@{a}", key(name), start, end, (Source("demo.yaml", 1),))


def stretch(name: str, a: float, b: float | None, file: int = 1) -> RecordingInterval:
    end = None if b is None else T0 + timedelta(seconds=b)
    return RecordingInterval(
        key(name), file, T0 + timedelta(seconds=a), a, "start", end, b, "stop" if b else None
    )


def request(name: str, command: str, code: str | None = None) -> RequestRecord:
    return RequestRecord(
        T0, 0.0, "POST", "RealTimeRecordCommand", command, key(name), "AK", "n", "v3", "id",
        409 if code else 200, code,
    )  # fmt: skip


def test_command_summary_counts_commands_and_their_error_codes() -> None:
    sent = [request("s", "start", "StreamNotFound")] * 3 + [
        request("s", "start"),
        request("s", "stop"),
        request("s", "cancel_delay"),
    ]
    assert command_summary(sent) == f"start{TIMES}4 [StreamNotFound{TIMES}3] stop cancel_delay"


def test_a_window_recorded_in_full_is_ok() -> None:
    report = stream_report(
        [recording("news", 3, 15)], [stretch("news", 3.05, 15.02)],
        [request("news", "start"), request("news", "stop")], now=T0 + timedelta(seconds=20),
    )  # fmt: skip
    assert report.ok, report.result
    assert report.coverage > 0.99


def test_a_window_recorded_in_part_fails() -> None:
    report = stream_report(
        [recording("news", 3, 15)], [stretch("news", 9, 15)], [], now=T0 + timedelta(seconds=20)
    )
    assert not report.ok
    assert "only 6.0s of 12.0s recorded" in report.result


def test_a_late_stream_is_judged_from_when_it_went_live() -> None:
    report = stream_report(
        [recording("sports", 4, 18)], [stretch("sports", 10.5, 18)], [],
        live_at=T0 + timedelta(seconds=10), now=T0 + timedelta(seconds=20),
    )  # fmt: skip
    assert report.ok, report.result


def test_a_recording_nobody_stopped_fails() -> None:
    report = stream_report(
        [recording("news", 3, 15)], [stretch("news", 3, None)], [], now=T0 + timedelta(seconds=20)
    )
    assert not report.ok
    assert "still recording" in report.result


def test_two_split_windows_recorded_into_one_file_fail() -> None:
    report = stream_report(
        [recording("talk", 6, 14), recording("talk", 14, 24)], [stretch("talk", 6, 24)], [],
        now=T0 + timedelta(seconds=25),
    )  # fmt: skip
    assert not report.ok
    assert "1 file, expected 2" in report.result


# -- a whole run, in-process ------------------------------------------------------------------


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """The demo configures structlog and the root logger for its process: undo it."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:], root.level = handlers, level


@pytest.fixture(scope="module")
def run() -> tuple[demo.DemoOutcome, str]:
    """One demo of DURATION seconds for the whole module: its outcome and what it printed."""
    out = io.StringIO()
    with logging_restored(), contextlib.redirect_stdout(out):
        outcome = asyncio.run(demo.run_demo(DURATION))
    return outcome, out.getvalue()


@pytest.mark.slow
def test_the_demo_prints_the_plan_the_log_and_a_summary_of_every_stream(
    run: tuple[demo.DemoOutcome, str],
) -> None:
    outcome, text = run
    plan, _, rest = text.partition("The daemon's log follows")
    log, _, summary = rest.partition("Summary (times in Asia/Shanghai):")
    assert all(name in plan for name in STREAMS)
    assert "command_attempt" in log
    assert "emulator_request" not in log  # the daemon's own lines tell the story
    rows = {line.split()[0]: line for line in summary.splitlines()[2:] if line[:1].isalpha()}
    assert set(STREAMS) <= set(rows)
    assert [r.key.stream for r in outcome.reports] == list(STREAMS)
    assert not re.search(r"\b[0-9a-f]{32}\b", text)  # the per-run secrets never show


@pytest.mark.slow
def test_the_plain_window_is_started_stopped_and_finalized(
    run: tuple[demo.DemoOutcome, str],
) -> None:
    outcome, _ = run
    news = next(r for r in outcome.reports if r.key.stream == "news")
    assert news.ok, news.result
    assert news.commands == "start stop cancel_delay"


@pytest.mark.slow
def test_the_late_stream_is_retried_until_it_is_live_then_recorded(
    run: tuple[demo.DemoOutcome, str],
) -> None:
    outcome, _ = run
    sports = next(r for r in outcome.reports if r.key.stream == "sports")
    assert sports.ok, sports.result
    starts = [r for r in outcome.requests if r.stream == key("sports") and r.command == "start"]
    assert [r.code for r in starts[:-1]] == ["StreamNotFound"] * (len(starts) - 1)
    assert len(starts) >= 2
    assert starts[-1].http_status == 200
    assert len(sports.intervals) == 1
    assert sports.intervals[0].start >= starts[-1].wall


@pytest.mark.slow
def test_a_recording_already_running_counts_as_started(
    run: tuple[demo.DemoOutcome, str],
) -> None:
    outcome, _ = run
    concert = next(r for r in outcome.reports if r.key.stream == "concert")
    assert concert.ok, concert.result
    assert concert.commands == "start [TaskAlreadyStarted] stop cancel_delay"
    assert concert.intervals[0].started_by == "start"  # by hand, before the daemon's window


@pytest.mark.slow
def test_split_windows_give_one_file_each_and_the_demo_exits_0(
    run: tuple[demo.DemoOutcome, str],
) -> None:
    outcome, text = run
    talk = next(r for r in outcome.reports if r.key.stream == "talk")
    assert talk.commands == "start restart stop cancel_delay"
    assert talk.ok, talk.result
    assert outcome.exit_code == 0
    verdict = "Every window was recorded as scheduled, from when its stream was live"
    assert f"{verdict} ({len(STREAMS)} streams)." in text


# -- the command, as a user runs it -----------------------------------------------------------


async def liverecd(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
async def test_the_readmes_demo_command_records_every_window_and_exits_0() -> None:
    proc = await liverecd("demo")  # exactly the README's first command, defaults and all
    async with asyncio.timeout(90):
        out, err = await proc.communicate()
    text = out.decode()
    assert "Summary (times in Asia/Shanghai):" in text, err.decode()
    verdict = next(
        line for line in text.splitlines() if line.startswith(("Every window", "Not recorded"))
    )
    assert proc.returncode == 0 and verdict.startswith("Every window"), verdict


@pytest.mark.slow
def test_the_silent_start_is_noticed_restarted_and_verified_by_the_daemon(
    run: tuple[demo.DemoOutcome, str],
) -> None:
    outcome, text = run
    lecture = next(r for r in outcome.reports if r.key.stream == "lecture")
    assert lecture.ok, lecture.result  # the emulator recorded it, after the second start
    assert lecture.commands.startswith(f"start{TIMES}2")
    assert "recording_not_confirmed" in text
    verified = text.partition("Verified by the daemon")[2]
    rows = {line.split()[2].rsplit("/", 1)[1]: line.split()[3]
            for line in verified.splitlines() if line[:2] == "20"}  # fmt: skip
    assert rows.get("lecture") in ("ok", "gap") and rows.get("news") == "ok"


@pytest.mark.slow
async def test_ctrl_c_ends_the_demo_early_with_a_summary() -> None:
    proc = await liverecd("demo", "--duration", "30")
    assert proc.stdout is not None
    seen = b""
    async with asyncio.timeout(30):
        while b"daemon_started" not in seen:
            line = await proc.stdout.readline()
            assert line, "the demo ended before the daemon started"
            seen += line
        proc.send_signal(signal.SIGINT)
        rest, _ = await proc.communicate()
    assert proc.returncode == 130
    assert b"Summary (times in Asia/Shanghai):" in rest
