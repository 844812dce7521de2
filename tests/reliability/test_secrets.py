"""The secret scan itself (issue 7, item 6): every test in this folder ends with it (the `leaks`
fixture of conftest.py), so it must find a secret wherever and however it shows up: in a log
event's field, in a traceback, in a page, raw or URL-encoded."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
import structlog

from .conftest import LeakScan
from .rig import SECRET, TOKEN


@pytest.mark.parametrize(
    "text",
    [SECRET, TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN), f"x-acs-security-token: {TOKEN}"],
    ids=["secret", "token", "token-url-encoded", "token-form-encoded", "token-in-a-header"],
)
def test_the_scan_finds_a_secret_in_a_page_or_an_event(text: str) -> None:
    page = LeakScan([], (SECRET, TOKEN))
    page.add("/metrics", f"liverecd_build_info 1\n# {text}\n")
    assert page.findings() == ["/metrics"]
    event = LeakScan([{"event": "command_attempt", "detail": {"nested": [text]}}], (SECRET, TOKEN))
    assert event.findings() == ["log event 'command_attempt'"]


def test_the_scan_sees_tracebacks_of_logged_exceptions(leaks: LeakScan) -> None:
    try:
        raise ValueError(f"signing failed for {SECRET}")
    except ValueError:
        structlog.get_logger(__name__).exception("boom")
    assert leaks.findings() == ["log event 'boom'"]
    leaks.events.clear()  # planted on purpose: the teardown scan must not fail this test


def test_a_clean_scan_finds_nothing() -> None:
    scan = LeakScan([{"event": "reload", "files_failed": 0}], (SECRET, TOKEN))
    scan.add("/healthz", '{"healthy": true}')
    assert scan.findings() == []
