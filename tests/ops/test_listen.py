"""ops/listen.py in isolation: the descriptor budget and the accept-error line rate."""

from __future__ import annotations

import asyncio
import resource

import pytest
from structlog.testing import capture_logs

from liverecd.ops import listen


def test_the_budget_reserves_the_api_clients_descriptors(monkeypatch: pytest.MonkeyPatch) -> None:
    for soft, expected in ((256, 28), (1024, 412), (65536, listen.MAX_CONNECTIONS), (100, 8)):
        monkeypatch.setattr(resource, "getrlimit", lambda _, s=soft: (s, s))
        assert listen.connection_limit() == expected


async def test_accept_failures_are_one_line_per_interval_counting_the_rest() -> None:
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    try:
        listen._quiet_accept_errors(loop, listen.RateLimitedLog(every=60.0))
        with capture_logs() as events:
            trouble = {
                "message": "socket.accept() out of system resource",
                "exception": OSError(24, "Too many open files"),
            }
            for _ in range(1000):
                loop.call_exception_handler(trouble)
        assert [e["event"] for e in events] == ["accept_failed"]
        assert events[0]["log_level"] == "warning" and "Too many" in events[0]["reason"]
    finally:
        loop.set_exception_handler(before)
