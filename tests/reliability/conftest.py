"""Every reliability test runs under a secret scan (issue 7, item 6).

The `leaks` fixture (autouse) captures every structlog event of the test, un-redacted (the
daemon in-process does not register its secrets with the log redactor, so a call site that
logged one would show here), with tracebacks rendered; the standard library's log records; and
whatever the test hands it with `leaks.add()` (a subprocess's stdout and stderr, /metrics and
/healthz bodies). At teardown nothing may contain the AccessKey secret or the STS token, raw or
URL-encoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
import structlog
from structlog.testing import capture_logs
from structlog.typing import EventDict

from .rig import SECRET, TOKEN


def forms(secret: str) -> set[str]:
    """The ways a secret could show up in text: raw, URL-encoded (query and form style)."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


class LeakScan:
    """Text produced during one test, and the secrets it must not contain."""

    def __init__(self, events: list[EventDict], secrets: tuple[str, ...]) -> None:
        self.events = events
        self.secrets = secrets
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str | bytes) -> None:
        """Scan `text` (named `where` in the failure message) at teardown."""
        self.texts.append(
            (where, text.decode(errors="replace") if isinstance(text, bytes) else text)
        )

    def scanned(self) -> int:
        """How many texts and log events are scanned."""
        return len(self.texts) + len(self.events)

    def findings(self) -> list[str]:
        """Where a secret was found (empty: nowhere)."""
        needles = set().union(*(forms(s) for s in self.secrets))
        found = [w for w, text in self.texts if any(n in text for n in needles)]
        for event in self.events:
            if any(n in repr(event) for n in needles):
                found.append(f"log event {event.get('event')!r}")
        return found


@pytest.fixture(autouse=True)
def leaks(caplog: pytest.LogCaptureFixture) -> Iterator[LeakScan]:
    """A LeakScan over the whole test; fails the test at teardown if a secret leaked."""
    with capture_logs(processors=[structlog.processors.format_exc_info]) as events:
        scan = LeakScan(events, (SECRET, TOKEN))
        yield scan
    scan.add("standard library logging", caplog.text)
    found = scan.findings()
    assert not found, f"secret found in: {found}"
