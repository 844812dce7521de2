"""`liverecd fire` end to end: the real command line, in-process, against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from liverecd import cli
from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

from .conftest import SECRET, fire, write_fire_config

STREAM = "play.example.com/live/news"
KEY = StreamKey.parse(STREAM)


@pytest.fixture
def config_file(emu: Emulator, tmp_path: Path, fire_env: None) -> Path:
    return write_fire_config(emu, tmp_path)


_fire = fire


async def test_fire_start_succeeds_then_is_idempotent(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _fire("start", STREAM, "-c", str(config_file)) == 0
    out = capsys.readouterr().out
    assert "start play.example.com/live/news: ok" in out
    assert "RequestId " in out and "RequestId -" not in out
    assert await _fire("start", STREAM, "-c", str(config_file)) == 0
    assert "idempotent_ok" in capsys.readouterr().out


async def test_fire_on_a_stream_that_is_not_live_exits_1(
    emu: Emulator, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.set_online(KEY, False)
    assert await _fire("start", STREAM, "-c", str(config_file)) == 1
    assert "wait_for_stream" in capsys.readouterr().out


async def test_fire_waits_for_the_stream_with_wait(emu: Emulator, config_file: Path) -> None:
    emu.respond_with(code="StreamNotFound", http_status=409, times=2)
    assert await _fire("start", STREAM, "-c", str(config_file), "--wait", "30s") == 0


async def test_fire_fatal_answer_exits_1(
    emu: Emulator, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.respond_with(code="CodeConfigNotFound", http_status=400, times=1)
    assert await _fire("stop", STREAM, "-c", str(config_file)) == 1
    out = capsys.readouterr().out
    assert "fatal" in out and "CodeConfigNotFound" in out


async def test_fire_stop_on_an_ended_stream_is_idempotent(emu: Emulator, config_file: Path) -> None:
    emu.set_online(KEY, False)
    assert await _fire("stop", STREAM, "-c", str(config_file)) == 0


async def test_fire_without_credentials_names_the_variable(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    assert await _fire("start", STREAM, "-c", str(config_file)) == 1
    err = capsys.readouterr().err
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in err
    assert SECRET not in err


async def test_fire_with_a_bad_config_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("api:\n  endpoint: http://live.aliyuncs.com\nschedules: []\n", encoding="utf-8")
    assert await _fire("start", STREAM, "-c", str(bad)) == 1
    assert "endpoint" in capsys.readouterr().err


async def test_fire_with_an_unknown_account_names_the_known_ones(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _fire("stop", STREAM, "-c", str(config_file), "--account", "nope") == 1
    err = capsys.readouterr().err
    assert "unknown account 'nope'; the config has default" in err and "(" not in err


def test_fire_rejects_a_malformed_stream(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["fire", "start", "no-slashes", "-c", "x.yaml"])
    assert exc.value.code == 2
    assert "DOMAIN/APP/STREAM" in capsys.readouterr().err
