"""Hostile schedule files (issue 7, item 4, first half): whatever bytes a schedule file holds, the
loader either accepts it (and the timeline expands it over the next two days without error) or
raises `ConfigError` whose every problem names the file, and a line and column inside the
document unless the problem is with the whole file (empty, binary, not UTF-8, syntax beyond
repair...). No other exception, ever.

Inputs come from hypothesis: YAML documents dumped from random trees of maps, lists and
scalars (free-form, and shaped like a schedule with the format's own keys and plausible
values), raw text and raw bytes, and mutations of the shipped examples in config/schedules
(lines deleted, duplicated, swapped; characters replaced by YAML's special ones; inserted text;
truncation). The folder-level loader (`load_schedules`, what the daemon calls) must never raise
at all. Example counts are modest to keep the suite fast (11,500 examples ran clean once by
hand); the hypothesis database replays any failure found. What the fuzzing found on the way
(numbers past timedelta's range, instants near year 1 or 9999) is pinned down at the end.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liverecd.errors import ConfigError, Problem
from liverecd.schedule.config import load_config
from liverecd.schedule.loader import load_schedules
from liverecd.schedule.model import Schedule
from liverecd.schedule.parse import FILE_KEYS, STREAM_KEYS, WINDOW_KEYS, load_schedule_file
from liverecd.schedule.timeline import Timeline

EXAMPLES = sorted((Path(__file__).parents[2] / "config" / "schedules").glob("*.yaml"))
DISPLAY = "fuzz.yaml"
NOW = datetime(2026, 12, 18, 10, 0, tzinfo=UTC)
# Problems that are about the whole file and so carry no line (DESIGN.md §5: `FILE: message`).
WHOLE_FILE = (
    "empty file",
    "binary file",
    "UTF-16",
    "not UTF-8",
    "nesting is too deep",
    "unacceptable character",
    "larger than 10 MB",
    "YAML syntax error",
)
YAML_BREAKS = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies ------------------------------------------------------------------------------

PLAUSIBLE = st.sampled_from(
    [
        "0 19 * * mon-fri", "*/15 * * * *", "@daily", "0 24 * * *", "1h30m", "90s", "0s", "-5m",
        "2026-11-25T20:00:00+08:00", "2026-12-19T10:00", "2026-02-30", "25:00", "Asia/Shanghai",
        "Mars/Olympus", "immediate", "delayed", "play.example.com", "a/b", "true", "no", "",
        "2026-10-01..2026-10-07", "2026-11-25T20:00:00+08:00", "2026-11-25T21:00:00+08:00",
        "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2199-12-31T23:00:00-12:00",
        "99999999999d", 1.0e20, 10**30,
    ]
)  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8"), max_size=20)  # no lone surrogates
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), TEXT, PLAUSIBLE,
    st.dates(), st.datetimes(timezones=st.sampled_from([UTC, None])),
)  # fmt: skip
KEYS = st.one_of(st.sampled_from(sorted(FILE_KEYS | STREAM_KEYS | WINDOW_KEYS)), TEXT)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def _shaped(keys: frozenset[str], value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Maps that mostly use the format's own keys for one level of a schedule."""
    return st.dictionaries(st.sampled_from(sorted(keys)) | TEXT, value, max_size=len(keys))


VALUES = st.one_of(SCALARS, TREES)
WINDOW = _shaped(WINDOW_KEYS, st.one_of(PLAUSIBLE, VALUES))
STREAM = _shaped(STREAM_KEYS, st.one_of(st.lists(WINDOW, max_size=3), PLAUSIBLE, VALUES))
SCHEDULE = _shaped(FILE_KEYS, st.one_of(st.lists(STREAM, max_size=3), PLAUSIBLE, VALUES))

SPECIAL = list(":-[]{}*&!|>'\"%@`#,? \t\n\x00\x7f\u00e9\ufeff\u2028")


@st.composite
def mutated_example(draw: st.DrawFn) -> bytes:
    """One of the shipped examples with 1-4 random edits."""
    text = draw(st.sampled_from(EXAMPLES)).read_text()
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True) or [""]
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "char", "insert", "truncate"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        text = "".join(lines)
        at = draw(st.integers(0, max(0, len(text) - 1)))
        if op == "char":
            text = text[:at] + draw(st.sampled_from(SPECIAL)) + text[at + 1 :]
        elif op == "insert":
            text = text[:at] + draw(TEXT) + text[at:]
        elif op == "truncate":
            text = text[:at]
    return text.encode("utf-8", "surrogatepass")


def dumped(tree: object) -> bytes:
    return yaml.safe_dump(tree, allow_unicode=True).encode("utf-8", "surrogatepass")


# -- the property ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """One scratch folder for every example (a tmp_path per example would be slow)."""
    with tempfile.TemporaryDirectory(prefix="liverecd-fuzz-") as name:
        root = Path(name)
        (root / "liverecd.yaml").write_text("schedules:\n  - schedules/*.yaml\n")
        (root / "schedules").mkdir()
        yield root


def assert_located(problems: tuple[Problem, ...], content: bytes) -> None:
    """Every problem names the file, and a line inside it unless it is about the whole file."""
    assert problems
    # YAML also breaks lines at \r, NEL, U+2028 and U+2029, and so do the marks it reports.
    last_line = len(YAML_BREAKS.split(content.decode("utf-8", "replace")))
    for p in problems:
        assert p.file == DISPLAY, p
        if p.line is None:
            assert p.col is None and any(w in p.message for w in WHOLE_FILE), p
        else:
            assert 1 <= p.line <= last_line + 1, (p, last_line)
            assert p.col is None or p.col >= 1, p


def load_one(folder: Path, content: bytes) -> None:
    """The property, for one file's content."""
    path = folder / "schedules" / DISPLAY
    path.write_bytes(content)
    try:
        loaded = load_schedule_file(path, display=DISPLAY)
    except ConfigError as exc:
        assert_located(exc.problems, content)
    else:
        Timeline(Schedule(files=(loaded,))).recordings(NOW, NOW + timedelta(hours=48))
    result = load_schedules(
        load_config(folder / "liverecd.yaml"), display_base=folder / "schedules"
    )
    for p in result.errors:
        assert p.file == DISPLAY, p
        assert p.line is not None or any(w in p.message for w in WHOLE_FILE), p


@FUZZ
@given(tree=st.one_of(TREES, SCHEDULE))
def test_any_yaml_document_loads_or_fails_with_located_problems(folder: Path, tree: object) -> None:
    load_one(folder, dumped(tree))


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_loads_or_fails_with_located_problems(folder: Path, text: str) -> None:
    load_one(folder, text.encode("utf-8", "surrogatepass"))


@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=400))
def test_any_bytes_load_or_fail_with_located_problems(folder: Path, data: bytes) -> None:
    load_one(folder, data)


@settings(FUZZ, max_examples=250)
@given(content=mutated_example())
def test_mutated_examples_load_or_fail_with_located_problems(folder: Path, content: bytes) -> None:
    load_one(folder, content)


# -- extremes the fuzzing found (each once let an OverflowError through) ----------------------

HEAD = "domain: play.example.com\napp: live\nstreams:\n  - name: a\n    windows:\n      - "


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            f"delay: 1.0e+20\n{HEAD}cron: '0 19 * * *'\n        duration: 1h\n",
            id="number-of-seconds-past-timedelta",
        ),
        pytest.param(
            f"{HEAD}cron: '0 19 * * *'\n        duration: 1h\n        pad_before: 99999999999d\n",
            id="duration-with-units-past-timedelta",
        ),
        pytest.param(
            f"{HEAD}start: 2026-01-01T00:00:00Z\n        end: 9999-12-31T23:59:59-12:00\n",
            id="instant-past-year-9999-in-utc",
        ),
        pytest.param(
            f"{HEAD}start: 9999-12-31T22:00:00Z\n        end: 9999-12-31T23:00:00Z\n"
            "        pad_after: 2h\n",
            id="padding-past-year-9999",
        ),
    ],
)
def test_extreme_values_are_config_errors_too(folder: Path, content: str) -> None:
    load_one(folder, content.encode())
    with pytest.raises(ConfigError):
        load_schedule_file(folder / "schedules" / DISPLAY, display=DISPLAY)


def test_extreme_durations_in_the_main_config_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "liverecd.yaml"
    path.write_text("api:\n  timeout: 1.0e+20\nschedules:\n  - s/*.yaml\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].line == 2
