"""The results of recent windows, as the status page shows them (DESIGN §11).

The page asks on every view, so the last results are kept in memory rather than read back from
the store (which holds a row for every window); start-up seeds them from the store's last hour.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import timedelta

from liverecd.verify.coverage import Result
from liverecd.verify.rows import Verification

SIZE = 500  # results kept
SPAN = timedelta(hours=1)  # what start-up reads back


class RecentResults:
    """The last `size` concluded windows, oldest first."""

    def __init__(self, size: int = SIZE) -> None:
        self._rows: deque[Verification] = deque(maxlen=size)

    def add(self, rows: Iterable[Verification]) -> None:
        """Remember concluded rows (pending ones are skipped), in the order they concluded."""
        self._rows.extend(row for row in rows if row.result is not Result.PENDING)

    def seed(self, rows: Iterable[Verification]) -> None:
        """Remember rows read back from the store (in any order): by their windows' ends."""
        self.add(sorted(rows, key=lambda v: v.end))

    def latest(
        self, needle: str, limit: int, waiting: Iterable[Verification] = ()
    ) -> list[Verification]:
        """Up to `limit` rows of streams containing `needle`: `waiting` ones (over, not checked
        yet) first, latest end first, then the results, the last concluded first."""
        ahead = sorted(waiting, key=lambda v: v.end, reverse=True)
        out: list[Verification] = []
        for row in (*ahead, *reversed(self._rows)):
            if len(out) == limit:
                break
            if needle in str(row.stream):
                out.append(row)
        return out
