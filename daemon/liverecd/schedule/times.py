"""Dates and instants in schedule files: ISO 8601 read by us, not by YAML 1.1's timestamp rule.

An instant without an offset is local time in the file's zone, turned into UTC by the DST rule
of DESIGN.md §5 (a gap moves forward, an ambiguous time takes its first occurrence), with a
warning when either applies. `except:` items are local dates: `2026-12-25`, a range
`2026-12-24..2026-12-26`, or a mapping `{from: 2026-12-24, to: 2026-12-26}` (both inclusive).
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, available_timezones

from liverecd.config import Source
from liverecd.schedule.fields import Reader, join, kind_of
from liverecd.schedule.model import DateRange
from liverecd.schedule.yamlload import YMap, YNode, YScalar, YSeq
from liverecd.schedule.zones import LocalTimeKind, classify_local, resolve_local

_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXAMPLE = "2026-11-25T20:00:00 or 2026-11-25T20:00:00+08:00"


MIN_YEAR = 1970
MAX_YEAR = 2199


def read_instant(reader: Reader, node: YNode, path: str, tz: ZoneInfo) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text; without an offset it is local time in `tz`."""
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        reader.report(
            node, path, f"expected a date and time such as {_EXAMPLE}, got {kind_of(node)}"
        )
        return None
    text = node.value.strip()
    if _BARE_DATE.fullmatch(text):
        reader.report(node, path, f"{text!r} is a date without a time; write e.g. {text}T20:00:00")
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        reader.report(node, path, f"{text!r} is not an ISO 8601 date and time such as {_EXAMPLE}")
        return None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        # Far instants overflow datetime once padded or moved to UTC; no recording is that far.
        reader.report(node, path, f"{text!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
        return None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    local = parsed.replace(tzinfo=tz, fold=0)  # resolve_local's rule, inlined: hot at scale
    if local.utcoffset() != parsed.replace(tzinfo=tz, fold=1).utcoffset():
        _warn_dst(reader, node, path, parsed, tz)  # the only case that can be a gap or overlap
    return local.astimezone(UTC)


def _warn_dst(reader: Reader, node: YNode, path: str, naive: datetime, tz: ZoneInfo) -> None:
    kind = classify_local(naive, tz)
    if kind is LocalTimeKind.NORMAL:
        return
    shown = naive.isoformat(timespec="minutes")
    if kind is LocalTimeKind.GAP:
        moved = resolve_local(naive, tz).astimezone(tz).isoformat(timespec="minutes")
        message = (
            f"{shown} does not exist in {tz.key} (clocks spring forward); it is taken as {moved}"
        )
    else:
        first = naive.replace(tzinfo=tz, fold=0).isoformat(timespec="minutes")
        message = (
            f"{shown} happens twice in {tz.key} (clocks fall back); the first, {first}, is used"
        )
    reader.report(node, path, message, severity="warning")


def read_excepts(reader: Reader, node: YNode, path: str) -> tuple[DateRange, ...] | None:
    """The `except:` list of dates and ranges (a single item may stand alone)."""
    if not isinstance(node, YSeq):
        found = _except_item(reader, node, path)
        return None if found is None else (found,)
    ranges = [_except_item(reader, item, join(path, i)) for i, item in enumerate(node.items)]
    return tuple(r for r in ranges if r is not None)


def _except_item(reader: Reader, node: YNode, path: str) -> DateRange | None:
    source = Source(reader.file, node.line, node.col)
    if isinstance(node, YMap):
        mapping = reader.mapping(node, path, ("from", "to"))
        if mapping is None:
            return None
        ends = []
        for key in ("from", "to"):
            value = reader.required(mapping, key, path)
            ends.append(None if value is None else _date(reader, value, join(path, key)))
        first, last = ends
    elif isinstance(node, YScalar) and isinstance(node.value, str) and ".." in node.value:
        low, _, high = node.value.partition("..")
        first, last = _date(reader, node, path, low), _date(reader, node, path, high)
    else:
        first = last = _date(reader, node, path)
    if first is None or last is None:
        return None
    if last < first:
        reader.report(node, path, f"date range ends ({last}) before it begins ({first})")
        return None
    return DateRange(first, last, source)


def _date(reader: Reader, node: YNode, path: str, text: str | None = None) -> date | None:
    if text is None:
        if not isinstance(node, YScalar) or not isinstance(node.value, str):
            reader.report(node, path, f"expected a date such as 2026-12-25, got {kind_of(node)}")
            return None
        text = node.value
    text = text.strip()
    if not _BARE_DATE.fullmatch(text):
        reader.report(
            node,
            path,
            f"expected a date such as 2026-12-25 or a range 2026-12-24..2026-12-26, got {text!r}",
        )
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        reader.report(node, path, f"{text!r} is not a valid date ({exc})")
        return None


def read_timezone(reader: Reader, node: YNode, path: str) -> ZoneInfo | None:
    """An IANA zone name such as Asia/Shanghai, with a suggestion when it is misspelt."""
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        reader.report(
            node, path, f"expected an IANA zone such as Asia/Shanghai, got {kind_of(node)}"
        )
        return None
    name = node.value.strip()
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found, not a key, a folder, not TZif
        pass
    close = _zone_suggestion(name)
    hint = f"; did you mean {close!r}?" if close else " (IANA names look like Europe/London)"
    reader.report(node, path, f"unknown time zone {name!r}{hint}")
    return None


def _zone_suggestion(name: str) -> str | None:
    zones = available_timezones()
    by_lower = {z.lower(): z for z in zones}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name, sorted(zones), n=1, cutoff=0.7)
    return close[0] if close else None
