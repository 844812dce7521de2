"""DescribeLiveStreamRecordIndexFiles (live-api.md §6.5): the finalized files of one stream.

Parameters as documented: DomainName, AppName, StreamName, StartTime and EndTime (UTC
`yyyy-MM-ddTHH:mm:ssZ`, at most 4 days apart), PageNum (from 1), PageSize (5 to 30, default 10),
Order (`asc`, the default, or `desc` by start time). A file is listed when it overlaps the range.
Answers carry `RecordIndexInfoList.RecordIndexInfo[]` in the shape the official SDK model parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from liverecd.emulator.config import RecordFile
from liverecd.emulator.online_list import _int_param
from liverecd.emulator.wire import Rejection, missing
from liverecd.streams import StreamKey

MAX_RANGE = timedelta(days=4)
BUCKET = "liverecd-emulator"
OSS_ENDPOINT = "oss-cn-shanghai.aliyuncs.com"


def _time(params: Mapping[str, str], name: str) -> datetime:
    raw = params.get(name)
    if not raw:
        raise missing(name)
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise Rejection(
            400, f"InvalidParameter.{name}", f"{name} must be yyyy-MM-ddTHH:mm:ssZ (UTC)."
        ) from None


def index_target(params: Mapping[str, str]) -> tuple[StreamKey, datetime, datetime]:
    """The stream and range a call names; Rejection for what the API refuses."""
    for name in ("DomainName", "AppName", "StreamName"):
        if not params.get(name):
            raise missing(name)
    start, end = _time(params, "StartTime"), _time(params, "EndTime")
    if end <= start:
        raise Rejection(400, "InvalidParameter.EndTime", "EndTime must be after StartTime.")
    if end - start > MAX_RANGE:
        raise Rejection(400, "InvalidParameter.TimeRange", "The range may be at most 4 days.")
    key = StreamKey(params["DomainName"], params["AppName"], params["StreamName"])
    return key, start, end


def _stamp(when: datetime, millis: bool) -> str:
    when = when.astimezone(UTC)
    if millis:
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(f: RecordFile, millis: bool) -> dict[str, Any]:
    return {
        "RecordId": f"emu-{f.file}",
        "RecordUrl": f"http://{BUCKET}.{OSS_ENDPOINT}/{f.uri}",
        "OssBucket": BUCKET,
        "OssEndpoint": OSS_ENDPOINT,
        "OssObject": f.uri,
        "DomainName": f.stream.domain,
        "AppName": f.stream.app,
        "StreamName": f.stream.stream,
        "StartTime": _stamp(f.start, millis),
        "EndTime": _stamp(f.end, millis),
        "Duration": round(f.seconds, 3),
        "Height": 720,
        "Width": 1280,
        "Format": "m3u8",
        "CreateTime": _stamp(f.created, millis),
    }


def describe_index(
    params: Mapping[str, str], files: list[RecordFile], *, millis: bool = False
) -> dict[str, Any]:
    """The response body for `params` over `files` (the stream's finalized files)."""
    key, start, end = index_target(params)
    page_size = _int_param(params, "PageSize", 10, 5, 30)
    page_num = _int_param(params, "PageNum", 1, 1, 1_000_000)
    order = params.get("Order") or "asc"
    if order not in ("asc", "desc"):
        raise Rejection(400, "InvalidParameter.Order", "Order must be asc or desc.")
    hits = sorted(
        (f for f in files if f.stream == key and f.start < end and f.end > start),
        key=lambda f: (f.start, f.file),
        reverse=order == "desc",
    )
    page = hits[(page_num - 1) * page_size : page_num * page_size]
    return {
        "TotalNum": len(hits),
        "TotalPage": (len(hits) + page_size - 1) // page_size,
        "PageNum": page_num,
        "PageSize": page_size,
        "Order": order,
        "RecordIndexInfoList": {"RecordIndexInfo": [_entry(f, millis) for f in page]},
    }
