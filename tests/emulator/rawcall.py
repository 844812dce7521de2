"""Hand-built signed requests, so emulator tests control every byte (nonce, timestamp, headers)
without going through LiveClient."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import aiohttp
from yarl import URL

from conftest import TEST_AK, TEST_SECRET
from liverecd.api import signing
from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

KEY = StreamKey("play.example.com", "live", "news")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    text: str
    headers: Mapping[str, str]

    @property
    def code(self) -> str | None:
        return self.body.get("Code")


def stream_params(key: StreamKey, command: str | None = None) -> dict[str, str]:
    params = {"DomainName": key.domain, "AppName": key.app, "StreamName": key.stream}
    if command is not None:
        params["Command"] = command
    return params


def encoded_url(base: str, query: Mapping[str, str]) -> URL:
    text = "&".join(
        f"{signing.percent_encode(k)}={signing.percent_encode(v)}" for k, v in query.items()
    )
    return URL(f"{base}/?{text}" if text else f"{base}/", encoded=True)


async def send(
    url: URL,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Reply:
    """Send as-is; no Content-Type is added unless given."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.request(
            method, url, headers=dict(headers or {}), data=body, skip_auto_headers=["Content-Type"]
        ) as resp,
    ):
        text = await resp.text()
        parsed: dict[str, Any] = {}
        if resp.content_type == "application/json":
            with contextlib.suppress(ValueError):  # the emulator's truncated answers
                parsed = json.loads(text)
        return Reply(resp.status, parsed, text, dict(resp.headers))


async def call(
    emu: Emulator,
    params: Mapping[str, str],
    *,
    version: Literal["v1", "v3"] = "v3",
    action: str = "RealTimeRecordCommand",
    method: str = "POST",
    ak: str = TEST_AK,
    secret: str = TEST_SECRET,
    token: str | None = None,
    nonce: str | None = None,
    timestamp: datetime | None = None,
) -> Reply:
    """One correctly signed call (V1 or V3) to `emu`; the timestamp defaults to the emulator
    clock's wall time, so FakeClock-driven emulators accept it."""
    stamp = timestamp or emu.clock.wall()
    if version == "v1":
        signed = signing.sign_v1_request(
            action=action,
            params=params,
            access_key_id=ak,
            secret=secret,
            security_token=token,
            method=method,
            nonce=nonce,
            timestamp=stamp,
        )
    else:
        signed = signing.sign_v3_request(
            action=action,
            params=params,
            host=URL(emu.url).raw_authority,
            access_key_id=ak,
            secret=secret,
            security_token=token,
            method=method,
            nonce=nonce,
            timestamp=stamp,
        )
    return await send(encoded_url(emu.url, signed.query), method, signed.headers)


async def command(emu: Emulator, command: str, key: StreamKey = KEY, **kw: Any) -> Reply:
    """RealTimeRecordCommand `command` on `key`."""
    return await call(emu, stream_params(key, command), **kw)
