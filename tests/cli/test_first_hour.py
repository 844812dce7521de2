"""Issue 16, "the first hour on a server", through the real command line (in-process `main`):
checks that catch likely mistakes, names the API would refuse, readable help, plan across zones,
and `fire` output a person can read."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from liverecd.cli import main
from liverecd.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = "/etc/liverecd/liverecd.yaml"  # the conventional place, as the unit has it
CONFIG = "schedules:\n  - schedules/*.yaml\n"
FROM = ("--from", "2027-01-04T00:00:00Z")


class Cli:
    """Files in a temporary folder; `main` run there; (exit code, stdout, stderr)."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        (root / "schedules").mkdir()

    def write(self, files: dict[str, str], config: str = CONFIG) -> None:
        (self.root / "liverecd.yaml").write_text(config)
        for name, text in files.items():
            (self.root / "schedules" / name).write_text(text)

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.chdir(tmp_path)
    for name in ("CREDENTIALS_DIRECTORY", "LIVERECD_NOTIFY_AUTH_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Cli(tmp_path, capsys)


def schedule(name: str, window: str, zone: str = "Asia/Shanghai", app: str = "live") -> str:
    return (
        f"timezone: {zone}\ndomain: play.example.com\napp: {app}\nstreams:\n"
        f"  - name: {name}\n    windows:\n{window}"
    )


DAILY = '      - cron: "0 19 * * *"\n        duration: 1h\n'


# --- item 1: check names every credential the config needs, never reading one ---------------


def test_check_lists_each_needed_credential_with_its_sources(cli: Cli) -> None:
    cli.write({"a.yaml": schedule("news", DAILY)})
    code, out, _ = cli("check", "-c", "liverecd.yaml", *FROM)
    needed = re.findall(r"^credential (\w+) .*", out, re.MULTILINE)
    assert code == 0 and needed == ["access_key_id", "access_key_secret"]
    assert "$ALIBABA_CLOUD_ACCESS_KEY_SECRET" in out
    assert "LoadCredential=access_key_secret" in out


def test_check_adds_the_notify_key_when_the_callback_endpoint_is_on(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "access_key_secret").write_text("NeverPrintThisSecretValue1")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = CONFIG + "watch:\n  callback_listen: 127.0.0.1:9326\n"
    cli.write({"a.yaml": schedule("news", DAILY)}, config)
    code, out, err = cli("check", "-c", "liverecd.yaml", *FROM)
    lines = {m[0]: m[1] for m in re.findall(r"^credential (\w+) (.*)", out, re.MULTILINE)}
    assert code == 0 and sorted(lines) == ["access_key_id", "access_key_secret", "notify_auth_key"]
    assert "watch.callback_listen" in lines["notify_auth_key"]
    assert "$LIVERECD_NOTIFY_AUTH_KEY" in lines["notify_auth_key"]
    assert "present" in lines["access_key_secret"] and "MISSING" in lines["access_key_id"]
    assert "NeverPrintThisSecretValue1" not in out + err


def test_check_lists_the_credentials_of_accounts_record_callbacks_and_the_database(
    cli: Cli,
) -> None:
    config = CONFIG + (
        "accounts:\n  partner:\n    credentials_prefix: b_\n"
        "verify:\n  callback_listen: 127.0.0.1:9327\n"
        "database:\n  url: postgresql://liverecd@127.0.0.1:9/liverecd\n"
    )
    cli.write({"a.yaml": schedule("news", DAILY)}, config)
    code, out, _ = cli("check", "-c", "liverecd.yaml", *FROM)
    lines = {m[0]: m[1] for m in re.findall(r"^credential (\w+) (.*)", out, re.MULTILINE)}
    assert code == 0, out
    assert sorted(lines) == [
        "access_key_id", "access_key_secret", "b_access_key_id", "b_access_key_secret",
        "database_password", "record_auth_key",
    ]  # fmt: skip
    assert "(for account partner)" in lines["b_access_key_secret"]
    assert "LoadCredential=b_access_key_secret:" in lines["b_access_key_secret"]
    assert "$LIVERECD_RECORD_AUTH_KEY" in lines["record_auth_key"]
    assert "$PGPASSWORD" in lines["database_password"] and ".pgpass" in lines["database_password"]


# --- item 4: a recurring window longer than its period ----------------------------------------


def test_check_and_plan_say_a_rule_whose_windows_overlap_is_never_stopped(cli: Cli) -> None:
    cli.write({"a.yaml": schedule("news", '      - cron: "0 19 * * *"\n        duration: 25h\n')})
    code, out, err = cli("check", "-c", "liverecd.yaml", *FROM)
    assert code == 0
    assert re.search(r"^schedules/a\.yaml:7:\d+: warning: windows overlap each other", err, re.M)
    assert "never stopped" in err and "(1 warning)" in out
    code, out, err = cli("plan", "-c", "liverecd.yaml", *FROM)
    assert code == 0 and "windows overlap each other" in err and " stop " not in out


# --- item 5: other likely mistakes, and quota warnings grouped ---------------------------------


def test_check_warns_about_a_one_off_window_already_over(cli: Cli) -> None:
    window = "      - start: 2017-01-04T10:00\n        end: 2017-01-04T12:00\n"
    cli.write({"a.yaml": schedule("final", window)})
    code, _, err = cli("check", "-c", "liverecd.yaml", *FROM)
    assert code == 0
    assert re.search(r"^schedules/a\.yaml:7:\d+: warning: window ended 2017-01-04T04:00:00Z", err)
    assert "never record" in err
    code, _, err = cli("check", "-c", "liverecd.yaml")  # from now: no microseconds shown
    assert re.search(r"before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: it will never record", err), err


def test_check_warns_at_the_line_of_an_api_qps_above_the_documented_50(cli: Cli) -> None:
    cli.write({"a.yaml": schedule("news", DAILY)}, "api:\n  qps: 80\n" + CONFIG)
    code, _, err = cli("check", "-c", "liverecd.yaml", *FROM)
    assert code == 0 and err.startswith("liverecd.yaml:2:8: warning: api.qps: 80 is above")


def test_check_skips_the_main_config_matched_by_a_schedules_glob_and_says_so(cli: Cli) -> None:
    cli.write({}, 'schedules: ["*.yaml"]\n')
    (cli.root / "news.yaml").write_text(schedule("news", DAILY))
    code, out, err = cli("check", "-c", "liverecd.yaml", *FROM)
    assert code == 0, err
    assert "unknown key" not in err
    assert re.match(
        r"liverecd\.yaml:1:\d+: warning: schedules\[0\]: '\*\.yaml' matches the main", err
    )
    assert out.splitlines()[-1].startswith("ok: 1 file, 1 stream")


def test_check_groups_late_starts_at_one_instant_into_one_warning(cli: Cli) -> None:
    def streams(prefix: str) -> str:
        return "".join(f"  - name: {prefix}{i}\n    windows:\n{DAILY}" for i in range(120))

    head = "timezone: Asia/Shanghai\ndomain: play.example.com\napp: live\nstreams:\n"
    cli.write(
        {"a.yaml": head + streams("a"), "b.yaml": head + streams("b")}, CONFIG + "max_lead: 1s\n"
    )
    code, _, err = cli("check", "-c", "liverecd.yaml", "--hours", "24", *FROM)
    late = [line for line in err.splitlines() if "land late" in line]
    # 240 starts at 19:00; 51 fit within 1 s of lead at 50/s: 189 late, one warning
    assert code == 0 and len(late) == 1, err
    assert "189 starts (189 streams) due 2027-01-04T11:00:00Z land late" in late[0]


# --- item 8: the help a new user reads ----------------------------------------------------------


def test_help_speaks_to_users_and_names_the_default_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "DESIGN.md" not in out and "module" not in out
    assert DEFAULT_CONFIG in out and "liverecd check" in out
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    plan_help = capsys.readouterr().out
    assert re.search(r"--format \{text,json\}\s+\S", plan_help)  # the option is explained
    assert "--tz ZONE" in plan_help


@pytest.mark.parametrize("command", ["check", "plan", "report"])
def test_config_defaults_to_the_conventional_path(cli: Cli, command: str) -> None:
    code, _, err = cli(command)
    assert code == 1 and f"{DEFAULT_CONFIG}: file not found" in err


def test_check_help_does_not_point_at_a_tz_option_it_lacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    check_help = capsys.readouterr().out
    assert "--tz" not in check_help and "--from ISO8601" in check_help


def test_the_shipped_config_points_at_shipped_docs_only() -> None:
    assert "DESIGN.md" not in (REPO / "config" / "liverecd.yaml").read_text()


# --- item 9: plan across zones -------------------------------------------------------------------


def test_plan_tz_shows_every_row_in_one_zone_with_utc_offsets(cli: Cli) -> None:
    cli.write(
        {
            "cn.yaml": schedule("news", DAILY),
            "uk.yaml": schedule("talk", DAILY, zone="Europe/London", app="uk"),
        }
    )
    code, out, _ = cli("plan", "-c", "liverecd.yaml", *FROM, "--tz", "Asia/Shanghai")
    header, *rows = out.splitlines()
    assert code == 0 and header.startswith("LOCAL (Asia/Shanghai)")
    assert len(rows) == 6 and all(row[20:26] == "+08:00" for row in rows), out
    # London 19:00 (GMT) is 03:00 the next day in Shanghai
    assert any(
        r.startswith("2027-01-05 03:00:00 +08:00  2027-01-04T19:00:00Z  start") for r in rows
    )
    code, out, _ = cli("plan", "-c", "liverecd.yaml", *FROM)
    assert "CST" not in out and "GMT" not in out
    assert "2027-01-04 19:00:00 +00:00  2027-01-04T19:00:00Z  start" in out


def test_plan_reads_a_from_without_offset_in_the_tz_zone(cli: Cli) -> None:
    cli.write({"cn.yaml": schedule("news", DAILY)})
    # 19:30 Shanghai: the 19:00 window is open, so the plan starts it at --from
    argv = ("plan", "-c", "liverecd.yaml", "--from", "2027-01-04T19:30", "--hours", "1")
    code, out, _ = cli(*argv, "--tz", "Asia/Shanghai", "--format", "json")
    assert code == 0 and '"time": "2027-01-04T11:30:00Z"' in out
    assert cli("plan", "-c", "liverecd.yaml", "--tz", "Mars/Olympus")[0] == 1


# --- items 12 and 13: names the API refuses; control characters located --------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", '"news*"'),
        ("name", '"*"'),
        ("name", "n?ws"),
        ("app", '"li*"'),
        ("name", '"a\\u0085b"'),
    ],
)
def test_check_refuses_wildcards_and_control_characters_in_names_with_a_location(
    cli: Cli, field: str, value: str
) -> None:
    text = schedule("news", DAILY).replace(
        f"{field}: news" if field == "name" else "app: live", f"{field}: {value}"
    )
    cli.write({"a.yaml": text})
    code, _, err = cli("check", "-c", "liverecd.yaml", *FROM)
    line = 5 if field == "name" else 3
    assert code == 1
    assert re.search(
        rf"^schedules/a\.yaml:{line}:\d+: .*must not contain '/', '\*' or '\?'", err, re.M
    )


def test_a_raw_control_character_is_reported_at_its_line_and_column(cli: Cli) -> None:
    cli.write({"a.yaml": schedule("news", DAILY).replace("name: news", "name: ne\x1bws")})
    code, _, err = cli("check", "-c", "liverecd.yaml", *FROM)
    assert code == 1 and err.startswith("schedules/a.yaml:5:13: unacceptable character #x001b")


# --- item 10: fire --------------------------------------------------------------------------------


@pytest.fixture
def fire_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Path:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", TEST_AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", TEST_SECRET)
    path = tmp_path / "liverecd.yaml"
    path.write_text(f"api:\n  endpoint: {emulator.url}\nschedules: []\nstate_dir: {tmp_path}\n")
    return path


async def fire(*argv: str) -> int:
    async with asyncio.timeout(20):  # fire runs its own event loop; the emulator runs in this one
        return await asyncio.to_thread(main, ["fire", *argv])


async def test_fire_start_by_hand_warns_that_nothing_will_stop_it(
    fire_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fire("start", "play.example.com/live/news", "-c", str(fire_config)) == 0
    out, err = capsys.readouterr()
    assert "nothing will stop" in err
    assert "liverecd fire stop play.example.com/live/news" in err
    assert out.startswith("start play.example.com/live/news: ok")


async def test_fire_prints_utc_times_and_no_empty_fields(
    fire_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await fire("stop", "play.example.com/live/liverecd-check", "-c", str(fire_config)) == 0
    _, err = capsys.readouterr()
    attempt = next(line for line in err.splitlines() if "command_attempt" in line)
    assert "=None" not in attempt and re.match(r"\S*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", attempt)
    assert "nothing will stop" not in err


async def test_a_harmless_permission_check_stops_a_stream_nobody_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator_factory: EmulatorFactory
) -> None:
    """The README's suggestion: a `stop` of an unpublished stream answers StreamNotFound, which
    is `idempotent_ok` (exit 0) when credentials and permissions are right."""
    emu = await emulator_factory(default_online=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", TEST_AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", TEST_SECRET)
    config = tmp_path / "liverecd.yaml"
    config.write_text(f"api:\n  endpoint: {emu.url}\nschedules: []\n")
    stream = "play.example.com/live/liverecd-permission-check"
    assert await fire("stop", stream, "-c", str(config)) == 0
    assert [r.code for r in emu.requests if r.action == "RealTimeRecordCommand"] == [
        "StreamNotFound"
    ]


def test_plan_piped_into_head_ends_without_a_traceback() -> None:
    argv = [sys.executable, "-m", "liverecd", "plan", "-c", str(REPO / "config/liverecd.yaml")]
    pipe = subprocess.PIPE
    with subprocess.Popen([*argv, "--hours", "2000"], stdout=pipe, stderr=pipe) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"LOCAL")
        proc.stdout.close()  # what `head -1` does once it has its line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "Broken pipe" not in err
