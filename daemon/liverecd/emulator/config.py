"""What an emulator is configured with, what it records, and the faults it can be told to inject.

Plain frozen data: the behaviour lives in the other modules of this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from liverecd.streams import StreamKey

DEFAULT_STOP_DELAY = 180.0  # the platform's default interruption delay (live-api.md §1.3)
TIMESTAMP_WINDOW = 900.0  # ±15 min for Timestamp / x-acs-date (live-api.md §2.2)
NONCE_MEMORY = 900.0  # a nonce may not come back within 15 min


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorConfig:
    """How one emulator behaves. Secrets are kept out of the repr.

    `accounts` maps AccessKeyId to secret; `sts_tokens` maps an AccessKeyId to the security token
    its requests must carry. `qps` is the RealTimeRecordCommand limit per key over any sliding
    1 s; `online_list_per_minute` that of DescribeLiveStreamsOnlineList over any sliding 60 s.
    `stop_delay` is the time from `stop` to the file (per stream: `stop_delays`).
    `undocumented_code` decides the cells of live-api.md §1.3 that Alibaba does not document:
    None answers 200 (see `streams.py` for what each does), a code answers 400 with that code.
    `ingest_domain_map` maps a streaming domain to the ingest domain that callbacks name.
    `require_signed_content_type`: a V3 request whose Content-Type header is not among its
    SignedHeaders is refused (IncompleteSignature), as the V3 doc asks of every common header;
    note that aiohttp adds `Content-Type: application/octet-stream` to an empty POST by itself.
    """

    accounts: Mapping[str, str] = field(repr=False)
    qps: int = 50
    online_list_per_minute: int = 10_000
    stop_delay: float = DEFAULT_STOP_DELAY
    stop_delays: Mapping[StreamKey, float] = field(default_factory=dict)
    seed: int = 0
    default_online: bool = True
    sts_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    notify_url: str | None = None
    notify_auth_key: str | None = field(default=None, repr=False)
    ingest_domain_map: Mapping[str, str] | None = None
    undocumented_code: str | None = None
    clock_skew: float = 0.0  # seconds the emulator's wall clock runs ahead of the real one
    timestamp_window: float = TIMESTAMP_WINDOW
    nonce_memory: float = NONCE_MEMORY
    host_id: str = "live.aliyuncs.com"
    require_signed_content_type: bool = True
    request_log_limit: int | None = None  # keep only the newest N request records (None: all)
    sts_ttl: float = 3600.0  # seconds a temporary key from the credentials URI stays valid
    index_qps: int = 15  # DescribeLiveStreamRecordIndexFiles per key over any sliding 1 s
    # Index times with milliseconds: NOT what Alibaba sends (whole seconds), but lets tests use
    # windows of a few seconds and still measure coverage to the percent.
    index_millis: bool = False
    record_notify_url: str | None = None  # recording callbacks (POST JSON), off when None
    record_notify_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.qps < 1 or self.online_list_per_minute < 1 or self.index_qps < 1:
            raise ValueError("qps, online_list_per_minute and index_qps must be at least 1")
        if self.stop_delay < 0 or any(d < 0 for d in self.stop_delays.values()):
            raise ValueError("stop delays must not be negative")

    def ingest_domain(self, domain: str) -> str:
        """The ingest domain that callbacks name for streaming `domain` (itself if unmapped)."""
        return (self.ingest_domain_map or {}).get(domain, domain)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Random faults, drawn per API request from `random.Random(seed)` (the config's seed when
    None), so the same plan over the same request sequence faults the same requests.

    Probabilities are cumulative slices of one draw: `error_5xx` (500 InternalError or 503
    ServiceUnavailable, half each), then `hang` (no answer for `hang_seconds`, then the
    connection is dropped), then `reset` (connection closed without an answer), then `odd` (an
    answer that is no API answer, its shape drawn from emulator/odd.py). A faulted request
    has no effect, except a hang when `hang_after_effect` is true: the request is then carried
    out in full and only its answer is withheld (the "unknown outcome" a client must survive).
    `commands` restricts the plan to RealTimeRecordCommand calls with those Command values.
    """

    error_5xx: float = 0.0
    hang: float = 0.0
    reset: float = 0.0
    odd: float = 0.0
    hang_seconds: float = 60.0
    hang_after_effect: bool = False
    seed: int | None = None
    commands: frozenset[str] | None = None

    def __post_init__(self) -> None:
        rates = (self.error_5xx, self.hang, self.reset, self.odd)
        if any(r < 0 for r in rates) or sum(rates) > 1.0:
            raise ValueError("fault probabilities must be >= 0 and add up to at most 1")
        if self.hang_seconds < 0:
            raise ValueError("hang_seconds must not be negative")


class StreamState(StrEnum):
    """The per-stream recording state of live-api.md §1.3."""

    IDLE = "idle"
    RECORDING = "recording"
    PAUSED_WAITING = "paused_waiting"


SegmentEnd = Literal["stop", "restart", "stream_drop"]
FileEnd = Literal["delay", "cancel_delay", "restart", "stream_drop"]


@dataclass(frozen=True, slots=True)
class RecordingInterval:
    """A stretch of time during which a stream was being recorded (state RECORDING).

    `ended_by` says what ended the stretch (None while it runs). Stretches with the same `file`
    number end up in one output file; `file_closed_at`/`file_closed_by` say when and why that file
    was generated (a stop's file closes `stop_delay` later, or at a cancel_delay). Times are wall
    (aware UTC) plus the emulator clock's monotonic seconds.
    """

    stream: StreamKey
    file: int
    start: datetime
    start_mono: float
    started_by: str
    end: datetime | None = None
    end_mono: float | None = None
    ended_by: SegmentEnd | None = None
    file_closed_at: datetime | None = None
    file_closed_by: FileEnd | None = None

    @property
    def seconds(self) -> float | None:
        """Length of the stretch, None while it runs."""
        return None if self.end_mono is None else self.end_mono - self.start_mono


@dataclass(frozen=True, slots=True)
class RecordFile:
    """One finalized recording file: a recording task's stretches, as the index lists it.
    `start`/`end` are the first stretch's start and the last one's end; `seconds` what it holds."""

    stream: StreamKey
    file: int
    start: datetime
    end: datetime
    seconds: float
    created: datetime

    @property
    def uri(self) -> str:
        """The OSS object path, shaped like Alibaba's (`app/stream/N_start_end.m3u8`)."""
        fmt = "%Y-%m-%d-%H:%M:%S"
        return (
            f"{self.stream.app}/{self.stream.stream}/{self.file}_"
            f"{self.start.strftime(fmt)}_{self.end.strftime(fmt)}.m3u8"
        )


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the emulator received and what it did with it.

    `http_status` is None when no answer was sent (hang, reset). `fault` names an injected fault
    ("error_5xx", "hang", "reset", "throttle_storm", "scripted"); `throttled` is true when the
    per-key limiter refused the call. `code` is the error code answered (None on success); for a
    hang after effect it is the code that would have been answered.
    """

    wall: datetime
    mono: float
    method: str
    action: str | None
    command: str | None
    stream: StreamKey | None
    access_key_id: str | None
    nonce: str | None
    signature_version: Literal["v1", "v3"] | None
    request_id: str
    http_status: int | None
    code: str | None
    fault: str | None = None
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """One ingest callback delivery: the event, how many attempts, the last HTTP status."""

    action: Literal["publish", "publish_done"]
    stream: StreamKey
    attempts: int
    status: int | None
    delivered: bool
