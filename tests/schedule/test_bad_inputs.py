"""A table of bad inputs: each is refused with the expected FILE:LINE:COL and message.

Each case writes a main config and schedule files into a temporary folder (the working folder,
so messages show paths relative to it) and checks the problems `check` would print. When the
`check` command exists, the same table runs through `liverecd check -c` too (exit 1, the
message printed, never a traceback).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from liverecd.errors import ConfigError
from liverecd.schedule.config import load_config
from liverecd.schedule.loader import load_schedules

CONFIG = "schedules:\n  - schedules/*.yaml\n"
HEAD = "domain: play.example.com\napp: live\n"


def _stream(window: str, *, extra: str = "") -> str:
    """A schedule with one stream whose single window is `window` (a YAML mapping body)."""
    body = "\n".join("        " + line for line in window.splitlines())
    return f"{HEAD}streams:\n  - name: news\n{extra}    windows:\n      - \n{body}\n"


def _big_file(path: Path) -> None:
    with path.open("wb") as fh:
        fh.write(b"streams: []\n")
        chunk = b"# padding " + b"x" * 1013 + b"\n"
        for _ in range(20 * 1024):
            fh.write(chunk)


_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    + "streams: []\n"
)


@dataclass(frozen=True)
class Case:
    id: str
    schedule: str | bytes | Callable[[Path], None] | None
    where: str  # the expected FILE:LINE:COL (or FILE) the problem starts with
    message: str  # a fragment of the expected message
    config: str = CONFIG
    others: dict[str, str] = field(default_factory=dict)


BAD = "schedules/bad.yaml"
CASES = [
    Case(
        "syntax-unclosed-flow",
        f"{HEAD}streams: [\n  {{name: a\n",
        f"{BAD}:5:1",
        "YAML syntax error",
    ),
    Case(
        "unquoted-cron", _stream("cron: * * * * *\nduration: 1h"), f"{BAD}:7:15", "must be quoted"
    ),
    Case("tab-indent", f"{HEAD}streams:\n\t- name: a\n", f"{BAD}:4:1", "spaces, not tabs"),
    Case("two-documents", "streams: []\n---\nstreams: []\n", f"{BAD}:2:1", "single document"),
    Case("root-is-list", "- name: a\n", f"{BAD}:1:1", "expected a mapping, got a list"),
    Case("streams-wrong-type", f"{HEAD}streams: {{}}\n", f"{BAD}:3:10", "streams: expected a list"),
    Case(
        "name-wrong-type",
        f"{HEAD}streams:\n  - name: [a]\n    windows: []\n",
        f"{BAD}:4:11",
        "streams[0].name: expected a string, got a list",
    ),
    Case(
        "name-boolean",
        f"{HEAD}streams:\n  - name: true\n    windows: []\n",
        f"{BAD}:4:11",
        "quote it",
    ),
    Case(
        "name-with-slash",
        f"{HEAD}streams:\n  - name: a/b\n    windows: []\n",
        f"{BAD}:4:11",
        "must not contain '/'",
    ),
    Case(
        "unknown-file-key",
        f"timezon: UTC\n{HEAD}streams: []\n",
        f"{BAD}:1:1",
        "unknown key 'timezon'; did you mean 'timezone'?",
    ),
    Case(
        "unknown-window-key",
        _stream("cron: '0 19 * * *'\ndurration: 1h"),
        f"{BAD}:8:9",
        "streams[0].windows[0]: unknown key 'durration'; did you mean 'duration'?",
    ),
    Case(
        "bad-zone",
        f"timezone: Asia/Shangai\n{HEAD}streams: []\n",
        f"{BAD}:1:11",
        "unknown time zone 'Asia/Shangai'; did you mean 'Asia/Shanghai'?",
    ),
    Case(
        "cron-out-of-range",
        _stream("cron: '0 24 * * *'\nduration: 1h"),
        f"{BAD}:7:15",
        "streams[0].windows[0].cron: invalid cron '0 24 * * *': "
        "hour field '24': 24 is out of range 0-23",
    ),
    Case(
        "cron-bad-name",
        _stream("cron: '0 19 * * mon-fry'\nduration: 1h"),
        f"{BAD}:7:15",
        "unknown name 'fry'",
    ),
    Case(
        "cron-six-fields",
        _stream("cron: '0 0 19 * * *'\nduration: 1h"),
        f"{BAD}:7:15",
        "expected 5 fields",
    ),
    Case("cron-reboot", _stream("cron: '@reboot'\nduration: 1h"), f"{BAD}:7:15", "@reboot"),
    Case("cron-never", _stream("cron: '0 0 30 feb *'\nduration: 1h"), f"{BAD}:7:15", "never fires"),
    Case(
        "end-before-start",
        _stream("start: 2026-12-18T20:00\nend: 2026-12-18T19:00"),
        f"{BAD}:8:14",
        "streams[0].windows[0].end: end (2026-12-18T19:00) must be after start",
    ),
    Case(
        "end-equals-start",
        _stream("start: 2026-12-18T20:00\nend: 2026-12-18T20:00"),
        f"{BAD}:8:14",
        "must be after start",
    ),
    Case(
        "duplicate-stream",
        f"{HEAD}streams:\n  - name: a\n    windows: []\n  - name: a\n    windows: []\n",
        f"{BAD}:6:5",
        "stream play.example.com/live/a is already listed at line 4",
    ),
    Case(
        "negative-duration",
        _stream("cron: '0 19 * * *'\nduration: -30"),
        f"{BAD}:8:19",
        "duration: must be longer than 0s, got -30",
    ),
    Case(
        "zero-duration",
        _stream("cron: '0 19 * * *'\nduration: 0s"),
        f"{BAD}:8:19",
        "must be longer than 0s",
    ),
    Case(
        "negative-pad",
        _stream("cron: '0 19 * * *'\nduration: 1h\npad_before: -5"),
        f"{BAD}:9:21",
        "pad_before: must be at least 0s",
    ),
    Case(
        "delay-too-short",
        f"{HEAD}delay: 5s\nstreams: []\n",
        f"{BAD}:3:8",
        "delay: must be at least 15s",
    ),
    Case(
        "finalize-unknown",
        f"{HEAD}finalize: immediately\nstreams: []\n",
        f"{BAD}:3:11",
        "did you mean 'immediate'?",
    ),
    Case("empty-file", "", BAD, "empty file (a truncated save?)"),
    Case("comments-only", "# nothing yet\n\n", BAD, "empty file"),
    Case("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", BAD, "binary file (NUL byte"),
    Case(
        "not-utf8", b"streams: []\n# caf\xe9\n", BAD, "not UTF-8 text: invalid byte 0xe9 at line 2"
    ),
    Case("twenty-megabytes", _big_file, BAD, "file is larger than 10 MB"),
    Case("alias-bomb", _BOMB, f"{BAD}:", "alias bomb"),
    Case("recursive-alias", "a: &a [*a]\nstreams: []\n", f"{BAD}:", "recursive alias"),
    Case(
        "duplicate-key",
        f"{HEAD}app: vod\nstreams: []\n",
        f"{BAD}:3:1",
        "duplicate key 'app' (first at line 2)",
    ),
    Case(
        "yes-as-boolean",
        f"{HEAD}enabled: yes\nstreams: []\n",
        f"{BAD}:3:10",
        "expected true or false, got 'yes' (liverecd reads YAML 1.2",
    ),
    Case(
        "sexagesimal-duration",
        _stream("cron: '0 19 * * *'\nduration: 10:30"),
        f"{BAD}:8:19",
        "'10:30' is not a duration",
    ),
    Case(
        "bare-date-start",
        _stream("start: 2026-12-18\nend: 2026-12-19T00:00"),
        f"{BAD}:7:16",
        "'2026-12-18' is a date without a time",
    ),
    Case(
        "bad-instant",
        _stream("start: tomorrow 8pm\nend: 2026-12-19T00:00"),
        f"{BAD}:7:16",
        "not an ISO 8601 date and time",
    ),
    Case(
        "credentials-in-schedule",
        f"{HEAD}access_key_secret: hunter2\nstreams: []\n",
        f"{BAD}:3:1",
        "credentials never go in YAML",
    ),
    Case(
        "python-tag",
        f"{HEAD}streams: !!python/object/apply:os.system ['true']\n",
        f"{BAD}:3:10",
        "tag !!python/object/apply:os.system is not allowed",
    ),
    Case(
        "missing-domain",
        "app: live\nstreams:\n  - name: a\n    windows: []\n",
        f"{BAD}:3:5",
        "stream 'a' has no domain",
    ),
    Case("missing-streams", HEAD, f"{BAD}:1:1", "missing required key 'streams'"),
    Case(
        "window-both-kinds",
        _stream("start: 2026-12-18T20:00\ncron: '0 19 * * *'"),
        f"{BAD}:7:9",
        "not both",
    ),
    Case("window-neither-kind", _stream("pad_before: 1m"), f"{BAD}:7:9", "got neither"),
    Case(
        "except-reversed",
        f"{HEAD}except: [2026-12-26..2026-12-24]\nstreams: []\n",
        f"{BAD}:3:10",
        "date range ends (2026-12-24) before it begins (2026-12-26)",
    ),
    Case(
        "except-on-one-off",
        _stream("start: 2026-12-18T20:00\nend: 2026-12-18T21:00\nexcept: [2026-12-18]"),
        f"{BAD}:9:9",
        "except applies to recurring (cron) windows only",
    ),
    Case(
        "invalid-date",
        f"{HEAD}except: [2026-02-30]\nstreams: []\n",
        f"{BAD}:3:10",
        "is not a valid date",
    ),
    Case(
        "cross-file-conflict",
        f"{HEAD}finalize: delayed\nstreams:\n  - name: a\n    windows: []\n",
        f"{BAD}:5:5",
        "finalize is delayed here but immediate at schedules/a.yaml:4",
        others={"schedules/a.yaml": f"{HEAD}streams:\n  - name: a\n    windows: []\n"},
    ),
    Case(
        "missing-glob-target",
        None,
        "liverecd.yaml:2:5",
        "schedules[0]: 'schedules/*.yaml' matches no file",
    ),
    Case(
        "config-unknown-key",
        None,
        "liverecd.yaml:3:1",
        "unknown key 'max_leed'; did you mean 'max_lead'?",
        config=CONFIG + "max_leed: 30s\n",
        others={"schedules/a.yaml": "streams: []\n"},
    ),
    Case(
        "config-credentials",
        None,
        "liverecd.yaml:4:3",
        "api.access_key_secret: credentials never go in YAML (this value was not read)",
        config=CONFIG + "api:\n  access_key_secret: FakeSecretForTestVectorsOnly0123\n",
        others={"schedules/a.yaml": "streams: []\n"},
    ),
    Case(
        "config-http-endpoint",
        None,
        "liverecd.yaml:4:13",
        "http:// is allowed for loopback hosts only",
        config=CONFIG + "api:\n  endpoint: http://live.aliyuncs.com\n",
        others={"schedules/a.yaml": "streams: []\n"},
    ),
    Case(
        "config-bad-listen",
        None,
        "liverecd.yaml:4:11",
        "expected HOST:PORT",
        config=CONFIG + "status:\n  listen: 9325\n",
        others={"schedules/a.yaml": "streams: []\n"},
    ),
    Case(
        "config-syntax",
        None,
        "liverecd.yaml:2:",
        "YAML syntax error",
        config="schedules: [a\nb: c\n",
    ),
]


def _write(root: Path, case: Case) -> Path:
    (root / "schedules").mkdir()
    (root / "liverecd.yaml").write_text(case.config)
    for name, text in case.others.items():
        (root / name).write_text(text)
    target = root / BAD
    if callable(case.schedule):
        case.schedule(target)
    elif isinstance(case.schedule, bytes):
        target.write_bytes(case.schedule)
    elif isinstance(case.schedule, str):
        target.write_text(case.schedule)
    return root / "liverecd.yaml"


def _problems(config_path: Path) -> list[str]:
    """The problems `check` reports, as printed lines (errors only)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return [str(p) for p in exc.problems if p.severity == "error"]
    return [str(p) for p in load_schedules(config).errors]


@pytest.mark.timeout(10)  # a guard against hangs, not a speed test (bench/ measures speed)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_place_and_reason(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _write(tmp_path, case)
    problems = _problems(config.relative_to(tmp_path))
    expected_prefix = case.where if case.where.endswith(":") else case.where + ":"
    assert any(p.startswith(expected_prefix) and case.message in p for p in problems), problems


def test_the_table_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_a_credential_value_is_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    case = next(c for c in CASES if c.id == "config-credentials")
    problems = _problems(_write(tmp_path, case).relative_to(tmp_path))
    assert problems
    assert all("FakeSecretForTestVectorsOnly0123" not in p for p in problems)


_HAS_CHECK = importlib.util.find_spec("liverecd.schedule.commands") is not None


@pytest.mark.timeout(10)
@pytest.mark.skipif(not _HAS_CHECK, reason="liverecd.schedule.commands not built yet")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_check_command_exits_1_and_prints_the_problem(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from liverecd.cli import main

    monkeypatch.chdir(tmp_path)
    _write(tmp_path, case)
    code = main(["check", "-c", "liverecd.yaml"])
    out, err = capsys.readouterr()
    assert code == 1
    assert case.message in out + err
    assert "Traceback" not in out + err
