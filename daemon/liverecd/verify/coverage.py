"""What a window's files cover, and why the rest is missing (DESIGN §8). Pure.

Files may overlap, come out of order or be empty: coverage counts each recorded second of the
window once. An uncovered stretch is `absent` where the stream was not ingesting (offline
evidence) and `missed` elsewhere. The watch notices a drop only at its next poll and a return
is re-armed a moment later, so a missed stretch between an absent one and a recorded one, no
longer than `slack`, is absent too (one that reaches the window's edge is not such a lag).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

Span = tuple[datetime, datetime]


class Result(StrEnum):
    """A window's verification result."""

    OK = "ok"
    ABSENT = "absent"
    GAP = "gap"
    UNVERIFIED = "unverified"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Gap:
    """An uncovered stretch of a window and its cause (`absent` or `missed`)."""

    start: datetime
    end: datetime
    cause: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """`coverage` in 0..1, the gaps in order, and the result they add up to."""

    result: Result
    coverage: float
    gaps: tuple[Gap, ...]


def union(spans: Iterable[Span], lo: datetime, hi: datetime) -> list[Span]:
    """The spans clipped to [lo, hi], merged, in order; empty ones dropped."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in spans if min(b, hi) > max(a, lo))
    out: list[Span] = []
    for a, b in clipped:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def complement(spans: Sequence[Span], lo: datetime, hi: datetime) -> list[Span]:
    """[lo, hi] minus merged, ordered `spans`."""
    out, at = [], lo
    for a, b in spans:
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < hi:
        out.append((at, hi))
    return out


def _split(hole: Span, offline: Sequence[Span]) -> list[Gap]:
    absent = union(offline, *hole)
    pieces = [Gap(a, b, "absent") for a, b in absent]
    pieces += [Gap(a, b, "missed") for a, b in complement(absent, *hole)]
    return sorted(pieces, key=lambda g: g.start)


def _absorb(gaps: list[Gap], slack: timedelta, edges: tuple[datetime, datetime]) -> list[Gap]:
    """Short missed pieces between absent ones and recorded time become absent; neighbours of
    a cause merge."""
    out: list[Gap] = []
    for i, g in enumerate(gaps):
        neighbours = gaps[max(0, i - 1) : i] + gaps[i + 1 : i + 2]
        near = any(n.cause == "absent" and g.start <= n.end and n.start <= g.end
                   for n in neighbours)  # fmt: skip
        lag = near and g.end - g.start <= slack and g.start not in edges and g.end not in edges
        cause = "absent" if g.cause == "missed" and lag else g.cause
        if out and out[-1].cause == cause and out[-1].end == g.start:
            out[-1] = Gap(out[-1].start, g.end, cause)
        else:
            out.append(Gap(g.start, g.end, cause))
    return out


def judge(
    start: datetime,
    end: datetime,
    files: Iterable[Span],
    offline: Iterable[Span] = (),
    *,
    min_coverage: float = 0.98,
    slack: timedelta = timedelta(seconds=15),
    min_gap: timedelta = timedelta(seconds=1),
) -> Verdict:
    """The verdict on window [start, end) given the recorded `files` and `offline` evidence.
    Gaps shorter than `min_gap` (the index's resolution is one second) are not listed, unless
    only such gaps keep the window below `min_coverage`."""
    total = (end - start).total_seconds()
    covered = union(files, start, end)
    seconds = sum((b - a).total_seconds() for a, b in covered)
    coverage = min(1.0, seconds / total) if total > 0 else 1.0
    off = union(offline, start, end)
    pieces = [g for hole in complement(covered, start, end) for g in _split(hole, off)]
    absorbed = _absorb(pieces, slack, (start, end))
    gaps = tuple(g for g in absorbed if g.end - g.start >= min_gap)
    if coverage < min_coverage and not gaps:
        gaps = tuple(absorbed)  # short gaps only, yet they add up: show them
    if coverage >= min_coverage:
        result = Result.OK
    elif gaps and all(g.cause == "absent" for g in gaps):
        result = Result.ABSENT
    else:
        result = Result.GAP
    return Verdict(result, round(coverage, 6), gaps)
