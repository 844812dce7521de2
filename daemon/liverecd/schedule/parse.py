"""One schedule file (DESIGN.md §4) into a validated `ScheduleFile`, reporting every problem.

Settings cascade file -> stream -> window: `domain`, `app`, `finalize`, `delay`,
`ingest_domain`, `split`, `enabled` are per stream (a file-level value is the default of its
streams); `pad_before`/`pad_after` also per window; `except:` dates add up (file, stream,
window) and apply to recurring windows only: `Stream.excepts` holds the file's and the
stream's, `CronWindow.excepts` the window's own.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from liverecd.config import Source
from liverecd.errors import ConfigError
from liverecd.schedule.fields import Reader, display_path, join
from liverecd.schedule.model import DateRange, Finalize, ScheduleFile, Stream, StreamKey, Window
from liverecd.schedule.times import read_excepts, read_timezone
from liverecd.schedule.windows import MAX_PAD, WINDOW_KEYS, read_window
from liverecd.schedule.yamlload import YMap, YNode, gc_paused, load_yaml

UTC_ZONE = ZoneInfo("UTC")
# `*` and `?` are wildcards, which RealTimeRecordCommand does not accept (DESIGN.md §13).
_NOT_IN_NAMES = re.compile(r"[/*?\s\x00-\x1f\x7f-\x9f]")
_SETTING_KEYS = frozenset(
    (
        "domain",
        "app",
        "finalize",
        "delay",
        "ingest_domain",
        "pad_before",
        "pad_after",
        "split",
        "enabled",
        "except",
        "account",
    )
)
FILE_KEYS = frozenset(("timezone", *_SETTING_KEYS, "streams"))
STREAM_KEYS = frozenset(("name", *_SETTING_KEYS, "windows"))

__all__ = ["FILE_KEYS", "STREAM_KEYS", "WINDOW_KEYS", "load_schedule_file"]


@dataclass(frozen=True, slots=True)
class _Settings:
    """Per-stream settings as they cascade from the file to a stream."""

    domain: str | None = None
    app: str | None = None
    finalize: Finalize = Finalize.IMMEDIATE
    delay: timedelta = timedelta(seconds=180)
    ingest_domain: str | None = None
    pad_before: timedelta = timedelta(0)
    pad_after: timedelta = timedelta(0)
    split: bool = False
    enabled: bool = True
    excepts: tuple[DateRange, ...] = ()
    account: str = "default"
    account_source: Source | None = None


def load_schedule_file(path: Path, *, display: str | None = None) -> ScheduleFile:
    """Read and validate one schedule file; raise ConfigError listing every problem in it.

    `display` is the path as messages show it (default: relative to the working folder).
    Warnings (DST gaps, empty window lists) come back in `ScheduleFile.warnings`.
    """
    display = display_path(path.absolute()) if display is None else display
    with gc_paused():
        return _load(path, display)


def _load(path: Path, display: str) -> ScheduleFile:
    doc = load_yaml(path, display)
    reader = Reader(display)
    reader.extend(doc.problems)
    root = reader.mapping(doc.root, "", FILE_KEYS)
    if root is None:
        raise ConfigError(reader.problems)
    zone = UTC_ZONE
    if "timezone" in root.entries:
        zone = read_timezone(reader, root.entries["timezone"], "timezone") or UTC_ZONE
    defaults = _read_settings(reader, root, "", _Settings())
    streams: tuple[Stream, ...] = ()
    node = reader.required(root, "streams", "")
    if node is not None:
        streams = _read_streams(reader, node, zone, defaults)
    problems = sorted(reader.problems, key=lambda p: (p.line or 0, p.col or 0))
    if reader.failed:
        raise ConfigError(problems)
    return ScheduleFile(
        path=display, timezone=zone, streams=streams, warnings=tuple(problems), digest=doc.digest
    )


def _read_settings(reader: Reader, node: YMap, path: str, base: _Settings) -> _Settings:
    changes: dict[str, Any] = {}
    for key, value in node.entries.items():
        if key not in _SETTING_KEYS:
            continue
        read = _SETTING_READERS[key]
        result = read(reader, value, join(path, key))
        if result is not None:
            changes["excepts" if key == "except" else key] = result
            if key == "account":
                changes["account_source"] = Source(reader.file, value.line, value.col)
    if not changes:
        return base  # most streams override nothing
    if "excepts" in changes:
        changes["excepts"] = base.excepts + changes["excepts"]
    return dataclasses.replace(base, **changes)


def _read_streams(
    reader: Reader, node: YNode, zone: ZoneInfo, defaults: _Settings
) -> tuple[Stream, ...]:
    items = reader.sequence(node, "streams")
    if items is None:
        return ()
    streams: list[Stream] = []
    seen: dict[StreamKey, Source] = {}
    for i, item in enumerate(items):
        stream = _read_stream(reader, item, f"streams[{i}]", zone, defaults)
        if stream is None:
            continue
        first = seen.setdefault(stream.key, stream.source)
        if first is not stream.source:
            reader.report(
                item,
                f"streams[{i}]",
                f"stream {stream.key} is already listed at line {first.line} "
                "(give it one entry with all its windows)",
            )
            continue
        streams.append(stream)
    return tuple(streams)


def _read_stream(
    reader: Reader, node: YNode, path: str, zone: ZoneInfo, defaults: _Settings
) -> Stream | None:
    mapping = reader.mapping(node, path, STREAM_KEYS)
    if mapping is None:
        return None
    name_node = reader.required(mapping, "name", path)
    name = None if name_node is None else _name(reader, name_node, f"{path}.name")
    settings = _read_settings(reader, mapping, path, defaults)
    windows = _read_windows(reader, mapping, path, zone, settings)
    for key in ("domain", "app"):
        if getattr(settings, key) is None:
            reader.report(
                mapping,
                path,
                f"stream {name or ''!r} has no {key}: set {key} at the top of the file "
                "or in the stream",
            )
    if name is None or settings.domain is None or settings.app is None or windows is None:
        return None
    return Stream(
        key=StreamKey(settings.domain, settings.app, name),
        source=Source(reader.file, mapping.line, mapping.col),
        timezone=zone,
        windows=windows,
        finalize=settings.finalize,
        delay=settings.delay,
        ingest_domain=settings.ingest_domain,
        pad_before=settings.pad_before,
        pad_after=settings.pad_after,
        split=settings.split,
        enabled=settings.enabled,
        excepts=settings.excepts,
        account=settings.account,
        account_source=settings.account_source,
    )


def _read_windows(
    reader: Reader, mapping: YMap, path: str, zone: ZoneInfo, settings: _Settings
) -> tuple[Window, ...] | None:
    node = reader.required(mapping, "windows", path)
    if node is None:
        return None
    items = reader.sequence(node, f"{path}.windows")
    if items is None:
        return None
    if not items:
        reader.report(node, f"{path}.windows", "no windows: this stream never records", "warning")
    windows = []
    ok = True
    for i, item in enumerate(items):
        window = read_window(reader, item, f"{path}.windows[{i}]", zone, settings.excepts)
        ok = ok and window is not None
        if window is not None:
            windows.append(window)
    return tuple(windows) if ok else None


def _name(reader: Reader, node: YNode, path: str) -> str | None:
    """A stream, domain or app name: non-empty; no `/`, wildcards, spaces or control characters."""
    text = reader.string(node, path)
    if text is None:
        return None
    if _NOT_IN_NAMES.search(text):
        reader.report(
            node,
            path,
            f"{text!r} must not contain '/', '*' or '?' (the API takes no wildcards), "
            "spaces or control characters",
        )
        return None
    return text


def _finalize(reader: Reader, node: YNode, path: str) -> Finalize | None:
    value = reader.choice(node, path, [f.value for f in Finalize])
    return None if value is None else Finalize(value)


def _pad(reader: Reader, node: YNode, path: str) -> timedelta | None:
    return reader.duration(node, path, maximum=MAX_PAD)


_SETTING_READERS: dict[str, Any] = {
    "domain": _name,
    "app": _name,
    "finalize": _finalize,
    # DelayTime's documented range in the stream's recording configuration.
    "delay": lambda r, n, p: r.duration(
        n, p, minimum=timedelta(seconds=15), maximum=timedelta(hours=6)
    ),
    "ingest_domain": _name,
    "pad_before": _pad,
    "pad_after": _pad,
    "split": Reader.boolean,
    "enabled": Reader.boolean,
    "account": _name,
    "except": read_excepts,
}
