"""The one registry of secret values, used by every output: log lines, `/healthz`, `/metrics`,
the CLI (issue 12, case 10).

Whatever holds a secret registers it as soon as it has it (the AccessKey secret and STS token
when credentials load, the notify auth key when the ingest endpoint is built); every output then
passes through `scrub`, which replaces each registered value, raw or URL-encoded (once or twice:
a V1 string-to-sign carries the STS token encoded twice), by `***`. Values shorter than
`MIN_SECRET` are not registered: they would blank common words.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "***"
MIN_SECRET = 6
_lock = threading.Lock()  # the status thread scrubs while the loop may register
_forms: tuple[str, ...] = ()


def register(value: str | None) -> None:
    """Redact `value` (and its encoded forms) in every output from now on."""
    global _forms  # one registry per process, replaced whole so readers never lock
    if not value or len(value) < MIN_SECRET:
        return
    once = quote(value, safe="~")
    new = {value, once, quote(once, safe="~"), quote(value, safe=""), quote_plus(value)}
    with _lock:
        # Longest first: a raw value must not be replaced inside its own encoded form first.
        _forms = tuple(sorted(set(_forms) | new, key=len, reverse=True))


def forget(values: set[str]) -> None:
    """Stop redacting `values` (credentials rotated out long ago): scrubbing stays cheap."""
    global _forms
    drop: set[str] = set()
    for value in values:
        once = quote(value, safe="~")
        drop |= {value, once, quote(once, safe="~"), quote(value, safe=""), quote_plus(value)}
    with _lock:
        _forms = tuple(f for f in _forms if f not in drop)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    for form in _forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def scrub_tree(value: Any) -> Any:
    """`scrub` applied to every string in nested dicts, lists and tuples (keys included)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_tree(k): scrub_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_tree(v) for v in value]
    return value
