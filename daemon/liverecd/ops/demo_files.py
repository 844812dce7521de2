"""The files of `liverecd demo`: bundled templates (package data `liverecd/demo/`) filled in
with times a few seconds from now, written to a folder, and read back as the daemon reads them.

Template marks: `{{ now + 3s }}` an instant (local time in the schedule's zone, with its
offset), `{{ 2s }}` a duration, `{{ endpoint }}` the emulator's URL, `{{ record_callback }}`
where the daemon hears recording callbacks (HOST:PORT, or off). Times are written for a demo of
`BASE_SECONDS` and scaled to the demo's length.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from liverecd.config import Config
from liverecd.durations import format_duration
from liverecd.errors import LiverecdError
from liverecd.schedule.config import load_config
from liverecd.schedule.loader import load_schedules
from liverecd.schedule.timeline import Timeline

BASE_SECONDS = 30.0  # the templates' times are written for this long a demo
CONFIG_FILE = "liverecd.yaml"
SCHEDULE_FILE = "schedules/demo.yaml"

_INSTANT = re.compile(r"\{\{\s*now\s*\+\s*(\d+(?:\.\d+)?)s\s*\}\}")
_DURATION = re.compile(r"\{\{\s*(\d+(?:\.\d+)?)s\s*\}\}")
_ENDPOINT = re.compile(r"\{\{\s*endpoint\s*\}\}")
_RECORD_CALLBACK = re.compile(r"\{\{\s*record_callback\s*\}\}")
_ZONE = re.compile(r"^timezone:\s*([\w/+-]+)", re.MULTILINE)


def template(name: str) -> str:
    """A bundled template (`CONFIG_FILE` or `SCHEDULE_FILE`), read from the installed package."""
    node = resources.files("liverecd") / "demo"
    for part in name.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def template_zone(text: str) -> ZoneInfo:
    """The zone a schedule's `timezone:` names (the format's default: UTC)."""
    found = _ZONE.search(text)
    return ZoneInfo(found.group(1) if found else "UTC")


def render(
    text: str, *, t0: datetime, scale: float, endpoint: str = "", record_callback: str = "off"
) -> str:
    """Fill in a template: each mark's seconds times `scale`, instants counted from `t0` and
    written in the file's zone. LiverecdError for a mark it does not know."""
    zone = template_zone(text)

    def instant(m: re.Match[str]) -> str:
        local = (t0 + timedelta(seconds=float(m.group(1)) * scale)).astimezone(zone)
        return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")

    def duration(m: re.Match[str]) -> str:
        return format_duration(timedelta(seconds=float(m.group(1)) * scale))

    text = _ENDPOINT.sub(endpoint, _DURATION.sub(duration, _INSTANT.sub(instant, text)))
    text = _RECORD_CALLBACK.sub(record_callback, text)
    if "{{" in text:
        at = text.index("{{")
        raise LiverecdError(f"demo template: unknown mark {text[at : at + 30]!r}")
    return text


def write_files(
    folder: Path, *, t0: datetime, scale: float, endpoint: str, record_callback: str = "off"
) -> Config:
    """Write the demo's config and schedule into `folder`; the config as the daemon reads it."""
    for name in (CONFIG_FILE, SCHEDULE_FILE):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render(template(name), t0=t0, scale=scale, endpoint=endpoint,
                      record_callback=record_callback)  # fmt: skip
        path.write_text(text)
    return load_config(folder / CONFIG_FILE)


def load_timeline(config: Config) -> Timeline:
    """The timeline of `config`'s schedules; LiverecdError if they are invalid."""
    result = load_schedules(config)
    if result.errors:
        raise LiverecdError("demo schedule is invalid: " + "; ".join(map(str, result.errors)))
    return Timeline(result.schedule)


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A fresh temporary folder, removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix="liverecd-demo-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
