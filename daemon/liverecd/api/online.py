"""DescribeLiveStreamsOnlineList answers: which streams are live now (live-api.md §6.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from liverecd.api.result import ApiResult, field
from liverecd.streams import StreamKey


@dataclass(frozen=True, slots=True)
class OnlineStream:
    """One live stream. `publish_time` is None when the server sent none we could read."""

    domain: str
    app: str
    stream: str
    publish_time: datetime | None

    @property
    def key(self) -> StreamKey:
        """The stream as schedules name it."""
        return StreamKey(self.domain, self.app, self.stream)


@dataclass(frozen=True, slots=True)
class OnlineListResult(ApiResult):
    """One page of the online list: the attempt's result, with the streams read from it."""

    streams: tuple[OnlineStream, ...] = ()
    total_page: int = 0
    page_num: int = 1


def _publish_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _entries(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    info = body.get("OnlineInfo") or body.get("onlineInfo") or {}
    items = info.get("LiveStreamOnlineInfo") or info.get("liveStreamOnlineInfo") or []
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def _stream(item: Mapping[str, Any], domain: str) -> OnlineStream | None:
    app, name = field(item, "AppName"), field(item, "StreamName")
    if app is None or name is None:
        return None
    return OnlineStream(
        field(item, "DomainName") or domain, app, name, _publish_time(field(item, "PublishTime"))
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def online_list_result(got: ApiResult, page_num: int, domain: str) -> OnlineListResult:
    """Turn one attempt's result into a page of online streams (empty unless `got.ok`)."""
    body = got.body if got.ok and got.body is not None else {}
    streams = tuple(s for item in _entries(body) if (s := _stream(item, domain)) is not None)
    return OnlineListResult(
        **{f.name: getattr(got, f.name) for f in fields(ApiResult)},
        streams=streams,
        total_page=_int(field(body, "TotalPage"), 1 if got.ok else 0),
        page_num=_int(field(body, "PageNum"), page_num),
    )
