"""DescribeLiveStreamsOnlineList (live-api.md §6.1): who is live now, paged.

Streams count as online once the emulator knows of them: published with `set_online(True)`, or
(under `default_online`) named by a RealTimeRecordCommand or by a strict query for one stream.
A stream nobody has mentioned is not listed, although a command on it would find it online.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from liverecd.api.signing import format_timestamp
from liverecd.emulator.streams import OnlineStream
from liverecd.emulator.wire import Rejection, missing
from liverecd.streams import StreamKey

MAX_PAGE_SIZE = 3000
DEFAULT_PAGE_SIZE = 2000


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Rejection(400, "MalformedParam", f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise Rejection(400, "MalformedParam", f"{name} must be between {low} and {high}.")
    return value


def _matches(want: str | None, have: str, strict: bool) -> bool:
    if not want:
        return True
    return have == want if strict else want in have


def strict_target(params: Mapping[str, str]) -> StreamKey | None:
    """The one stream a strict query names in full, if it does (it then counts as mentioned)."""
    if params.get("QueryType", "fuzzy").lower() != "strict":
        return None
    domain, app, name = (params.get(k) for k in ("DomainName", "AppName", "StreamName"))
    if domain and app and name:
        return StreamKey(domain, app, name)
    return None


def _entry(item: OnlineStream, ingest_domain: str, only_stream: bool) -> dict[str, Any]:
    key = item.key
    entry: dict[str, Any] = {
        "DomainName": key.domain,
        "AppName": key.app,
        "StreamName": key.stream,
        "PublishTime": format_timestamp(item.publish_time),
    }
    if only_stream:
        return entry
    entry.update(
        PublishUrl=f"rtmp://{ingest_domain}/{key.app}/{key.stream}",
        PublishDomain=ingest_domain,
        PublishType="edge",
        Transcoded="no",
        Height=720,
        Width=1280,
        FrameRate=25,
        VideoDataRate=2000,
        AudioDataRate=128,
        VideoCodecId=7,
        AudioCodecId=10,
        ClientIp="127.0.0.1",
        ServerIp="127.0.0.1",
    )
    return entry


def describe_online(
    params: Mapping[str, str],
    online: list[OnlineStream],
    ingest_domain: Callable[[str], str],
) -> dict[str, Any]:
    """The response body for `params` over the `online` streams (sorted by key)."""
    domain = params.get("DomainName")
    if not domain:
        raise missing("DomainName")
    page_size = _int_param(params, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page_num = _int_param(params, "PageNum", 1, 1, 1_000_000)
    query_type = params.get("QueryType", "fuzzy").lower()
    if query_type not in ("fuzzy", "strict"):
        raise Rejection(400, "MalformedParam", "QueryType must be fuzzy or strict.")
    stream_type = params.get("StreamType", "all").lower()
    if stream_type not in ("all", "raw", "trans"):
        raise Rejection(400, "MalformedParam", "StreamType must be all, raw or trans.")
    strict = query_type == "strict"
    only_stream = params.get("OnlyStream", "no").lower() == "yes"
    hits = [
        item
        for item in online
        if item.key.domain == domain
        and _matches(params.get("AppName"), item.key.app, strict)
        and _matches(params.get("StreamName"), item.key.stream, strict)
        and stream_type != "trans"  # the emulator has no transcoded streams
    ]
    page = hits[(page_num - 1) * page_size : page_num * page_size]
    return {
        "TotalNum": len(hits),
        "TotalPage": (len(hits) + page_size - 1) // page_size,
        "PageNum": page_num,
        "PageSize": page_size,
        "OnlineInfo": {
            "LiveStreamOnlineInfo": [
                _entry(item, ingest_domain(item.key.domain), only_stream) for item in page
            ]
        },
    }
