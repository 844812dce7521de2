"""Pure arming decisions: which streams inside open windows need a `start` now, and what each
sighting (online list or ingest callback) says about drops and returns.

Model. A stream's *session* is one continuous ingest, from publish to drop. A manual recording
lives at most as long as the session it was started in (live-api.md §1.2, §7), so a window is
armed iff our last successful start for that window was made in the stream's current session.
Sessions are told apart by PublishTime (the server's clock, whole seconds):
- a different PublishTime is a new session, even when no poll saw the stream absent (it dropped
  and came back between two polls);
- an absence followed by the same PublishTime is the same session (a list glitch, e.g. a stream
  that moved between pages while we paged): no start;
- without a PublishTime, every return after an observed absence is a new session.

A successful start is tied to a session when we know which one it covered (the watch asked for
that session, or the session had begun by the time the start was sent); otherwise it is tied to
the first session seen later that had begun by then (`adopt`), allowing `tolerance` for the two
clocks. Erring costs one redundant start (answered TaskAlreadyStarted), never a missed one.

Everything here is a function of its arguments; `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from liverecd.streams import StreamKey

# Our clock against the server's PublishTime. PublishTime is truncated to whole seconds, which
# already errs our way; a second more absorbs NTP-level skew.
SKEW_TOLERANCE = timedelta(seconds=1)

Requested = tuple[str, int]  # (window_id, session) the watch last asked a start for


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """A window open now, as the watch needs it (the daemon builds these from its timeline)."""

    window_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Track:
    """What is known of one stream's ingest while it has an open window.

    `session` is 0 until the stream is first seen online, then grows by one per new session.
    `absent_since` is set while an observed absence lasts. `dropped_at` belongs to the current
    session: when the previous one was last known to be over (see `Change.RETURNED`); it is
    cleared once a start re-arms the stream.
    """

    session: int = 0
    present: bool = False
    publish_time: datetime | None = None
    seen_at: datetime | None = None
    last_seen: datetime | None = None
    absent_since: datetime | None = None
    dropped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StartMark:
    """Our last successful start of a stream: its window, when it was sent, and the session it
    covered (None: not known yet, see `adopt`)."""

    window_id: str
    at: datetime
    session: int | None


class Change(StrEnum):
    """State changes worth a log line; the values are the event names."""

    CAME_ONLINE = "stream_came_online"  # first seen online after being seen offline in a window
    DROPPED = "stream_dropped"  # was online, now absent
    RETURNED = "stream_returned"  # a new session after a drop (seen or not)
    DROP_CLEARED = "stream_drop_cleared"  # absent, then back in the same session: no start
    REARMED = "stream_rearmed"  # a start succeeded in a returned session


@dataclass(frozen=True, slots=True)
class Event:
    """One state change of one stream.

    `down_seconds` (RETURNED): from the drop being noticed to the return being noticed.
    `lost_seconds` (REARMED): from the drop to the successful start, i.e. the recording lost;
    the drop counts from when it was noticed, or for a drop no poll saw (`missed_drop`) from
    the last sighting of the old session (an upper bound). `rearm_seconds` (REARMED): from the
    return being noticed to the successful start (never negative).
    """

    change: Change
    stream: StreamKey
    at: datetime
    publish_time: datetime | None = None
    down_seconds: float | None = None
    lost_seconds: float | None = None
    rearm_seconds: float | None = None
    missed_drop: bool = False


def _seconds(later: datetime, earlier: datetime | None) -> float | None:
    return None if earlier is None else max(0.0, (later - earlier).total_seconds())


def _new_session(
    track: Track, publish_time: datetime | None, now: datetime, dropped_at: datetime | None
) -> Track:
    return Track(
        session=track.session + 1,
        present=True,
        publish_time=publish_time,
        seen_at=now,
        last_seen=now,
        dropped_at=dropped_at,
    )


def seen_online(
    key: StreamKey, track: Track | None, publish_time: datetime | None, now: datetime
) -> tuple[Track, Event | None]:
    """The stream is listed online with `publish_time`. A first look (`track` None) is no
    event: the stream was online before the watch looked."""
    if track is None:
        return _new_session(Track(), publish_time, now, None), None
    if track.session == 0:
        fresh = _new_session(track, publish_time, now, None)
        return fresh, Event(Change.CAME_ONLINE, key, now, publish_time)
    if not track.present:
        if publish_time is not None and publish_time == track.publish_time:
            back = replace(track, present=True, last_seen=now, absent_since=None)
            return back, Event(Change.DROP_CLEARED, key, now, publish_time)
        fresh = _new_session(track, publish_time, now, track.absent_since)
        down = _seconds(now, track.absent_since)
        return fresh, Event(Change.RETURNED, key, now, publish_time, down_seconds=down)
    if publish_time is not None and track.publish_time not in (None, publish_time):
        # Dropped and came back between two sightings.
        fresh = _new_session(track, publish_time, now, track.last_seen)
        down = _seconds(now, track.last_seen)
        event = Event(Change.RETURNED, key, now, publish_time, down_seconds=down, missed_drop=True)
        return fresh, event
    known = publish_time if publish_time is not None else track.publish_time
    return replace(track, publish_time=known, last_seen=now), None


def seen_offline(key: StreamKey, track: Track | None, now: datetime) -> tuple[Track, Event | None]:
    """The stream is absent from a complete listing of its domain (or said `publish_done`)."""
    if track is None:
        return Track(), None
    if not track.present:
        return track, None
    gone = replace(track, present=False, absent_since=now)
    return gone, Event(Change.DROPPED, key, now, track.publish_time)


def published(key: StreamKey, track: Track | None, now: datetime) -> tuple[Track, Event]:
    """An authenticated `publish` callback the online list could not confirm: a new session
    from now, its PublishTime unknown until a poll fills it in."""
    base = track or Track()
    dropped_at = base.absent_since or (base.last_seen if base.present else None)
    fresh = _new_session(base, None, now, dropped_at if base.session else None)
    if base.session == 0:
        return fresh, Event(Change.CAME_ONLINE, key, now)
    return fresh, Event(Change.RETURNED, key, now, down_seconds=_seconds(now, dropped_at))


def began_by(track: Track, at: datetime, tolerance: timedelta = SKEW_TOLERANCE) -> bool:
    """True when the track's current session had begun by `at` (so a start sent then was made
    in it)."""
    if not track.present:
        return False
    if track.publish_time is not None:
        return track.publish_time <= at + tolerance
    return track.seen_at is not None and track.seen_at <= at


def mark_start(
    track: Track | None,
    window_id: str,
    at: datetime,
    requested: Requested | None,
    tolerance: timedelta = SKEW_TOLERANCE,
) -> StartMark:
    """The mark for a start of `window_id` that succeeded, sent at `at`."""
    if track is None or not track.present:
        return StartMark(window_id, at, None)
    if requested == (window_id, track.session) or began_by(track, at, tolerance):
        return StartMark(window_id, at, track.session)
    return StartMark(window_id, at, None)


def adopt(mark: StartMark, track: Track | None, tolerance: timedelta = SKEW_TOLERANCE) -> StartMark:
    """Tie a mark made before its session was seen to the session now seen, if it had begun by
    the time of the start."""
    if mark.session is not None or track is None or not began_by(track, mark.at, tolerance):
        return mark
    return replace(mark, session=track.session)


def rearmed(key: StreamKey, track: Track, mark: StartMark) -> tuple[Track, Event | None]:
    """After `mark` covered `track`'s session: the REARMED event if that session was a return
    (once), with the recording it cost."""
    if mark.session != track.session or track.dropped_at is None:
        return track, None
    event = Event(
        Change.REARMED,
        key,
        mark.at,
        track.publish_time,
        lost_seconds=_seconds(mark.at, track.dropped_at),
        rearm_seconds=_seconds(mark.at, track.seen_at),
    )
    return replace(track, dropped_at=None), event


def armed(window: OpenWindow, track: Track | None, mark: StartMark | None) -> bool:
    """True when a successful start of `window` covers the stream's current session."""
    if mark is None or mark.window_id != window.window_id:
        return False
    return track is None or mark.session == track.session


def wants_start(
    window: OpenWindow,
    track: Track | None,
    mark: StartMark | None,
    requested: Requested | None,
) -> bool:
    """Online, inside `window`, not armed, and not already asked for in this session."""
    if track is None or not track.present or armed(window, track, mark):
        return False
    return requested != (window.window_id, track.session)


def starts_due(
    windows: Mapping[StreamKey, OpenWindow],
    tracks: Mapping[StreamKey, Track],
    marks: Mapping[StreamKey, StartMark],
    requested: Mapping[StreamKey, Requested],
) -> list[StreamKey]:
    """Every stream in an open window that is online and needs a start, in key order."""
    return sorted(
        key
        for key, window in windows.items()
        if wants_start(window, tracks.get(key), marks.get(key), requested.get(key))
    )


def watch_rank(start: datetime, now: datetime) -> tuple[bool, float]:
    """Which of a stream's windows the watch follows (the highest rank): one open now (the
    latest to open), else the earliest to open."""
    gap = (start - now).total_seconds()
    return (gap <= 0, gap if gap <= 0 else -gap)
