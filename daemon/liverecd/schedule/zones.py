"""Local wall time to UTC under DESIGN.md §5's DST rule.

A local time inside a spring-forward gap moves forward by the gap (02:30 in a 02:00-03:00 gap is
03:30 after the shift); an ambiguous local time in a fall-back overlap takes its first
occurrence. Python's `fold=0` implements exactly that, so the rule is one `replace` away; this
module names it and reports which case applied so `check` can warn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


class LocalTimeKind(StrEnum):
    NORMAL = "normal"
    GAP = "gap"  # does not exist locally (spring forward)
    AMBIGUOUS = "ambiguous"  # happens twice locally (fall back)


def classify_local(naive: datetime, tz: ZoneInfo) -> LocalTimeKind:
    """Whether the naive local time `naive` exists once, never, or twice in `tz`."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return LocalTimeKind.NORMAL
    # In a gap, a round trip through UTC does not give back the same wall time.
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return LocalTimeKind.GAP
    return LocalTimeKind.AMBIGUOUS


def resolve_local(naive: datetime, tz: ZoneInfo) -> datetime:
    """The aware UTC instant of naive local time `naive` in `tz`, by the DST rule above."""
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
