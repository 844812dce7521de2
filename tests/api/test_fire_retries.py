"""`liverecd fire` carries one command to a conclusion through the daemon's dispatcher: pacing,
classification, retries and its bounds, through the real command line against the emulator over
real HTTP (what tests/api/test_runner.py proved of the runner that fire used to have)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from liverecd.emulator import Emulator, FaultPlan
from liverecd.streams import StreamKey

from .conftest import STS_AK, STS_SECRET, STS_TOKEN, fire, write_fire_config

STREAM = "play.example.com/live/news"
KEY = StreamKey.parse(STREAM)
CaptureFixture = pytest.CaptureFixture[str]


@pytest.fixture
def config(emu: Emulator, tmp_path: Path, fire_env: None) -> str:
    return str(write_fire_config(emu, tmp_path))


def attempts_in(out: str) -> int:
    found = re.search(r"(\d+) attempt\(s\)", out)
    assert found, out
    return int(found.group(1))


def attempt_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "command_attempt" in line]


async def test_transient_errors_are_retried_with_fresh_nonces(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="ServiceUnavailable", http_status=503, times=1)
    emu.respond_with(code="Throttling.User", http_status=400, times=1)
    assert await fire("start", STREAM, "-c", config) == 0
    assert attempts_in(capsys.readouterr().out) == 3
    nonces = [r.nonce for r in emu.requests]
    assert len(nonces) == len(set(nonces)) == 3


async def test_signature_nonce_used_gets_exactly_one_resigned_retry(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="SignatureNonceUsed", http_status=400, times=1)
    assert await fire("start", STREAM, "-c", config) == 0
    assert attempts_in(capsys.readouterr().out) == 2

    emu.respond_with(code="SignatureNonceUsed", http_status=400, times=5)
    assert await fire("restart", STREAM, "-c", config) == 1
    out = capsys.readouterr().out
    assert attempts_in(out) == 2
    assert "SignatureNonceUsed twice" in out
    assert len({r.nonce for r in emu.requests}) == len(emu.requests) == 4


async def test_stop_answered_signature_nonce_used_again_backs_off_until_it_lands(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    # The daemon's rule (api.retry): a stop never gives up on a guess about nonces.
    emu.respond_with(code="SignatureNonceUsed", http_status=400, times=5)
    assert await fire("stop", STREAM, "-c", config) == 0
    assert attempts_in(capsys.readouterr().out) == 6


async def test_start_gives_up_after_max_attempts(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="InternalError", http_status=500, times=50)
    assert await fire("start", STREAM, "-c", config) == 1
    out = capsys.readouterr().out
    assert attempts_in(out) == 3  # max_attempts in the config
    assert "retry" in out and "retries exhausted" in out


async def test_stop_keeps_retrying_past_max_attempts(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="InternalError", http_status=500, times=6)
    assert await fire("stop", STREAM, "-c", config) == 0
    assert attempts_in(capsys.readouterr().out) == 7


async def test_give_up_after_bounds_every_retry(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="InternalError", http_status=500, times=100_000)
    assert await fire("stop", STREAM, "-c", config, "--give-up-after", "300ms") == 1
    out = capsys.readouterr().out
    assert "deadline passed" in out
    sent = [r.mono for r in emu.requests]
    assert len(sent) == attempts_in(out) > 3
    assert sent[-1] - sent[0] <= 0.3 + 0.1  # nothing leaves after the bound


async def test_fatal_answer_is_not_retried_and_is_logged_as_an_error(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="Forbidden.RAM", http_status=403, times=1)
    assert await fire("start", STREAM, "-c", config) == 1
    captured = capsys.readouterr()
    assert "fatal" in captured.out and "Forbidden.RAM" in captured.out
    assert attempts_in(captured.out) == 1 == len(emu.requests)
    [line] = attempt_lines(captured.err)
    assert "error" in line


async def test_not_live_stream_is_waited_for_only_as_long_as_asked(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.respond_with(code="StreamNotFound", http_status=409, times=3)
    assert await fire("start", STREAM, "-c", config) == 1
    out = capsys.readouterr().out
    assert "wait_for_stream" in out and "stream not live" in out
    assert attempts_in(out) == 1

    assert await fire("start", STREAM, "-c", config, "--wait", "60s") == 0
    assert attempts_in(capsys.readouterr().out) == 3  # two more StreamNotFound, then live


async def test_wait_ends_while_the_stream_stays_away(
    emu: Emulator, config: str, capsys: CaptureFixture
) -> None:
    emu.set_online(KEY, False)
    assert await fire("start", STREAM, "-c", config, "--wait", "300ms") == 1
    out = capsys.readouterr().out
    assert "stream not live" in out and attempts_in(out) > 1
    assert emu.requests[-1].mono - emu.requests[0].mono <= 0.3 + 0.1


async def test_retry_after_is_honoured(emu: Emulator, config: str) -> None:
    emu.respond_with(code="Throttling.User", http_status=400, times=1, retry_after_ms=500)
    assert await fire("start", STREAM, "-c", config) == 0
    first, second = emu.requests
    assert second.mono - first.mono >= 0.5


async def test_hung_request_is_abandoned_and_retried(
    emu: Emulator, tmp_path: Path, fire_env: None, capsys: CaptureFixture
) -> None:
    # FaultPlan draws one random number per request (its documented contract): pick a seed
    # whose first draw hangs and whose second does not.
    seed = next(s for s in range(1000) if _draws(s, 2) == [True, False])
    emu.inject(FaultPlan(hang=0.5, hang_seconds=5, seed=seed))
    config = str(write_fire_config(emu, tmp_path, timeout="300ms"))
    assert await fire("start", STREAM, "-c", config) == 0
    assert attempts_in(capsys.readouterr().out) == 2
    assert [r.fault for r in emu.requests] == ["hang", None]
    assert len({r.nonce for r in emu.requests}) == 2


def _draws(seed: int, n: int) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() < 0.5 for _ in range(n)]


async def test_each_attempt_logs_one_line_without_credentials(
    emu: Emulator, config: str, monkeypatch: pytest.MonkeyPatch, capsys: CaptureFixture
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", STS_SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
    emu.respond_with(code="ServiceUnavailable", http_status=503, times=1)
    assert await fire("start", STREAM, "-c", config) == 0
    captured = capsys.readouterr()
    lines = attempt_lines(captured.err)
    assert len(lines) == attempts_in(captured.out) == 2
    assert STREAM in lines[1] and "ok" in lines[1] and "request_id" in lines[1]
    for secret in (STS_SECRET, STS_TOKEN):
        assert secret not in captured.out + captured.err


@pytest.mark.parametrize("signature", ["v1", "v3"])
async def test_a_failed_run_leaks_no_secret_anywhere(
    emu: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: CaptureFixture,
    signature: str,
) -> None:
    wrong = "NotTheRightSecretForThisKey00000"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
    config = str(write_fire_config(emu, tmp_path, signature=signature))
    assert await fire("start", STREAM, "-c", config) == 1
    captured = capsys.readouterr()
    assert "SignatureDoesNotMatch" in captured.out and "fatal" in captured.out
    for secret in (wrong, STS_SECRET, STS_TOKEN):
        assert secret not in captured.out + captured.err
