"""The status snapshot /healthz shows: plain JSON-able data, rebuilt after changes (coalesced)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from liverecd.engine.core import Engine
from liverecd.schedule.loader import LoadResult
from liverecd.streams import Command


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _next_action(engine: Engine, now: datetime) -> dict[str, str] | None:
    best: tuple[datetime, str, str, str] | None = None
    for rec in engine.timeline.values():
        if rec.start > now:
            cand = (rec.start, rec.opens_with.value, str(rec.stream), rec.window_id)
        elif rec.closes:
            cand = (rec.end, Command.STOP.value, str(rec.stream), rec.window_id)
        else:
            continue
        if best is None or cand < best:
            best = cand
    if best is None:
        return None
    return {"time": _iso(best[0]), "command": best[1], "stream": best[2], "window": best[3]}


def build_snapshot(
    engine: Engine,
    loaded: LoadResult | None,
    now: datetime,
    last_reload: tuple[datetime, bool] | None,
) -> dict[str, Any]:
    """Files loaded, windows, recordings running, next action, last error, last reload."""
    rows = engine.book.rows()
    failed = list(loaded.failed) if loaded is not None else []
    return {
        "config_loaded": loaded is not None,
        "files": {"loaded": len(loaded.files) if loaded else 0, "failed": failed},
        "windows": {
            "total": len(engine.timeline),
            "open_now": sum(1 for r in engine.timeline.values() if r.is_open(now)),
            "recording": sum(1 for r in rows if r.phase.running),
        },
        "next_action": _next_action(engine, now),
        "queue": len(engine.dispatcher),
        "last_error": engine.last_error,
        "state_error": engine.book.last_error,
        "last_reload": (
            {"time": _iso(last_reload[0]), "ok": last_reload[1]} if last_reload else None
        ),
        "clock_jumps": engine.clock_jumps,
        "time": _iso(now),
    }
