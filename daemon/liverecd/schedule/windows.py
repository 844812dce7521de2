"""One entry of a stream's `windows:` list: a one-off window or a recurring (cron) window.

One-off: `start` + `end` (ISO 8601; without an offset, local time in the file's zone).
Recurring: `cron` (5-field crontab, in the file's zone) + `duration` (elapsed time).
Either kind may carry `pad_before` / `pad_after`; a recurring window may also carry `except:`.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.schedule.cron import parse_cron
from liverecd.schedule.fields import Reader, kind_of
from liverecd.schedule.model import CronSpec, CronWindow, DateRange, OneOffWindow, Window
from liverecd.schedule.times import read_excepts, read_instant
from liverecd.schedule.yamlload import YMap, YNode, YScalar

WINDOW_KEYS = frozenset(("start", "end", "cron", "duration", "pad_before", "pad_after", "except"))
MAX_PAD = timedelta(hours=24)
# Bounds how far back the timeline must look for a window still open; a week covers any
# sensible recurring recording (longer ones are one-off windows).
MAX_DURATION = timedelta(days=7)


def read_window(
    reader: Reader, node: YNode, path: str, zone: ZoneInfo, excepts: tuple[DateRange, ...]
) -> Window | None:
    """A validated window, or None after recording its problems.

    `excepts` are the stream's except dates (file and stream level), used here only to warn
    about a one-off window on such a date; a `CronWindow.excepts` holds the window's own dates
    (the timeline applies `Stream.excepts + CronWindow.excepts`).
    """
    errors_before = reader.error_count
    mapping = reader.mapping(node, path, WINDOW_KEYS)
    if mapping is None:
        return None
    keys = mapping.entries
    one_off = "start" in keys or "end" in keys
    recurring = "cron" in keys or "duration" in keys
    if one_off == recurring:
        what = "not both" if one_off else "got neither"
        reader.report(
            mapping,
            path,
            "a window has start and end (one-off) or cron and duration (recurring), " + what,
        )
        return None
    pads = (_pad(reader, keys, path, "pad_before"), _pad(reader, keys, path, "pad_after"))
    if one_off:
        window: Window | None = _one_off(reader, mapping, path, zone, excepts, pads)
    else:
        window = _recurring(reader, mapping, path, pads)
    return window if reader.error_count == errors_before else None


def _pad(reader: Reader, keys: dict[str, YNode], path: str, key: str) -> timedelta | None:
    node = keys.get(key)
    return None if node is None else reader.duration(node, f"{path}.{key}", maximum=MAX_PAD)


def _one_off(
    reader: Reader,
    mapping: YMap,
    path: str,
    zone: ZoneInfo,
    excepts: tuple[DateRange, ...],
    pads: tuple[timedelta | None, timedelta | None],
) -> OneOffWindow | None:
    if "except" in mapping.entries:
        reader.report(
            mapping.key("except"),
            f"{path}.except",
            "except applies to recurring (cron) windows only; to skip a one-off window, delete it",
        )
    start_node = reader.required(mapping, "start", path)
    end_node = reader.required(mapping, "end", path)
    start = end = None
    if start_node is not None:
        start = read_instant(reader, start_node, f"{path}.start", zone)
    if end_node is not None:
        end = read_instant(reader, end_node, f"{path}.end", zone)
    if start is None or end is None or start_node is None or end_node is None:
        return None
    if end <= start:
        reader.report(
            end_node,
            f"{path}.end",
            f"end ({_text(end_node)}) must be after start ({_text(start_node)})",
        )
        return None
    if any(start.astimezone(zone).date() in r for r in excepts):
        reader.report(
            mapping,
            path,
            "this one-off window falls on an except date; except applies to recurring windows "
            "only, so it still records",
            "warning",
        )
    return OneOffWindow(
        start=start,
        end=end,
        source=Source(reader.file, mapping.line, mapping.col),
        pad_before=pads[0],
        pad_after=pads[1],
    )


def _recurring(
    reader: Reader, mapping: YMap, path: str, pads: tuple[timedelta | None, timedelta | None]
) -> CronWindow | None:
    cron_node = reader.required(mapping, "cron", path)
    duration_node = reader.required(mapping, "duration", path)
    cron = None if cron_node is None else _cron(reader, cron_node, f"{path}.cron")
    duration = None
    if duration_node is not None:
        duration = reader.duration(
            duration_node, f"{path}.duration", positive=True, maximum=MAX_DURATION
        )
    own: tuple[DateRange, ...] | None = ()
    if "except" in mapping.entries:
        own = read_excepts(reader, mapping.entries["except"], f"{path}.except")
    if cron is None or duration is None or own is None:
        return None
    return CronWindow(
        cron=cron,
        duration=duration,
        source=Source(reader.file, mapping.line, mapping.col),
        pad_before=pads[0],
        pad_after=pads[1],
        excepts=own,
    )


def _cron(reader: Reader, node: YNode, path: str) -> CronSpec | None:
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        reader.report(
            node,
            path,
            f'expected a cron expression such as "0 19 * * mon-fri", got {kind_of(node)}',
        )
        return None
    try:
        return parse_cron(node.value)
    except ValueError as exc:
        reader.report(node, path, f"invalid cron {node.value.strip()!r}: {exc}")
        return None


def _text(node: YNode) -> str:
    return node.text if isinstance(node, YScalar) else kind_of(node)
