"""STS credentials from a credentials URI (the emulator's), refreshed before they expire and
at once when the server says `InvalidSecurityToken.Expired`; failures name the source and
never show a secret. Time is a FakeClock shared by the emulator and the client."""

from __future__ import annotations

import asyncio
import socket
from typing import Literal

import pytest
from structlog.testing import capture_logs

from conftest import TEST_AK, EmulatorFactory
from liverecd.api.chain import UriProvider
from liverecd.api.client import LiveClient
from liverecd.api.credsource import CredentialSource
from liverecd.api.outcome import classify
from liverecd.api.result import Outcome
from liverecd.clock import FakeClock
from liverecd.config import ApiConfig
from liverecd.emulator import Emulator
from liverecd.errors import CredentialsError
from liverecd.streams import Command, StreamKey

KEY = StreamKey("play.example.com", "live", "news")


async def sts_setup(
    emulator_factory: EmulatorFactory, ttl: float = 30.0, signature: Literal["v3", "v1"] = "v3"
) -> tuple[Emulator, FakeClock, CredentialSource, LiveClient]:
    clock = FakeClock()
    emu = await emulator_factory(clock=clock, sts_ttl=ttl)
    source = CredentialSource(UriProvider(emu.credentials_uri(TEST_AK)), clock)
    await source.start()
    client = LiveClient(ApiConfig(endpoint=emu.url, signature=signature), source, clock=clock)
    return emu, clock, source, client


@pytest.mark.parametrize("signature", ["v3", "v1"])
async def test_temporary_keys_from_the_credentials_uri_are_accepted_with_their_token(
    emulator_factory: EmulatorFactory, signature: Literal["v3", "v1"]
) -> None:
    emu, _, source, client = await sts_setup(emulator_factory, signature=signature)
    async with client:
        result = await client.real_time_record_command(Command.START, KEY)
    assert result.http_status == 200, result
    creds = source.current()
    assert creds.is_sts and creds.access_key_id.startswith("STS.")
    assert source.kind == "credentials_uri"
    assert source.expiry_seconds() == pytest.approx(30, abs=1)
    # The temporary key counts against its account's quota, not a quota of its own.
    assert emu.max_in_any_second(TEST_AK) == 1


async def test_an_expired_token_is_refreshed_and_answered_as_a_retry(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock, source, client = await sts_setup(emulator_factory)
    old = source.current()
    clock.advance(31)  # no refresh loop running: the token expires under the client
    async with client:
        expired = await client.real_time_record_command(Command.START, KEY)
        assert (expired.http_status, expired.code) == (403, "InvalidSecurityToken.Expired")
        assert classify(Command.START, expired) is Outcome.RETRY
        assert classify(Command.STOP, expired) is Outcome.RETRY
        assert source.current() is not old and source.refreshes == 1
        again = await client.real_time_record_command(Command.START, KEY)
    assert again.http_status == 200
    keys = [r.access_key_id for r in emu.requests]
    assert keys == [old.access_key_id, source.current().access_key_id]


async def test_many_expired_answers_share_one_refresh(emulator_factory: EmulatorFactory) -> None:
    emu, clock, source, client = await sts_setup(emulator_factory)
    clock.advance(31)
    keys = [StreamKey("play.example.com", "live", f"s{i}") for i in range(10)]
    async with client:
        results = await asyncio.gather(
            *(client.real_time_record_command(Command.START, k) for k in keys)
        )
    assert {r.code for r in results} == {"InvalidSecurityToken.Expired"}
    assert emu.sts.issued == 2  # the first fetch and one refresh
    assert source.refreshes == 1


async def test_the_refresh_loop_replaces_the_token_before_it_expires(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, clock, source, client = await sts_setup(emulator_factory)
    task = asyncio.create_task(source.run())
    try:
        async with client:
            for _ in range(12):  # two minutes in 10 s steps: four 30 s tokens
                clock.advance(10)
                for _ in range(20):
                    await asyncio.sleep(0)
                await asyncio.sleep(0.05)  # the refresh's GET over loopback
                result = await client.real_time_record_command(Command.START, KEY)
                assert result.code in (None, "TaskAlreadyStarted"), result
    finally:
        task.cancel()
    assert source.refreshes >= 4
    assert not [r for r in emu.requests if r.code == "InvalidSecurityToken.Expired"]


async def test_a_refused_answer_names_the_uri_and_never_shows_the_body(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(sts_ttl=30)
    emu.sts.answer_code = "Forbidden"
    with pytest.raises(CredentialsError) as err:
        await UriProvider(emu.credentials_uri(TEST_AK) + "&secret=hidden").fetch()
    text = str(err.value)
    assert f"credentials URI {emu.url}/sts/credentials answered Code 'Forbidden'" in text
    assert "hidden" not in text and "refused" not in text


async def test_an_unreachable_uri_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CredentialsError, match=r"credentials URI .*:\d+/creds unreachable"):
        await UriProvider(f"http://127.0.0.1:{port}/creds").fetch()


async def test_a_failed_refresh_keeps_the_credentials_and_is_an_error_naming_the_source(
    emulator_factory: EmulatorFactory,
) -> None:
    emu, _, source, _ = await sts_setup(emulator_factory)
    before = source.current()
    emu.sts.answer_code = "ServiceUnavailable"
    with capture_logs() as logs:
        assert await source.refresh("scheduled") is False
    assert source.current() is before
    [event] = [e for e in logs if e["event"] == "credentials_refresh_failed"]
    assert event["log_level"] == "error" and event["source"] == "credentials_uri"
    assert "ServiceUnavailable" in event["error"]
    emu.sts.answer_code = "Success"
    assert await source.refresh("scheduled") is True
    assert source.current() is not before
