"""The digest of a timetable: what the schedules mean, not where they are written, so that the
members of a cluster can tell whether they run the same one; and what a standby, which loads its
schedules itself, says of them in /healthz."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from typing import Any

from liverecd.schedule.loader import LoadResult
from liverecd.schedule.model import Schedule


def timetable_digest(schedule: Schedule) -> str:
    """sha256 of what the schedule means (file positions left out): two members with the same
    digest run the same timetable."""
    text = json.dumps(_plain(schedule.streams()), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def standby_view(checked: LoadResult | None) -> dict[str, object]:
    """The /healthz keys of a standby's own load of its schedules (no daemon loads them while
    it is standby): files and problems as an active's, so a broken file is unhealthy on every
    member. Empty before the first load."""
    if checked is None:
        return {}
    errors = [str(p) for p in checked.errors]
    files = {"loaded": len(checked.files), "failed": list(checked.failed), "problems": errors}
    return {"config_loaded": True, "files": files, "problems": [f"schedule: {e}" for e in errors]}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)
                if f.name not in ("source", "sources")}  # fmt: skip
    if isinstance(value, frozenset | set):
        return sorted(repr(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return repr(value)
