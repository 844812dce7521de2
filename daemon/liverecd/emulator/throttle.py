"""Per-AccessKeyId, per-API flow control over sliding windows, and the arrival statistics that
tell a test how hard a client pushed.

Calls the limiter refuses do NOT count against the window: the real API drops calls over quota
(live-api.md §1.6), and counting them would lock out for good a client that keeps calling. They
do count in the arrival statistics (`max_in_any_window`), which measure the client.
"""

from __future__ import annotations

from collections import deque

REAL_TIME_RECORD_COMMAND = "RealTimeRecordCommand"
ONLINE_LIST = "DescribeLiveStreamsOnlineList"
RECORD_INDEX = "DescribeLiveStreamRecordIndexFiles"


class SlidingWindow:
    """At most `limit` admitted events in any half-open window of `period` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """Count an event at `now` if the window has room; False (not counted) otherwise."""
        horizon = now - self.period
        while self._admitted and self._admitted[0] <= horizon:
            self._admitted.popleft()
        if len(self._admitted) >= self.limit:
            return False
        self._admitted.append(now)
        return True


class ArrivalPeak:
    """The most events seen in any half-open window of `period` seconds, kept in O(window)."""

    def __init__(self, period: float = 1.0) -> None:
        self.period = period
        self.peak = 0
        self._recent: deque[float] = deque()

    def add(self, now: float) -> None:
        """Count an event. The busiest window can always be slid to end at an event, so checking
        the window ending at each arrival finds the maximum."""
        horizon = now - self.period
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()
        self._recent.append(now)
        self.peak = max(self.peak, len(self._recent))


class Throttle:
    """One sliding window per (AccessKeyId, action): `qps` per 1 s for RealTimeRecordCommand (and
    any other action), `per_minute` per 60 s for DescribeLiveStreamsOnlineList, `index_qps` per
    1 s for DescribeLiveStreamRecordIndexFiles."""

    def __init__(self, qps: int, online_list_per_minute: int, index_qps: int = 15) -> None:
        self._qps = qps
        self._index_qps = index_qps
        self._per_minute = online_list_per_minute
        self._windows: dict[tuple[str, str], SlidingWindow] = {}
        self._peaks: dict[tuple[str | None, str], ArrivalPeak] = {}

    def admit(self, access_key_id: str, action: str, now: float) -> bool:
        """Record an arrival and say whether the key's quota for `action` lets it through."""
        for key in ((access_key_id, action), (None, action)):
            peak = self._peaks.get(key)
            if peak is None:
                peak = self._peaks[key] = ArrivalPeak()
            peak.add(now)
        window = self._windows.get((access_key_id, action))
        if window is None:
            if action == ONLINE_LIST:
                window = SlidingWindow(self._per_minute, 60.0)
            elif action == RECORD_INDEX:
                window = SlidingWindow(self._index_qps, 1.0)
            else:
                window = SlidingWindow(self._qps, 1.0)
            self._windows[(access_key_id, action)] = window
        return window.admit(now)

    def max_in_any_second(
        self, access_key_id: str | None = None, action: str = REAL_TIME_RECORD_COMMAND
    ) -> int:
        """Most calls (admitted and throttled) that reached the limiter in any sliding second,
        for one key, or for all keys together when `access_key_id` is None."""
        peak = self._peaks.get((access_key_id, action))
        return peak.peak if peak else 0
