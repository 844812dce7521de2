"""Durations as people write them in YAML: `90s`, `15m`, `1h30m`, `2h`, `500ms` or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s|d)")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object) -> timedelta:
    """Parse `value` into a timedelta; raise ValueError with a readable reason.

    Accepts an int or float (seconds) or a string of unit parts in descending order.
    Booleans are refused: YAML 1.1 turns `on`/`off` into them and they are never a duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 90s, 15m or 1h30m, got {value!r}")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite duration, got {value!r}")
        return _seconds(float(value), value)
    if not isinstance(value, str):
        kind = type(value).__name__
        raise ValueError(f"expected a duration such as 90s, 15m or 1h30m, got {kind}")
    text = value.strip().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return _seconds(float(text), value)
    pos = 0
    total = 0.0
    seen: list[str] = []
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        unit = m.group(2)
        if unit in seen or (seen and _UNIT_SECONDS[unit] >= _UNIT_SECONDS[seen[-1]]):
            raise ValueError(f"units out of order in duration {value!r} (write e.g. 1h30m)")
        seen.append(unit)
        total += float(m.group(1)) * _UNIT_SECONDS[unit]
        pos = m.end()
    if pos != len(text) or not seen:
        raise ValueError(f"expected a duration such as 90s, 15m or 1h30m, got {value!r}")
    return _seconds(total, value)


def _seconds(seconds: float, written: object) -> timedelta:
    # timedelta overflows past ~2.7 million years; a ValueError keeps it a located config error.
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {written!r} is too large") from None


def format_duration(delta: timedelta) -> str:
    """Render a timedelta compactly, e.g. `1h30m`, `45s`, `250ms`."""
    total_ms = round(delta.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    secs, ms = divmod(total_ms, 1000)
    hours, rem = divmod(secs, 3600)
    minutes, seconds = divmod(rem, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if seconds:
        out += f"{seconds}s"
    if ms:
        out += f"{ms}ms"
    return sign + out
