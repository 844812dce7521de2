"""`liverecd check` and `liverecd plan` through the real command line (DESIGN.md §2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from liverecd.cli import main

CONFIG = "schedules:\n  - schedules/*.yaml\nmax_lead: 60s\n"

NEWS = """\
timezone: Asia/Shanghai
domain: play.example.com
app: live
streams:
  - name: news
    windows:
      - cron: "0 19 * * mon-fri"
        duration: 1h30m
  - name: final
    finalize: delayed
    windows:
      - start: 2027-01-04T10:00
        end: 2027-01-04T12:00
"""

NEW_YORK = """\
timezone: America/New_York
domain: play.example.com
app: us
streams:
  - name: night
    windows:
      - cron: "30 2 * * *"
        duration: 1h
  - name: blink
    windows:
      - cron: "0 12 * * *"
        duration: 5s
"""


class Cli:
    """Writes files into a temporary folder and runs the command line there."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        (root / "schedules").mkdir()

    def write(self, files: dict[str, str], config: str = CONFIG) -> None:
        (self.root / "liverecd.yaml").write_text(config)
        for name, text in files.items():
            (self.root / "schedules" / name).write_text(text)

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); never a traceback."""
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.chdir(tmp_path)
    return Cli(tmp_path, capsys)


def test_check_valid_config_exits_0_with_a_summary(run: Cli) -> None:
    run.write({"news.yaml": NEWS})
    code, out, err = run("check", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00:00Z")
    assert code == 0
    assert err == ""
    # Mon 19:00 and Tue 19:00 Shanghai (11:00Z) plus the one-off, in 48 h
    assert out.splitlines()[-1] == "ok: 1 file, 2 streams, 3 windows in the next 48h"


def test_check_warns_about_dst_and_short_windows_and_still_exits_0(run: Cli) -> None:
    run.write({"ny.yaml": NEW_YORK})
    code, out, err = run("check", "-c", "liverecd.yaml", "--from", "2027-03-13T12:00:00Z")
    assert code == 0
    lines = err.splitlines()
    assert lines[0].startswith("schedules/ny.yaml:7:")
    assert "warning: cron '30 2 * * *' matches 2027-03-14 02:30" in lines[0]
    assert lines[1].startswith("schedules/ny.yaml:11:")
    assert "warning: window lasts 5s" in lines[1]
    assert out.splitlines()[-1].startswith("ok: 1 file, 2 streams")
    assert "(2 warnings)" in out


def test_check_names_windows_whose_starts_would_land_late(run: Cli) -> None:
    streams = "".join(
        f'  - name: s{i}\n    windows:\n      - cron: "0 9 * * *"\n        duration: 1h\n'
        for i in range(30)
    )
    config = "api:\n  qps: 10\nschedules:\n  - schedules/*.yaml\nmax_lead: 1s\n"
    run.write({"burst.yaml": f"domain: d.example\napp: live\nstreams:\n{streams}"}, config)
    code, out, err = run(
        "check", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00Z", "--hours", "24"
    )
    assert code == 0
    late = [line for line in err.splitlines() if "late" in line]
    # 1 s of lead at 10/s fits 11 starts by 09:00; the other 19 land 0.1 s ... 1.9 s late:
    # one warning for the instant, not one per stream
    assert len(late) == 1
    assert re.match(r"schedules/burst\.yaml:\d+:\d+: warning: 19 starts \(19 streams\)", late[0])
    assert "land late, by up to 1.90s" in late[0]
    assert "api.qps 10 can send within max_lead 1s" in late[0]
    assert "in the next 24h" in out


def test_check_invalid_schedule_exits_1_naming_file_line_and_column(run: Cli) -> None:
    run.write({"news.yaml": NEWS.replace('"0 19 * * mon-fri"', '"0 25 * * mon-fri"')})
    code, out, err = run("check", "-c", "liverecd.yaml")
    assert code == 1
    assert re.search(r"^schedules/news\.yaml:7:\d+: .*hour field", err, re.MULTILINE)
    assert out.startswith("invalid: 1 error")


def test_check_invalid_config_exits_1(run: Cli) -> None:
    run.write({"news.yaml": NEWS}, CONFIG + "max_leed: 5s\n")
    code, _, err = run("check", "-c", "liverecd.yaml")
    assert code == 1
    assert err.startswith("liverecd.yaml:4:1: unknown key 'max_leed'")


def test_check_missing_config_exits_1(run: Cli) -> None:
    code, _, err = run("check", "-c", "nowhere.yaml")
    assert code == 1
    assert "nowhere.yaml" in err


def test_plan_json_lists_actions_in_order_with_the_contract_fields(run: Cli) -> None:
    run.write({"news.yaml": NEWS})
    code, out, _ = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00:00Z", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [(r["time"], r["command"], r["stream"]) for r in rows] == [
        ("2027-01-04T02:00:00Z", "start", "final"),
        ("2027-01-04T04:00:00Z", "stop", "final"),  # finalize: delayed: no cancel_delay
        ("2027-01-04T11:00:00Z", "start", "news"),
        ("2027-01-04T12:30:00Z", "stop", "news"),
        ("2027-01-04T12:30:00Z", "cancel_delay", "news"),
    ]
    first = rows[0]
    assert set(first) == {
        "time", "command", "domain", "app", "stream", "account", "window", "source",
    }  # fmt: skip
    assert (first["domain"], first["app"]) == ("play.example.com", "live")
    assert first["account"] == "default"
    assert first["window"].startswith("final@2027-01-04T02:00:00Z#")
    assert first["source"] == "schedules/news.yaml:12"


def test_plan_json_adds_send_at_for_starts_that_leave_early(run: Cli) -> None:
    streams = "".join(
        f'  - name: s{i}\n    windows:\n      - cron: "0 9 * * *"\n        duration: 1h\n'
        for i in range(3)
    )
    config = "api:\n  qps: 1\nschedules:\n  - schedules/*.yaml\nmax_lead: 60s\n"
    run.write({"burst.yaml": f"domain: d.example\napp: live\nstreams:\n{streams}"}, config)
    code, out, _ = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00Z", "--format", "json"
    )
    assert code == 0
    starts = [r for r in json.loads(out) if r["command"] == "start"]
    assert [r.get("send_at") for r in starts] == [
        "2027-01-04T08:59:58Z",
        "2027-01-04T08:59:59Z",
        None,
    ]
    assert all("send_at" not in r for r in json.loads(out) if r["command"] != "start")


def test_plan_text_is_an_aligned_table_with_local_and_utc_times(run: Cli) -> None:
    run.write({"news.yaml": NEWS, "ny.yaml": NEW_YORK})
    code, out, _ = run("plan", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00:00Z")
    assert code == 0
    header, *rows = out.splitlines()
    names = ("UTC", "COMMAND", "STREAM", "ACCOUNT", "WINDOW", "SOURCE")
    assert header.split() == ["LOCAL", *names]
    columns = [header.index(name) for name in names]
    for row in rows:
        for col in columns:
            assert row[col - 2 : col] == "  " and row[col] != " ", row
    news = next(r for r in rows if "/live/news" in r)
    assert news.startswith("2027-01-04 19:00:00 +08:00  2027-01-04T11:00:00Z  start")
    assert news.rstrip().endswith("schedules/news.yaml:7")
    night = next(r for r in rows if "/us/night" in r)
    assert night.startswith("2027-01-04 02:30:00 -05:00  2027-01-04T07:30:00Z  start")


def test_plan_from_without_offset_is_utc(run: Cli) -> None:
    run.write({"news.yaml": NEWS})
    _, naive, _ = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-01-04T10:30", "--format", "json"
    )
    _, zulu, _ = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-01-04T10:30Z", "--format", "json"
    )
    _, shanghai, _ = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-01-04T10:30+08:00", "--format", "json"
    )
    assert naive == zulu
    assert naive != shanghai


def test_plan_lists_a_window_open_at_from_with_a_start_at_from(run: Cli) -> None:
    run.write({"news.yaml": NEWS})
    code, out, _ = run(
        "plan",
        "-c",
        "liverecd.yaml",
        "--from",
        "2027-01-04T03:00:00Z",
        "--hours",
        "2",
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [(r["time"], r["command"]) for r in rows] == [
        ("2027-01-04T03:00:00Z", "start"),
        ("2027-01-04T04:00:00Z", "stop"),
    ]
    assert rows[0]["window"] == rows[1]["window"]
    assert rows[0]["window"].startswith("final@2027-01-04T02:00:00Z#")


def test_plan_range_is_half_open(run: Cli) -> None:
    run.write({"news.yaml": NEWS})
    _, out, _ = run(
        "plan",
        "-c",
        "liverecd.yaml",
        "--from",
        "2027-01-04T00:00Z",
        "--hours",
        "2",
        "--format",
        "json",
    )
    assert json.loads(out) == []  # the one-off opens at 02:00, the end of the range
    _, out, _ = run("plan", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00Z", "--hours", "2")
    assert out.startswith("no actions from 2027-01-04T00:00:00Z to 2027-01-04T02:00:00Z")


def test_plan_prints_warnings_and_exits_0(run: Cli) -> None:
    one_off_in_gap = (
        NEW_YORK
        + "  - name: gap\n    windows:\n"
        + "      - start: 2027-03-14T02:30\n        end: 2027-03-14T04:00\n"
    )
    run.write({"ny.yaml": one_off_in_gap})
    code, out, err = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-03-14T00:00Z", "--format", "json"
    )
    assert code == 0
    assert "warning:" in err
    assert any(
        r["stream"] == "gap" and r["time"] == "2027-03-14T07:30:00Z" for r in json.loads(out)
    )


def test_plan_invalid_schedule_exits_1_and_prints_no_plan(run: Cli) -> None:
    run.write({"news.yaml": NEWS.replace("duration: 1h30m", "duration: -5m")})
    code, out, err = run("plan", "-c", "liverecd.yaml", "--format", "json")
    assert code == 1
    assert "schedules/news.yaml:8:" in err
    assert not out.startswith("[")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--from", "yesterday", "not an ISO 8601"),
        ("--hours", "0", "above 0"),
        ("--hours", "x", "above 0"),
    ],
)
def test_plan_bad_options_exit_1_with_a_message(
    run: Cli, option: str, value: str, message: str
) -> None:
    run.write({"news.yaml": NEWS})
    code, _, err = run("plan", "-c", "liverecd.yaml", option, value)
    assert code == 1
    assert message in err


ACCOUNTS_CONFIG = CONFIG + "accounts:\n  partner:\n    profile: partner\n    qps: 1\n"


def test_check_and_plan_name_each_windows_account_and_its_own_quota(run: Cli) -> None:
    partner = NEW_YORK.replace("app: us\n", "app: us\naccount: partner\n")
    run.write({"news.yaml": NEWS, "ny.yaml": partner}, ACCOUNTS_CONFIG)
    code, out, _ = run("check", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00:00Z")
    assert code == 0
    assert "account default: 3 windows" in out and "account partner: 4 windows" in out
    code, out, _ = run(
        "plan", "-c", "liverecd.yaml", "--from", "2027-01-04T00:00:00Z", "--format", "json"
    )
    accounts = {(r["app"], r["account"]) for r in json.loads(out)}
    assert accounts == {("live", "default"), ("us", "partner")}


def test_check_names_an_unknown_account_at_its_line(run: Cli) -> None:
    ghost = NEWS.replace("  - name: final\n", "  - name: final\n    account: ghost\n")
    run.write({"news.yaml": ghost}, ACCOUNTS_CONFIG)
    code, _, err = run("check", "-c", "liverecd.yaml")
    assert code == 1
    assert "schedules/news.yaml:10:14: account: unknown account 'ghost'" in err
