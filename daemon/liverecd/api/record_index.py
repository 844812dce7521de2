"""DescribeLiveStreamRecordIndexFiles (live-api.md §6.5): which files Alibaba recorded.

`read_index` reads every file of one stream overlapping a range: chunks of at most 4 days (the
API's limit), every page at PageSize 30, each call paced by the index's own limiter (15/s per
account: it never takes a RealTimeRecordCommand slot). One failed page fails the whole read;
the caller retries it later (the verifier, with backoff).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from liverecd.api.outcome import is_throttle
from liverecd.api.ratelimit import RateLimiter
from liverecd.api.result import ApiResult, field
from liverecd.streams import StreamKey

ACTION_INDEX = "DescribeLiveStreamRecordIndexFiles"
MAX_RANGE = timedelta(days=4)
PAGE_SIZE = 30  # the API's largest page


class ActionCaller(Protocol):
    """What the index read needs of the client (`LiveClient.call`)."""

    async def call(self, action: str, params: Mapping[str, str]) -> ApiResult: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexFile:
    """One recorded file. `uri` is its OSS object (the key callbacks share); instants UTC."""

    uri: str
    start: datetime
    end: datetime
    duration: float
    record_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexRead:
    """The files of a whole read, or why it failed (`failure`: a code or transport error)."""

    files: tuple[IndexFile, ...] = ()
    calls: int = 0
    failure: str | None = None
    throttled: bool = False

    @property
    def ok(self) -> bool:
        """Every page of every chunk was read."""
        return self.failure is None


def stamp(when: datetime) -> str:
    """An instant as the API takes it: UTC, whole seconds, `Z`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_file(item: Mapping[str, Any]) -> IndexFile | None:
    """One `RecordIndexInfo` entry; None when it lacks an object or times we can read."""
    uri = field(item, "OssObject") or field(item, "RecordUrl")
    start, end = _instant(field(item, "StartTime")), _instant(field(item, "EndTime"))
    if uri is None or start is None or end is None:
        return None
    try:
        duration = float(field(item, "Duration") or (end - start).total_seconds())
    except ValueError:
        duration = (end - start).total_seconds()
    return IndexFile(
        uri=uri, start=start, end=end, duration=duration, record_id=field(item, "RecordId")
    )


def page_files(body: Mapping[str, Any]) -> tuple[list[IndexFile], int]:
    """The files of one answer and its TotalPage."""
    box = body.get("RecordIndexInfoList") or body.get("recordIndexInfoList") or {}
    items = box.get("RecordIndexInfo") or box.get("recordIndexInfo") or []
    files = [f for i in items if isinstance(i, Mapping) and (f := parse_file(i)) is not None]
    try:
        total = int(field(body, "TotalPage") or 1)
    except ValueError:
        total = 1
    return files, total


def chunks(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) in whole seconds, cut into ranges of at most 4 days."""
    a = start.astimezone(UTC).replace(microsecond=0)
    b = end.astimezone(UTC)
    if b.microsecond:
        b = b.replace(microsecond=0) + timedelta(seconds=1)
    while a < b:
        yield a, min(b, a + MAX_RANGE)
        a += MAX_RANGE


async def read_index(
    client: ActionCaller, limiter: RateLimiter, stream: StreamKey, start: datetime, end: datetime
) -> IndexRead:
    """Every file of `stream` overlapping [start, end), deduplicated by uri."""
    found: dict[str, IndexFile] = {}
    calls = 0
    for a, b in chunks(start, end):
        page, total = 1, 1
        while page <= total:
            await limiter.acquire()
            got = await client.call(ACTION_INDEX, _params(stream, a, b, page))
            calls += 1
            if not got.ok or got.body is None:
                if throttled := is_throttle(got):
                    limiter.on_throttled(got.retry_after)
                why = got.code or (str(got.transport_error) if got.transport_error else "no body")
                return IndexRead(calls=calls, failure=why, throttled=throttled)
            limiter.on_success()
            files, total = page_files(got.body)
            found.update((f.uri, f) for f in files)
            page += 1
    return IndexRead(files=tuple(found.values()), calls=calls)


def _params(stream: StreamKey, a: datetime, b: datetime, page: int) -> dict[str, str]:
    return {
        "DomainName": stream.domain, "AppName": stream.app, "StreamName": stream.stream,
        "StartTime": stamp(a), "EndTime": stamp(b), "PageNum": str(page),
        "PageSize": str(PAGE_SIZE), "Order": "asc",
    }  # fmt: skip
