"""One schedule file (liverecd.schedule.parse.load_schedule_file): the format of DESIGN.md §4."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from liverecd.errors import ConfigError
from liverecd.schedule.model import CronWindow, Finalize, OneOffWindow, ScheduleFile, StreamKey
from liverecd.schedule.parse import load_schedule_file

HEAD = "domain: play.example.com\napp: live\n"


def _load(tmp_path: Path, text: str) -> ScheduleFile:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_schedule_file(path, display="s.yaml")


def _errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return [str(p) for p in info.value.problems if p.severity == "error"]


def _windows(text: str) -> str:
    return f"{HEAD}streams:\n  - name: news\n    windows:\n{text}"


def test_the_design_example_loads(tmp_path: Path) -> None:
    text = """\
timezone: Asia/Shanghai
domain: play.example.com
app: live
finalize: immediate
streams:
  - name: news
    windows:
      - start: 2026-11-25T20:00:00+08:00
        end:   2026-11-25T21:00:00+08:00
      - cron: "0 19 * * mon-fri"
        duration: 1h30m
"""
    loaded = _load(tmp_path, text)
    assert loaded.timezone == ZoneInfo("Asia/Shanghai")
    (stream,) = loaded.streams
    assert stream.key == StreamKey("play.example.com", "live", "news")
    assert stream.finalize is Finalize.IMMEDIATE
    assert stream.delay == timedelta(seconds=180)
    one_off, recurring = stream.windows
    assert isinstance(one_off, OneOffWindow)
    assert one_off.start == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert one_off.end == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert (one_off.source.file, one_off.source.line) == ("s.yaml", 8)
    assert isinstance(recurring, CronWindow)
    assert recurring.cron.hours == {19}
    assert recurring.duration == timedelta(hours=1, minutes=30)
    assert recurring.source.line == 10
    assert loaded.warnings == ()


def test_timezone_defaults_to_utc(tmp_path: Path) -> None:
    loaded = _load(tmp_path, _windows("      - {start: 2026-12-18T20:00, end: 2026-12-18T21:00}\n"))
    assert loaded.timezone == ZoneInfo("UTC")
    window = loaded.streams[0].windows[0]
    assert isinstance(window, OneOffWindow)
    assert window.start == datetime(2026, 12, 18, 20, tzinfo=UTC)


def test_local_times_use_the_file_zone_and_offsets_are_kept(tmp_path: Path) -> None:
    text = "timezone: Europe/London\n" + _windows(
        "      - start: 2026-07-01T20:00\n        end: 2026-07-01T21:00:00Z\n"
    )
    window = _load(tmp_path, text).streams[0].windows[0]
    assert isinstance(window, OneOffWindow)
    assert window.start == datetime(2026, 7, 1, 19, tzinfo=UTC)  # BST is UTC+1
    assert window.end == datetime(2026, 7, 1, 21, tzinfo=UTC)


def test_settings_cascade_from_file_to_stream_to_window(tmp_path: Path) -> None:
    text = """\
domain: play.example.com
app: live
finalize: delayed
delay: 5m
ingest_domain: push.example.com
pad_before: 1m
pad_after: 2m
split: true
streams:
  - name: a
    windows:
      - {cron: "0 19 * * *", duration: 1h, pad_before: 30s}
  - name: b
    domain: other.example.com
    app: vod
    finalize: immediate
    delay: 15s
    ingest_domain: in.example.com
    pad_after: 0s
    split: false
    enabled: false
    windows: []
"""
    a, b = _load(tmp_path, text).streams
    assert a.key == StreamKey("play.example.com", "live", "a")
    assert (a.finalize, a.delay, a.ingest_domain) == (
        Finalize.DELAYED,
        timedelta(minutes=5),
        "push.example.com",
    )
    assert (a.pad_before, a.pad_after, a.split, a.enabled) == (
        timedelta(minutes=1),
        timedelta(minutes=2),
        True,
        True,
    )
    window = a.windows[0]
    assert (window.pad_before, window.pad_after) == (timedelta(seconds=30), None)
    assert b.key == StreamKey("other.example.com", "vod", "b")
    assert (b.finalize, b.delay, b.ingest_domain) == (
        Finalize.IMMEDIATE,
        timedelta(seconds=15),
        "in.example.com",
    )
    assert (b.pad_before, b.pad_after, b.split, b.enabled) == (
        timedelta(minutes=1),
        timedelta(0),
        False,
        False,
    )


def test_except_dates_ranges_and_mappings_add_up(tmp_path: Path) -> None:
    text = """\
domain: d
app: a
except: [2026-12-25, "2026-12-30..2027-01-02"]
streams:
  - name: s
    except:
      - {from: 2027-02-16, to: 2027-02-18}
    windows:
      - cron: "0 19 * * *"
        duration: 1h
        except: 2027-05-01
"""
    (stream,) = _load(tmp_path, text).streams
    assert [(r.first, r.last) for r in stream.excepts] == [
        (date(2026, 12, 25), date(2026, 12, 25)),
        (date(2026, 12, 30), date(2027, 1, 2)),
        (date(2027, 2, 16), date(2027, 2, 18)),
    ]
    window = stream.windows[0]
    assert isinstance(window, CronWindow)
    assert [(r.first, r.last) for r in window.excepts] == [(date(2027, 5, 1), date(2027, 5, 1))]
    assert date(2027, 1, 1) in stream.excepts[1]
    assert stream.excepts[1].source.line == 3


@pytest.mark.parametrize("name", ["no", "on", "yes", "off", "123", "0123", "1.10", "y"])
def test_stream_names_that_yaml11_would_mangle_are_kept_as_written(
    tmp_path: Path, name: str
) -> None:
    (stream,) = _load(tmp_path, f"{HEAD}streams:\n  - name: {name}\n    windows: []\n").streams
    assert stream.key.stream == name


def test_empty_streams_list_is_valid(tmp_path: Path) -> None:
    assert _load(tmp_path, "streams: []\n").streams == ()


def test_empty_windows_list_is_a_warning(tmp_path: Path) -> None:
    loaded = _load(tmp_path, f"{HEAD}streams:\n  - name: a\n    windows: []\n")
    assert [str(w) for w in loaded.warnings] == [
        "s.yaml:5:14: warning: streams[0].windows: no windows: this stream never records"
    ]


def test_dst_gap_and_ambiguous_one_off_times_are_warnings(tmp_path: Path) -> None:
    text = "timezone: Europe/London\n" + _windows(
        "      - start: 2027-03-28T01:30\n        end: 2027-03-28T04:00\n"
        "      - start: 2027-10-31T01:30\n        end: 2027-10-31T03:00\n"
    )
    loaded = _load(tmp_path, text)
    assert [str(w) for w in loaded.warnings] == [
        "s.yaml:7:16: warning: streams[0].windows[0].start: 2027-03-28T01:30 does not exist in "
        "Europe/London (clocks spring forward); it is taken as 2027-03-28T02:30+01:00",
        "s.yaml:9:16: warning: streams[0].windows[1].start: 2027-10-31T01:30 happens twice in "
        "Europe/London (clocks fall back); the first, 2027-10-31T01:30+01:00, is used",
    ]
    gap, ambiguous = loaded.streams[0].windows
    assert gap.start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 02:30 BST
    assert ambiguous.start == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # first 01:30, BST


def test_one_off_on_an_except_date_still_records_with_a_warning(tmp_path: Path) -> None:
    text = f"{HEAD}except: [2026-12-25]\nstreams:\n  - name: a\n    windows:\n" + (
        "      - {start: 2026-12-25T20:00, end: 2026-12-25T21:00}\n"
    )
    loaded = _load(tmp_path, text)
    assert len(loaded.streams[0].windows) == 1
    assert "falls on an except date" in str(loaded.warnings[0])


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    text = """\
timezone: Mars/Olympus
domain: d
app: a
streams:
  - name: a
    windows:
      - {cron: "0 25 * * *", duration: 1h}
      - {start: 2026-12-18, end: 2026-12-18T10:00}
  - name: b
    enabled: yes
    windows:
      - {cron: "0 1 * * *", duration: 0}
"""
    errors = _errors(tmp_path, text)
    assert [e.split(": ")[0] for e in errors] == [
        "s.yaml:1:11",
        "s.yaml:7:16",
        "s.yaml:8:17",
        "s.yaml:10:14",
        "s.yaml:12:39",
    ]


def test_domain_and_app_are_required_somewhere(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "streams:\n  - name: a\n    windows: []\n")
    assert errors == [
        "s.yaml:2:5: streams[0]: stream 'a' has no domain: set domain at the top of the file "
        "or in the stream",
        "s.yaml:2:5: streams[0]: stream 'a' has no app: set app at the top of the file "
        "or in the stream",
    ]


def test_same_name_with_another_app_is_another_stream(tmp_path: Path) -> None:
    text = f"{HEAD}streams:\n  - name: a\n    windows: []\n  - {{name: a, app: vod, windows: []}}\n"
    assert len(_load(tmp_path, text).streams) == 2


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("{start: 2026-12-18T20:00}", "missing required key 'end'"),
        ("{cron: '0 19 * * *'}", "missing required key 'duration'"),
        ("{duration: 1h}", "missing required key 'cron'"),
        ("{cron: 5, duration: 1h}", 'expected a cron expression such as "0 19 * * mon-fri"'),
        ("{cron: '0 19 * * *', duration: 8d}", "must be at most 168h"),
        ("{cron: '0 19 * * *', duration: 1h, pad_after: 2d}", "must be at most 24h"),
        ("{start: 2026-12-18T20:00, end: 20:00}", "is not an ISO 8601 date and time"),
        ("{start: 2026-12-18T20:00, end: 2026-12-18T25:00}", "is not an ISO 8601 date and time"),
        ("[a, b]", "expected a mapping, got a list"),
    ],
)
def test_window_errors(tmp_path: Path, window: str, message: str) -> None:
    errors = _errors(tmp_path, _windows(f"      - {window}\n"))
    assert any(message in e for e in errors), errors


def test_file_level_values_that_are_not_mappings(tmp_path: Path) -> None:
    assert _errors(tmp_path, "just text\n") == ["s.yaml:1:1: expected a mapping, got 'just text'"]
