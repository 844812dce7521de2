"""The page and its JSON, served by the running daemon over real HTTP (no browser)."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
from jsonschema import validate

from liverecd.emulator import Emulator
from liverecd.ops.page import model as m
from liverecd.ops.page.collect import Feeds

from .conftest import TEST_SECRET, Serve, Served, in_seconds, schedule
from .test_page_model import SCHEMA

HOSTILE = '<img src=x onerror="alert(1)">'


async def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as session,
        session.request(method, url) as response,
    ):
        return response.status, dict(response.headers), await response.text()


async def status_json(served: Served, query: str = "") -> dict[str, Any]:
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as session,
        session.get(f"{served.url}/api/status{query}") as response,
    ):
        assert response.status == 200
        doc: dict[str, Any] = await response.json()
        return doc


async def until(check: Any, served: Served, query: str = "", within: float = 8.0) -> dict[str, Any]:
    """Poll /api/status until `check(doc)` holds."""
    async with asyncio.timeout(within):
        while not check(doc := await status_json(served, query)):  # noqa: ASYNC110 - polling HTTP
            await asyncio.sleep(0.1)
    return doc


def recording(doc: dict[str, Any]) -> list[str]:
    """Streams (names) in phase recording."""
    items = doc["recording"]["items"]
    return [i["stream"].rsplit("/", 1)[1] for i in items if i["phase"] == "recording"]


async def test_json_shows_the_recording_the_next_window_and_a_failed_command_with_its_code(
    serve: Serve, emulator: Emulator
) -> None:
    emulator.respond_with("CodeConfigNotFound", 400, command="start", message=HOSTILE)
    files = {"a.yaml": schedule({
        "broken": [(in_seconds(0.3), in_seconds(60))],
        "news": [(in_seconds(1.2), in_seconds(60))],
        "later": [(in_seconds(3600), in_seconds(7200))],
    }, zone="Asia/Shanghai")}  # fmt: skip
    async with serve(files) as served:
        doc = await until(lambda d: recording(d) == ["news"] and d["errors"], served)
    validate(doc, SCHEMA)
    rec = doc["recording"]["items"][0]
    assert rec["stream"] == "play.example.com/live/news" and rec["phase"] == "recording"
    assert (rec["last_command"], rec["last_outcome"]) == ("start", "succeeded")
    assert rec["source"].startswith("schedules/a.yaml:")
    (nxt,) = doc["upcoming"]["items"]
    assert nxt["stream"] == "play.example.com/live/later" and nxt["zone"] == "Asia/Shanghai"
    (err,) = doc["errors"]
    assert err["stream"] == "play.example.com/live/broken" and err["code"] == "CodeConfigNotFound"
    assert err["request_id"] and err["message"] == HOSTILE and err["reason"] == "fatal"
    assert doc["accounts"][0]["quotas"][0]["api"] == "RealTimeRecordCommand"
    # unhealthy: the refused start of "broken" keeps /healthz failing for 10 min
    assert doc["healthy"] is False and doc["role"] is None and doc["results"] is None


async def test_page_is_get_and_head_only_with_its_security_headers_and_no_secret(
    serve: Serve,
) -> None:
    async with serve({"a.yaml": schedule({"news": [(in_seconds(0.2), in_seconds(60))]})}) as s:
        status, headers, page = await fetch(s.url + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        status, headers, body = await fetch(s.url + "/", "HEAD")
        assert status == 200 and body == ""
        for method in ("POST", "PUT", "DELETE"):
            assert (await fetch(s.url + "/", method))[0] == 405
            assert (await fetch(s.url + "/api/status", method))[0] == 405
        _, headers, doc = await fetch(s.url + "/api/status")
        assert headers["Content-Type"].startswith("application/json")
        assert "nosniff" in headers["X-Content-Type-Options"]
    assert TEST_SECRET not in page and TEST_SECRET not in doc


async def test_stream_filter_and_paging_bound_the_next_windows(serve: Serve) -> None:
    many = [(in_seconds(3600 + i * 60), in_seconds(3630 + i * 60)) for i in range(120)]
    files = {"a.yaml": schedule({"news": many, "sports": many[:3]})}
    async with serve(files) as served:
        first = await status_json(served)
        assert first["upcoming"]["total"] == 123 and len(first["upcoming"]["items"]) == 50
        assert first["upcoming"]["has_next"] is True
        only = await status_json(served, "?stream=sports")
        assert only["upcoming"]["total"] == 3
        assert {i["stream"] for i in only["upcoming"]["items"]} == {"play.example.com/live/sports"}
        last = await status_json(served, "?stream=live/news&page=2")
        assert len(last["upcoming"]["items"]) == 20 and last["upcoming"]["has_next"] is False
        _, _, page = await fetch(served.url + "/?stream=news")
        assert 'href="?stream=news&amp;page=1"' in page  # the next page keeps the filter


async def test_a_broken_file_with_a_hostile_name_is_listed_escaped(serve: Serve) -> None:
    name = f"{HOSTILE}.yaml"
    files = {"a.yaml": schedule({"news": [(in_seconds(60), in_seconds(120))]}),
             name: "streams: [\n"}  # fmt: skip
    async with serve(files) as served:
        doc = await status_json(served)
        _, _, page = await fetch(served.url + "/")
    (problem,) = doc["file_problems"]
    assert HOSTILE in problem["location"] and problem["severity"] == "error"
    assert HOSTILE not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


async def test_page_answers_503_when_the_daemons_loop_is_blocked(serve: Serve) -> None:
    async with serve({"a.yaml": schedule({"news": [(in_seconds(60), in_seconds(120))]})}) as s:
        await status_json(s)  # the index is built; what follows waits on the loop only
        answer: list[int] = []

        def get() -> None:
            try:
                with urllib.request.urlopen(s.url + "/", timeout=10) as response:
                    answer.append(response.status)
            except urllib.error.HTTPError as exc:
                answer.append(exc.code)

        thread = threading.Thread(target=get)
        thread.start()
        time.sleep(3.0)  # noqa: ASYNC251 - blocks the daemon's loop, deliberately
        thread.join(10)
    assert answer == [503]


async def test_sections_of_other_features_appear_when_their_feed_is_given(serve: Serve) -> None:
    now = in_seconds(0)
    result = m.WindowResult(stream="play.example.com/live/news", window="w", start=now, end=now,
                            result="ok", coverage=0.995)  # fmt: skip
    expires = in_seconds(3000)
    feeds = Feeds(
        role=lambda: m.Role(role="standby", cluster="main", epoch=7),
        results=lambda needle, limit: [result] if needle in result.stream else [],
        credentials=lambda: {"default": ("ecs_ram_role", expires)},
    )
    files = {"a.yaml": schedule({"news": [(in_seconds(60), in_seconds(120))]})}
    async with serve(files, feeds) as served:
        doc = await status_json(served)
        filtered = await status_json(served, "?stream=sports")
        _, _, page = await fetch(served.url + "/")
    validate(doc, SCHEMA)
    assert doc["role"]["role"] == "standby" and doc["results"][0]["coverage"] == 0.995
    assert doc["accounts"][0]["credential_source"] == "ecs_ram_role"
    assert filtered["results"] == []
    assert "standby" in page and 'class="cell r-ok"' in page and "ecs_ram_role" in page
