"""The per-stream recording state machine of live-api.md §1.3, and the recorder of what was
actually recorded.

| state          | start           | stop             | cancel_delay   | restart           |
|----------------|-----------------|------------------|----------------|-------------------|
| IDLE           | -> RECORDING    | undocumented     | undocumented   | undocumented      |
| RECORDING      | 409 TaskAlr...  | -> PAUSED_WAIT.. | undocumented   | new file, RECORD. |
| PAUSED_WAITING | 409 TaskAlr...  | undocumented     | file now, IDLE | -> RECORDING      |
| offline        | 409 StreamNotFound for every command                                   |

Choices where Alibaba is silent (each documented here, none to be relied on by the client):
- `start` in PAUSED_WAITING answers TaskAlreadyStarted: the task exists although nothing records
  (the premise of DESIGN.md §5's `restart` at a window that opens inside stop's delay).
- `restart` in PAUSED_WAITING resumes the same file, as ingest resuming within the delay would.
- Undocumented cells, with `undocumented_code` None (the default): 200; IDLE `restart` starts a
  new recording ("forcibly restarts"), the others change nothing. With a code: 400 and that code.
- PAUSED_WAITING becomes IDLE, its file generated, once `stop_delay` has passed; this is
  evaluated lazily against the clock, so no timer runs and a FakeClock works.
- A stream drop ends a recording and its file for good; coming back does not resume it.

Silent faults on demand (DESIGN §8): `silent_starts(key, n)` makes the next n starts of a stream
answer 200 and record nothing (the task stays IDLE: no file, no status callback);
`lose_files(key, n)` makes the next n files of a stream never reach the index or a callback.
`on_event(kind, key, file)` hears `record_started`, `record_paused`, `record_resumed` and
`file_created` (a `RecordFile`) for the recording callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import groupby

from liverecd.clock import Clock
from liverecd.emulator.config import (
    EmulatorConfig,
    FileEnd,
    RecordFile,
    RecordingInterval,
    SegmentEnd,
    StreamState,
)
from liverecd.emulator.wire import Rejection
from liverecd.streams import Command, StreamKey


@dataclass(slots=True)
class _Stream:
    online: bool
    publish_time: datetime | None
    state: StreamState = StreamState.IDLE
    file: int | None = None
    pause_deadline: float | None = None
    # Indexes into StreamBook._intervals of the current file's stretches.
    file_intervals: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OnlineStream:
    """A stream that is being ingested, and since when (whole seconds, as the API reports)."""

    key: StreamKey
    publish_time: datetime


class StreamBook:
    """Every stream the emulator has heard of, its state, and every recording interval."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._streams: dict[StreamKey, _Stream] = {}
        self._intervals: list[RecordingInterval] = []
        self._delays: dict[StreamKey, float] = dict(config.stop_delays)
        self._next_file = 1
        self._silent: dict[StreamKey, int] = {}
        self._losing: dict[StreamKey, int] = {}
        self._lost: set[int] = set()
        self.on_event: Callable[[str, StreamKey, RecordFile | None], None] | None = None

    # -- time ---------------------------------------------------------------------------------

    def _wall_at(self, mono: float) -> datetime:
        return self._clock.wall() - timedelta(seconds=self._clock.monotonic() - mono)

    def _publish_stamp(self) -> datetime:
        return self._clock.wall().replace(microsecond=0)

    # -- streams ------------------------------------------------------------------------------

    def mention(self, key: StreamKey) -> None:
        """A request named `key`: an unknown stream takes `default_online`, published now."""
        if key not in self._streams:
            online = self._config.default_online
            self._streams[key] = _Stream(online, self._publish_stamp() if online else None)

    def is_online(self, key: StreamKey) -> bool:
        """Whether `key` is being ingested (unknown streams: `default_online`)."""
        stream = self._streams.get(key)
        return self._config.default_online if stream is None else stream.online

    def set_online(self, key: StreamKey, online: bool) -> bool:
        """Publish or drop `key`; True when that changed anything (a callback is due).

        An unknown stream counts as not yet published, so `set_online(key, True)` publishes it
        even under `default_online`."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(False, None)
            if not online:
                return self._config.default_online  # an implied stream went away

        if stream.online == online:
            return False
        now = self._clock.monotonic()
        self._settle(stream, now)
        stream.online = online
        if online:
            stream.publish_time = self._publish_stamp()
            return True
        stream.publish_time = None
        if stream.state is StreamState.RECORDING:
            self._end_segment(stream, now, "stream_drop")
        if stream.state is not StreamState.IDLE:
            self._close_file(stream, now, "stream_drop")
        return True

    def set_stop_delay(self, key: StreamKey, seconds: float | None) -> None:
        """Override stop's delay for one stream (None: back to the configured one)."""
        if seconds is None:
            self._delays.pop(key, None)
        else:
            self._delays[key] = seconds

    def state(self, key: StreamKey) -> StreamState:
        """The stream's recording state now."""
        stream = self._streams.get(key)
        if stream is None:
            return StreamState.IDLE
        self._settle(stream, self._clock.monotonic())
        return stream.state

    def online_streams(self) -> list[OnlineStream]:
        """Streams known to be ingesting, sorted by key."""
        return [
            OnlineStream(key, s.publish_time)
            for key, s in sorted(self._streams.items())
            if s.online and s.publish_time is not None
        ]

    def recordings(self, key: StreamKey | None = None) -> list[RecordingInterval]:
        """Every recording interval so far (of one stream), in the order they began."""
        now = self._clock.monotonic()
        for stream in self._streams.values():
            self._settle(stream, now)
        return [r for r in self._intervals if key is None or r.stream == key]

    def silent_starts(self, key: StreamKey, times: int = 1) -> None:
        """The next `times` starts of `key` answer 200 and record nothing."""
        self._silent[key] = self._silent.get(key, 0) + times

    def lose_files(self, key: StreamKey, times: int = 1) -> None:
        """The next `times` files of `key` never reach the index or a callback."""
        self._losing[key] = self._losing.get(key, 0) + times

    def files(self, key: StreamKey | None = None) -> list[RecordFile]:
        """Finalized files (of one stream) that reached the index, in file order."""
        now = self._clock.monotonic()
        for k, stream in self._streams.items():
            if key is None or k == key:  # settle only what is asked: the index is per stream
                self._settle(stream, now)
        done = [
            r
            for r in self._intervals
            if (key is None or r.stream == key) and r.file_closed_at is not None
        ]
        return [
            _file(list(parts))
            for number, parts in groupby(sorted(done, key=lambda r: r.file), lambda r: r.file)
            if number not in self._lost
        ]

    def _emit(self, kind: str, key: StreamKey, file: RecordFile | None = None) -> None:
        if self.on_event is not None:
            self.on_event(kind, key, file)

    # -- commands -----------------------------------------------------------------------------

    def command(self, key: StreamKey, command: Command) -> None:
        """Apply one RealTimeRecordCommand; raise Rejection for an error answer."""
        self.mention(key)
        stream = self._streams[key]
        now = self._clock.monotonic()
        self._settle(stream, now)
        if not stream.online:
            raise Rejection(409, "StreamNotFound")
        state = stream.state
        if command is Command.START:
            if state is not StreamState.IDLE:
                raise Rejection(409, "TaskAlreadyStarted")
            if self._silent.get(key, 0) > 0:
                self._silent[key] -= 1
                return  # answered 200, and nothing records
            self._begin(key, stream, now, "start", new_file=True)
        elif command is Command.STOP:
            if state is not StreamState.RECORDING:
                self._undocumented()
                return
            self._end_segment(stream, now, "stop")
            stream.state = StreamState.PAUSED_WAITING
            stream.pause_deadline = now + self._delays.get(key, self._config.stop_delay)
        elif command is Command.CANCEL_DELAY:
            if state is not StreamState.PAUSED_WAITING:
                self._undocumented()
                return
            self._close_file(stream, now, "cancel_delay")
        elif state is StreamState.RECORDING:  # restart
            self._end_segment(stream, now, "restart")
            self._close_file(stream, now, "restart")
            self._begin(key, stream, now, "restart", new_file=True)
        elif state is StreamState.PAUSED_WAITING:
            self._begin(key, stream, now, "restart", new_file=False)
        else:
            self._undocumented()
            self._begin(key, stream, now, "restart", new_file=True)

    def _undocumented(self) -> None:
        if self._config.undocumented_code is not None:
            code = self._config.undocumented_code
            raise Rejection(400, code, f"{code}: command not allowed in the current task state.")

    # -- transitions --------------------------------------------------------------------------

    def _settle(self, stream: _Stream, now: float) -> None:
        deadline = stream.pause_deadline
        if stream.state is StreamState.PAUSED_WAITING and deadline is not None and now >= deadline:
            self._close_file(stream, deadline, "delay")

    def _begin(
        self, key: StreamKey, stream: _Stream, now: float, by: str, *, new_file: bool
    ) -> None:
        resumed = not (new_file or stream.file is None)
        if not resumed:
            stream.file = self._next_file
            self._next_file += 1
            stream.file_intervals = []
            if self._losing.get(key, 0) > 0:
                self._losing[key] -= 1
                self._lost.add(stream.file)
        self._emit("record_resumed" if resumed else "record_started", key)
        assert stream.file is not None
        stream.state = StreamState.RECORDING
        stream.pause_deadline = None
        stream.file_intervals.append(len(self._intervals))
        self._intervals.append(
            RecordingInterval(key, stream.file, self._wall_at(now), now, started_by=by)
        )

    def _end_segment(self, stream: _Stream, now: float, by: SegmentEnd) -> None:
        index = stream.file_intervals[-1]
        self._intervals[index] = replace(
            self._intervals[index], end=self._wall_at(now), end_mono=now, ended_by=by
        )
        self._emit("record_paused", self._intervals[index].stream)

    def _close_file(self, stream: _Stream, at: float, by: FileEnd) -> None:
        closed_at = self._wall_at(at)
        for index in stream.file_intervals:
            self._intervals[index] = replace(
                self._intervals[index], file_closed_at=closed_at, file_closed_by=by
            )
        parts = [self._intervals[i] for i in stream.file_intervals]
        if parts and parts[0].file not in self._lost:
            self._emit("file_created", parts[0].stream, _file(parts))
        stream.file_intervals = []
        stream.file = None
        stream.state = StreamState.IDLE
        stream.pause_deadline = None


def _file(parts: list[RecordingInterval]) -> RecordFile:
    first, last = parts[0], parts[-1]
    assert last.end is not None and first.file_closed_at is not None
    return RecordFile(
        stream=first.stream, file=first.file, start=first.start, end=last.end,
        seconds=sum(p.seconds or 0.0 for p in parts), created=first.file_closed_at,
    )  # fmt: skip
