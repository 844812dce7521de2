"""Log lines: one JSON object per line with timestamp (ISO 8601 UTC), level and event; secrets
redacted; exceptions as structured tracebacks without local variables."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Iterator

import pytest
import structlog

from liverecd.config import LogConfig
from liverecd.ops import logs

SECRET = "FakeSecretForTestVectorsOnly0123"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure(LogConfig(format="json", level="info"), stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_line_is_json_with_timestamp_level_and_event(stream: io.StringIO) -> None:
    structlog.get_logger("t").info("command_attempt", stream="d/a/s", attempt=1)
    structlog.get_logger("t").debug("not_shown")
    logging.getLogger("aiohttp.client").warning("from the standard library")
    first, second = lines(stream)
    assert list(first)[:3] == ["timestamp", "level", "event"]
    assert str(first["timestamp"]).endswith("Z") and "T" in str(first["timestamp"])
    assert (first["level"], first["event"], first["attempt"]) == ("info", "command_attempt", 1)
    assert (second["level"], second["event"]) == ("warning", "from the standard library")


def test_secrets_are_redacted_by_name_and_by_value(stream: io.StringIO) -> None:
    logs.register_secret(SECRET)
    structlog.get_logger("t").info("oops", access_key_secret="x", note=f"sig {SECRET} end")
    [line] = lines(stream)
    assert line["access_key_secret"] == "***" and line["note"] == "sig *** end"
    assert SECRET not in stream.getvalue()


def test_exceptions_are_structured_and_carry_no_local_variables(stream: io.StringIO) -> None:
    def sign(secret: str) -> None:
        raise ValueError("bad request")

    try:
        sign("a-local-that-must-not-leak")
    except ValueError:
        structlog.get_logger("t").exception("failed")
    [line] = lines(stream)
    assert line["level"] == "error"
    [exc] = line["exception"]  # type: ignore[misc]
    assert exc["exc_type"] == "ValueError" and exc["frames"]
    assert "a-local-that-must-not-leak" not in stream.getvalue()
    assert all("locals" not in frame for frame in exc["frames"])


def test_console_format_renders_for_people() -> None:
    out = io.StringIO()
    logs.configure(LogConfig(format="console"), stream=out)
    try:
        structlog.get_logger("t").info("reload", files_ok=2)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = out.getvalue()
    assert "reload" in text and "files_ok=2" in text and not text.startswith("{")


def test_a_full_queue_drops_lines_counts_them_and_says_so_once_the_reader_is_back() -> None:
    read, write = os.pipe()
    os.set_blocking(write, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write, b"x" * 65536)
    os.set_blocking(write, True)
    try:
        sink = logs._QueuedSink(write, capacity=5)
        started = time.monotonic()
        for i in range(50):
            sink.write(f"line {i}\n")
        assert time.monotonic() - started < 1.0  # never waited for the reader
        assert 40 <= sink.dropped <= 45  # 5 queued, one maybe taken by the writer thread
        got = b""
        while b"log_lines_dropped" not in got:  # the reader comes back
            got += os.read(read, 1 << 20)
        tail = got.decode().rsplit("x", 1)[-1].splitlines()
        assert tail[0] == "line 0"
        assert json.loads(tail[-1])["dropped"] == sink.dropped
    finally:
        os.close(read)
        os.close(write)
