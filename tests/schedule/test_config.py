"""The main config file (liverecd.schedule.config.load_config)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from liverecd.config import ListenAddress
from liverecd.errors import ConfigError
from liverecd.schedule.config import load_config


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "liverecd.yaml"
    path.write_text(text)
    return path


def _errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, text), display_base=tmp_path)
    return [str(p) for p in info.value.problems]


def test_minimal_config_takes_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "schedules: [schedules/*.yaml]\n"))
    assert config.schedules == ("schedules/*.yaml",)
    assert config.api.endpoint == "https://live.aliyuncs.com"
    assert config.api.region == "cn-shanghai"
    assert config.api.signature == "v3"
    assert config.api.qps == 50
    assert config.api.timeout == timedelta(seconds=10)
    assert config.max_lead == timedelta(seconds=60)
    assert config.horizon == timedelta(hours=6)
    assert config.missing_file_grace == timedelta(seconds=5)
    assert config.state_dir == Path("/var/lib/liverecd")
    assert config.log.format == "json"
    assert config.status.listen == ListenAddress("127.0.0.1", 9325)
    assert config.watch.interval == timedelta(seconds=10)
    assert config.watch.callback_listen is None
    assert config.path == tmp_path / "liverecd.yaml"


def test_every_key_is_read(tmp_path: Path) -> None:
    text = """\
api:
  endpoint: http://127.0.0.1:8080/
  region: cn-beijing
  signature: v1
  qps: 20
  timeout: 3s
  connect_timeout: 500ms
  retry: {base: 100ms, cap: 5s, max_attempts: 3, wait_for_stream_cap: 2s, stop_cap: 9s}
schedules:
  - a/*.yaml
  - /etc/liverecd/b.yaml
state_dir: state
max_lead: 2m
horizon: 12h
log: {format: console, level: debug}
status: {listen: "[::1]:9400"}
watch: {interval: 0s, callback_listen: 0.0.0.0:9326}
"""
    config = load_config(_config(tmp_path, text))
    assert config.api.endpoint == "http://127.0.0.1:8080"
    assert (config.api.region, config.api.signature, config.api.qps) == ("cn-beijing", "v1", 20)
    assert config.api.timeout == timedelta(seconds=3)
    assert config.api.connect_timeout == timedelta(milliseconds=500)
    assert config.api.retry.max_attempts == 3
    assert config.api.retry.stop_cap == timedelta(seconds=9)
    assert config.schedules == ("a/*.yaml", "/etc/liverecd/b.yaml")
    assert [s.line for s in config.schedule_sources] == [10, 11]
    assert config.state_dir == tmp_path / "state"  # relative to the config's folder
    assert (config.max_lead, config.horizon) == (timedelta(minutes=2), timedelta(hours=12))
    assert (config.log.format, config.log.level) == ("console", "debug")
    assert config.status.listen == ListenAddress("::1", 9400)
    assert str(config.status.listen) == "[::1]:9400"
    assert config.watch.interval == timedelta(0)
    assert config.watch.callback_listen == ListenAddress("0.0.0.0", 9326)


@pytest.mark.parametrize("off", ["off", "null", "~", "false", "''"])
def test_status_listen_can_be_turned_off(tmp_path: Path, off: str) -> None:
    if off == "''":
        # An empty string is a mistake, not "off".
        assert (
            "must not be empty"
            in _errors(tmp_path, f"schedules: [x]\nstatus: {{listen: {off}}}\n")[0]
        )
        return
    config = load_config(_config(tmp_path, f"schedules: [x]\nstatus:\n  listen: {off}\n"))
    assert config.status.listen is None


def test_a_single_glob_string_is_accepted(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "schedules: s/*.yaml\n")).schedules == ("s/*.yaml",)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = """\
api:
  qps: 0
  signature: v2
  timeout: 10:30
schedules: [x]
max_leed: 1s
log: {level: INFO}
"""
    assert _errors(tmp_path, text) == [
        "liverecd.yaml:2:8: api.qps: must be greater than 0, got 0",
        "liverecd.yaml:3:14: api.signature: expected 'v3' or 'v1', got 'v2'; did you mean 'v3'?",
        "liverecd.yaml:4:12: api.timeout: '10:30' is not a duration (YAML 1.1 would read it "
        "as base-60 seconds); write it with units, e.g. 10h30m or 10m30s",
        "liverecd.yaml:6:1: unknown key 'max_leed'; did you mean 'max_lead'?",
        "liverecd.yaml:7:14: log.level: expected one of 'debug', 'info', 'warning', 'error', "
        "got 'INFO'; did you mean 'info'?",
    ]


def test_schedules_is_required(tmp_path: Path) -> None:
    assert _errors(tmp_path, "log: {level: info}\n") == [
        "liverecd.yaml:1:1: missing required key 'schedules' (a list of globs)"
    ]


@pytest.mark.parametrize(
    "key", ["access_key_id", "access_key_secret", "security_token", "AccessKeySecret", "password"]
)
def test_credentials_in_yaml_are_refused_without_echoing_them(tmp_path: Path, key: str) -> None:
    errors = _errors(tmp_path, f"schedules: [x]\napi:\n  {key}: LTAI5tFAKEexampleKeyId01\n")
    assert len(errors) == 1
    assert errors[0].startswith(f"liverecd.yaml:3:3: api.{key}: credentials never go in YAML")
    assert "CREDENTIALS_DIRECTORY" in errors[0]
    assert "LTAI5tFAKE" not in errors[0]


def test_credentials_in_the_endpoint_url_are_refused(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path, "schedules: [x]\napi: {endpoint: 'https://ak:sk@live.aliyuncs.com'}\n"
    )
    assert errors == ["liverecd.yaml:2:17: api.endpoint: credentials never go in the endpoint URL"]


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://live.aliyuncs.com", "http:// is allowed for loopback hosts only"),
        ("ftp://x", "expected a URL such as https://live.aliyuncs.com"),
        ("live.aliyuncs.com", "expected a URL"),
        ("https://live.aliyuncs.com?x=1", "must not have a query or fragment"),
        ("https://live.aliyuncs.com:99999", "is not a valid URL"),
    ],
)
def test_bad_endpoints(tmp_path: Path, endpoint: str, message: str) -> None:
    errors = _errors(tmp_path, f"schedules: [x]\napi: {{endpoint: '{endpoint}'}}\n")
    assert message in errors[0]


@pytest.mark.parametrize("endpoint", ["http://localhost:1", "http://127.0.0.2", "http://[::1]:80"])
def test_http_is_fine_on_loopback(tmp_path: Path, endpoint: str) -> None:
    config = load_config(_config(tmp_path, f"schedules: [x]\napi: {{endpoint: '{endpoint}'}}\n"))
    assert config.api.endpoint == endpoint


@pytest.mark.parametrize("listen", ["9325", "::1:9325", "host:", "host:port", "h:70000"])
def test_bad_listen_addresses(tmp_path: Path, listen: str) -> None:
    errors = _errors(tmp_path, f"schedules: [x]\nstatus: {{listen: '{listen}'}}\n")
    assert "expected HOST:PORT" in errors[0]


def test_sections_must_be_mappings(tmp_path: Path) -> None:
    assert _errors(tmp_path, "schedules: [x]\napi: fast\n") == [
        "liverecd.yaml:2:6: api: expected a mapping, got 'fast'"
    ]


def test_horizon_and_max_lead_bounds(tmp_path: Path) -> None:
    errors = _errors(tmp_path, "schedules: [x]\nhorizon: 10m\nmax_lead: 2h\n")
    assert errors == [
        "liverecd.yaml:2:10: horizon: must be at least 1h, got 10m",
        "liverecd.yaml:3:11: max_lead: must be at most 1h, got 2h",
    ]


def test_the_message_shows_the_path_as_given_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "liverecd.yaml").write_text("schedules: [x]\nbogus: 1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("etc/liverecd.yaml")
    assert str(info.value).startswith("etc/liverecd.yaml:2:1: unknown key 'bogus'")
