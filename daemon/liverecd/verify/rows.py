"""One window's verification (DESIGN §8) and how a store writes it: the row, and the codecs
both state stores share (instants as fixed-width UTC text, gaps and files as JSON), so the
embedded and the shared store hold the same values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from liverecd.api.record_index import IndexFile
from liverecd.streams import StreamKey
from liverecd.verify.coverage import Gap, Result

__all__ = ["Verification", "from_key", "from_row", "iso", "to_row", "utc_key"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """One window's verification, pending or done. Instants are aware UTC."""

    window_id: str
    stream: StreamKey
    start: datetime
    end: datetime
    result: Result = Result.PENDING
    coverage: float | None = None
    gaps: tuple[Gap, ...] = ()
    files: tuple[IndexFile, ...] = ()
    due: datetime  # when to check next
    first_due: datetime  # the first check: `unverified` comes 24 h after it
    attempts: int = 0
    error: str | None = field(default=None)


def iso(when: datetime) -> str:
    """ISO 8601 UTC with `Z`, as DESIGN §8 prints instants."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_key(instant: datetime) -> str:
    """Fixed-width UTC text, so SQL compares instants as strings correctly."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_key(text: str) -> datetime:
    """An instant from `utc_key`'s text (or any ISO 8601 form with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def to_row(v: Verification) -> tuple[object, ...]:
    """The column values of `v`, in the order of the stores' verification columns."""
    gaps = [{"from": iso(g.start), "to": iso(g.end), "cause": g.cause} for g in v.gaps]
    files = [{"uri": f.uri, "start": iso(f.start), "end": iso(f.end)} for f in v.files]
    return (
        v.window_id, v.stream.domain, v.stream.app, v.stream.stream, utc_key(v.start),
        utc_key(v.end), v.result.value, v.coverage, json.dumps(gaps), json.dumps(files),
        utc_key(v.due), utc_key(v.first_due), v.attempts, v.error,
    )  # fmt: skip


def from_row(r: tuple[object, ...]) -> Verification:
    """The row back from its column values (as `to_row` wrote them)."""
    wid, d, a, s, start, end, result, cov, gaps, files, due, first, attempts, error = r
    gap_list = json.loads(str(gaps))
    file_list = json.loads(str(files))
    return Verification(
        window_id=str(wid), stream=StreamKey(str(d), str(a), str(s)),
        start=from_key(str(start)), end=from_key(str(end)), result=Result(str(result)),
        coverage=None if cov is None else float(str(cov)),
        gaps=tuple(Gap(from_key(g["from"]), from_key(g["to"]), g["cause"]) for g in gap_list),
        files=tuple(
            IndexFile(uri=f["uri"], start=from_key(f["start"]), end=from_key(f["end"]),
                      duration=(from_key(f["end"]) - from_key(f["start"])).total_seconds())
            for f in file_list
        ),
        due=from_key(str(due)), first_due=from_key(str(first)), attempts=int(str(attempts)),
        error=None if error is None else str(error),
    )  # fmt: skip
