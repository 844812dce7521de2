"""When each stream was ingesting, as far as the daemon saw: the evidence that tells an `absent`
gap (nobody was streaming) from a `missed` one (live, and nothing recorded).

Sightings come from the online watch and the ingest callbacks (drops, returns, re-arms) and from
the daemon's own starts (OK: live; StreamNotFound: not). A stream is taken as offline from a
sighting saying so until the next sighting saying otherwise. Kept in memory for `KEEP`: a
verification after a restart has only what was seen since (its gaps then count as missed).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime, timedelta

from liverecd.streams import StreamKey
from liverecd.verify.coverage import Span

KEEP = timedelta(days=2)


class Evidence:
    """Online/offline sightings per stream, in time order."""

    def __init__(self) -> None:
        self._seen: defaultdict[StreamKey, list[tuple[datetime, bool]]] = defaultdict(list)

    def observe(self, stream: StreamKey, at: datetime, online: bool) -> None:
        """Record that `stream` was (not) ingesting at `at`; forgets sightings older than KEEP."""
        seen = self._seen[stream]
        bisect.insort(seen, (at, online))
        while seen and seen[0][0] < at - KEEP:
            seen.pop(0)

    def offline(self, stream: StreamKey, start: datetime, end: datetime) -> list[Span]:
        """The stretches of [start, end) during which `stream` was last seen offline."""
        seen = self._seen.get(stream, [])
        out: list[Span] = []
        since: datetime | None = None
        for at, online in seen:
            if at >= end:
                break
            if not online and since is None:
                since = max(at, start)
            elif online and since is not None:
                if at > start:
                    out.append((since, at))
                since = None
        if since is not None:
            out.append((since, end))
        return [(a, b) for a, b in out if b > a]
