"""The view model without a browser: the window index, the ledger, the query, the rendering."""

from __future__ import annotations

import base64
import hashlib
import html.parser
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import ValidationError, validate

from liverecd.api.result import ApiResult, Outcome
from liverecd.config import Source
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.ops.page import index as index_module
from liverecd.ops.page import model as m
from liverecd.ops.page import render
from liverecd.ops.page.index import IndexCache, WindowIndex
from liverecd.ops.page.ledger import Ledger
from liverecd.schedule.actions import Recording
from liverecd.streams import Command, StreamKey

T0 = datetime(2026, 12, 18, 12, 0, tzinfo=UTC)
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "status.schema.json").read_text())
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">&amp;'


def rec(stream: str, start_min: int, length_min: int = 30) -> Recording:
    start = T0 + timedelta(minutes=start_min)
    return Recording(
        window_id=f"{stream}@{start_min}", stream=StreamKey("d.example", "live", stream),
        start=start, end=start + timedelta(minutes=length_min), sources=(Source("a.yaml", 3),),
    )  # fmt: skip


def timeline(*recs: Recording) -> dict[str, Recording]:
    return {r.window_id: r for r in recs}


def test_upcoming_lists_windows_after_now_by_start_with_the_total() -> None:
    index = WindowIndex(timeline(rec("b", 30), rec("a", 10), rec("c", -5), rec("a", 60)))
    items, total = index.upcoming(T0, limit=2)
    assert [r.window_id for r in items] == ["a@10", "b@30"]
    assert total == 3
    items, _ = index.upcoming(T0, offset=2, limit=2)
    assert [r.window_id for r in items] == ["a@60"]


def test_upcoming_filters_by_stream_substring() -> None:
    index = WindowIndex(timeline(rec("news", 30), rec("sports", 10), rec("newsroom", 20)))
    items, total = index.upcoming(T0, needle="news")
    assert [r.window_id for r in items] == ["newsroom@20", "news@30"]
    items, total = index.upcoming(T0, needle="news", offset=1)
    assert [r.window_id for r in items] == ["news@30"] and total == 2
    assert total == 2
    assert index.upcoming(T0, needle="nothing") == ([], 0)


@given(
    st.lists(st.tuples(st.sampled_from("abcde"), st.integers(-100, 100)), max_size=40),
    st.sampled_from(["", "a", "b", "live/c", "zz"]),
    st.integers(0, 10),
    st.integers(1, 7),
    st.sampled_from([1, 1_000_000]),  # walk the overall order / merge the streams' runs
)
def test_upcoming_is_the_sorted_filtered_slice_of_every_window(
    wins: list[tuple[str, int]], needle: str, offset: int, limit: int, wide: int
) -> None:
    recs = timeline(*(rec(s, t) for s, t in wins))
    expected = sorted(
        (r for r in recs.values() if r.start > T0 and needle in str(r.stream)),
        key=lambda r: r.start,  # ties in the timeline's order
    )
    with patch.object(index_module, "WIDE", wide):
        items, total = WindowIndex(recs).upcoming(T0, needle=needle, offset=offset, limit=limit)
    assert items == expected[offset : offset + limit]
    assert total == len(expected)


def test_index_cache_rebuilds_only_for_another_timeline_object() -> None:
    cache = IndexCache()
    first = timeline(rec("a", 10))
    assert cache.get(first) is cache.get(first)
    assert cache.get(dict(first)) is not cache.get(first)


def settled(reason: str, *, code: str | None = None, message: str | None = None) -> Settled:
    order = Order(command=Command.START, stream=StreamKey("d", "a", "s"), window_id="w1", due=T0)
    result = ApiResult(400, "REQ-1", code, message)
    outcome = Outcome.FATAL if reason == "fatal" else Outcome.OK
    return Settled(order=order, command=Command.START, reason=reason, attempts=1,
                   outcome=outcome, result=result, sent_at=T0)  # fmt: skip


def test_ledger_keeps_failures_newest_first_with_code_and_request_id() -> None:
    ledger = Ledger(max_errors=2)
    ledger.settled(settled("succeeded"), T0)
    assert ledger.errors() == ()
    for code in ("A", "B", "C"):
        ledger.settled(settled("fatal", code=code), T0)
    assert [e.code for e in ledger.errors()] == ["C", "B"]
    assert ledger.errors()[0].request_id == "REQ-1"
    assert ledger.errors("nomatch") == ()
    last = ledger.last("w1")
    assert last is not None and (last.command, last.reason) == ("start", "fatal")


def test_ledger_forgets_the_oldest_windows_beyond_its_bound() -> None:
    ledger = Ledger(max_windows=2)
    for wid in ("w1", "w2", "w3"):
        s = settled("succeeded")
        order = Order(command=Command.START, stream=s.order.stream, window_id=wid, due=T0)
        ledger.settled(Settled(order=order, command=s.command, reason="ok", attempts=1), T0)
    assert ledger.last("w1") is None and ledger.last("w3") is not None


def test_query_ignores_nonsense() -> None:
    assert m.Query.parse({"page": "x"}) == m.Query()
    assert m.Query.parse({"page": "-3", "stream": "news"}) == m.Query(stream="news", page=0)
    assert len(m.Query.parse({"stream": "s" * 10_000}).stream) == 200


def model(**overrides: object) -> m.PageModel:
    fields: dict[str, object] = {
        "time": T0, "version": "0.1.0", "started_at": T0 - timedelta(hours=1), "healthy": True,
        "problems": (), "query": m.Query(), "windows_total": 3, "files_loaded": 1,
        "file_problems": (), "accounts": (m.Account(name="default", region="cn-shanghai"),),
        "recording": m.Listing(items=(), total=0, offset=0, page_size=50),
        "upcoming": m.Listing(items=(), total=0, offset=0, page_size=50), "errors": (),
    }  # fmt: skip
    fields.update(overrides)
    return m.PageModel(**fields)  # type: ignore[arg-type]


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def hostile_model() -> m.PageModel:
    error = m.ErrorEntry(
        time=T0, stream=f"d/live/{HOSTILE}", window="w", command="start", reason="fatal",
        code=HOSTILE, request_id=HOSTILE, message=HOSTILE,
    )  # fmt: skip
    problem = m.FileProblem(location=f"{HOSTILE}.yaml:1:1", severity="error", message=HOSTILE)
    return model(errors=(error,), file_problems=(problem,), query=m.Query(stream=HOSTILE))


def test_hostile_text_is_escaped_and_adds_no_element() -> None:
    page = render.html(hostile_model())
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "onerror" not in parser.attrs
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # an entity in the text is shown, not interpreted


def test_the_inline_stylesheet_is_the_one_the_policy_allows() -> None:
    page = render.html(model())
    css = re.search(r"<style>(.*?)</style>", page, re.S)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in render.CSP
    assert "default-src 'none'" in render.CSP and "script-src" not in render.CSP


def test_sections_of_absent_features_are_not_rendered_and_present_ones_are() -> None:
    page = render.html(model())
    assert 'id="results"' not in page and 'id="role"' not in page
    gap = m.Gap(start=T0, end=T0, cause="missed")
    result = m.WindowResult(
        stream="d/live/news", window="w", start=T0, end=T0, result="gap", coverage=0.5, gaps=(gap,)
    )
    page = render.html(model(results=(result,), role=m.Role(role="standby", cluster="main")))
    assert 'class="cell r-gap"' in page and "50.0%" in page
    assert "standby" in page


def test_json_has_every_section_with_iso_times_and_nulls_for_absent_features() -> None:
    doc = json.loads(render.as_json(model()))
    assert doc["schema"] == m.SCHEMA_VERSION
    assert doc["time"] == "2026-12-18T12:00:00Z"
    assert doc["uptime_seconds"] == 3600
    assert doc["role"] is None and doc["results"] is None
    assert doc["upcoming"] == {"items": [], "total": 0, "offset": 0, "page_size": 50,
                               "has_next": False}  # fmt: skip
    assert doc["accounts"][0]["credential_expires_at"] is None


def test_json_of_every_section_filled_matches_the_documented_schema() -> None:
    rec = m.Recording(
        stream="d/live/a",
        window="w",
        start=T0,
        end=T0,
        since=None,
        phase="opening",
        last_command=None,
        last_outcome=None,
        source="a.yaml:3",
    )
    nxt = m.Upcoming(
        stream="d/live/a",
        window="w",
        start=T0,
        end=T0,
        command="start",
        zone="Asia/Shanghai",
        source="a.yaml:3",
    )
    gap = m.Gap(start=T0, end=T0 + timedelta(seconds=5), cause="absent")
    result = m.WindowResult(
        stream="d/live/a", window="w", start=T0, end=T0, result="absent", coverage=0.9, gaps=(gap,)
    )
    quota = m.Quota(api="RealTimeRecordCommand", limit=50, rate=35.0, used_last_second=12)
    account = m.Account(
        name="partner",
        region="cn-beijing",
        quotas=(quota,),
        credential_source="ecs_ram_role",
        credential_expires_at=T0,
    )
    doc = m.to_json(model(
        recording=m.Listing(items=(rec,), total=1, offset=0, page_size=50),
        upcoming=m.Listing(items=(nxt,), total=70, offset=50, page_size=50),
        results=(result,), role=m.Role(role="active", cluster="main", epoch=3),
        accounts=(account,), errors=hostile_model().errors,
        file_problems=hostile_model().file_problems, problems=("event loop wedged",),
        healthy=False,
    ))  # fmt: skip
    validate(doc, SCHEMA)
    assert doc["results"][0]["gaps"] == [
        {"from": "2026-12-18T12:00:00Z", "to": "2026-12-18T12:00:05Z", "cause": "absent"}
    ]
    doc["upcoming"]["items"][0]["command"] = "stop"
    with pytest.raises(ValidationError):
        validate(doc, SCHEMA)


def test_countdown_reads_like_a_person_would_say_it() -> None:
    assert render.countdown(-1) == "now"
    assert render.countdown(12) == "in 12s"
    assert render.countdown(125) == "in 2m 05s"
    assert render.countdown(3 * 3600 + 120) == "in 3h 02m"
    assert render.countdown(2 * 86400 + 3600) == "in 2d 01h"
