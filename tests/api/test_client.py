"""LiveClient against the emulator over real HTTP on loopback."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from structlog.testing import capture_logs

from liverecd.api.client import LiveClient, validate_endpoint
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.outcome import classify
from liverecd.api.result import Outcome, TransportError
from liverecd.clock import FakeClock
from liverecd.config import ApiConfig
from liverecd.emulator import Emulator
from liverecd.errors import ConfigError
from liverecd.streams import Command, StreamKey

from .conftest import AK, SECRET, STS_AK, STS_SECRET, STS_TOKEN, ClientFactory

KEY = StreamKey("play.example.com", "live", "news")
S, P, C, R = Command.START, Command.STOP, Command.CANCEL_DELAY, Command.RESTART

# Every error code of live-api.md §1.5 and §3.2, at the status the reference says to emulate,
# and the outcome issue 2 names for it.
ERROR_TABLE: list[tuple[Command, int, str, Outcome]] = [
    # §1.5 current table
    (S, 400, "MalformedParam", Outcome.FATAL),
    (S, 400, "MissingParam", Outcome.FATAL),
    (S, 400, "CodeConfigNotFound", Outcome.FATAL),
    (S, 409, "StreamNotFound", Outcome.WAIT_FOR_STREAM),
    (R, 409, "StreamNotFound", Outcome.WAIT_FOR_STREAM),
    (P, 409, "StreamNotFound", Outcome.IDEMPOTENT_OK),
    (C, 409, "StreamNotFound", Outcome.IDEMPOTENT_OK),
    (S, 409, "TaskAlreadyStarted", Outcome.IDEMPOTENT_OK),
    # §1.5 legacy table
    (S, 404, "InvalidDomain.NotFound", Outcome.FATAL),
    (S, 400, "MissingDomainName", Outcome.FATAL),
    (S, 400, "MissingAppName", Outcome.FATAL),
    (S, 400, "MissingStreamName", Outcome.FATAL),
    (S, 400, "MissingCommand", Outcome.FATAL),
    (S, 404, "InvalidStream.NotFound", Outcome.WAIT_FOR_STREAM),
    (P, 404, "InvalidStream.NotFound", Outcome.IDEMPOTENT_OK),
    (C, 404, "InvalidStream.NotFound", Outcome.IDEMPOTENT_OK),
    (S, 404, "InvalidConfig.NotFound", Outcome.FATAL),
    (S, 500, "InternalError", Outcome.RETRY),
    # §3.2 common errors
    (S, 400, "Throttling.User", Outcome.RETRY),
    (P, 400, "Throttling.Api", Outcome.RETRY),
    (C, 400, "Throttling", Outcome.RETRY),
    (S, 503, "ServiceUnavailable", Outcome.RETRY),
    (S, 500, "UnknownError", Outcome.RETRY),
    (S, 400, "SignatureNonceUsed", Outcome.RETRY_RESIGNED_ONCE),
    (S, 400, "InvalidTimeStamp.Expired", Outcome.FATAL),
    (S, 400, "InvalidTimeStamp.Format", Outcome.FATAL),
    (S, 400, "SignatureDoesNotMatch", Outcome.FATAL),
    (S, 400, "InvalidAccessKeyId.NotFound", Outcome.FATAL),
    (S, 400, "InvalidAccessKeyId.Inactive", Outcome.FATAL),
    (S, 403, "InvalidSecurityToken.Expired", Outcome.RETRY),
    (S, 403, "Forbidden.RAM", Outcome.FATAL),
    (S, 400, "MissingParameter", Outcome.FATAL),
    (S, 404, "InvalidApi.NotFound", Outcome.FATAL),
    (S, 404, "InvalidProduct.NotFound", Outcome.FATAL),
    (S, 429, "TooManyRequests", Outcome.RETRY),
    (S, 502, "BadGateway", Outcome.RETRY),
    (S, 400, "CodeNobodyDocumented", Outcome.RETRY),
]


@pytest.mark.parametrize(
    ("command", "status", "code", "expected"),
    ERROR_TABLE,
    ids=[f"{c.value}-{code}" for c, _, code, _ in ERROR_TABLE],
)
async def test_every_documented_answer_lands_in_its_outcome(
    emu: Emulator,
    make_client: ClientFactory,
    command: Command,
    status: int,
    code: str,
    expected: Outcome,
) -> None:
    emu.respond_with(code=code, http_status=status, times=1)
    async with asyncio.timeout(10):
        result = await make_client().real_time_record_command(command, KEY)
    assert (result.http_status, result.code) == (status, code)
    assert result.request_id
    assert classify(command, result) is expected


@pytest.mark.parametrize("signature", ["v3", "v1"])
async def test_signed_start_is_accepted_in_both_signing_modes(
    emu: Emulator, make_client: ClientFactory, signature: str
) -> None:
    client = make_client(signature)
    async with asyncio.timeout(10):
        first = await client.real_time_record_command(S, KEY)
        second = await client.real_time_record_command(S, KEY)
    assert classify(S, first) is Outcome.OK, first
    assert first.request_id and first.nonce
    assert (second.code, classify(S, second)) == ("TaskAlreadyStarted", Outcome.IDEMPOTENT_OK)
    assert first.nonce != second.nonce


@pytest.mark.parametrize("signature", ["v3", "v1"])
async def test_sts_credentials_are_accepted_in_both_signing_modes(
    make_client: ClientFactory, signature: str
) -> None:
    creds = Credentials(STS_AK, Secret(STS_SECRET), Secret(STS_TOKEN))
    async with asyncio.timeout(10):
        result = await make_client(signature, credentials=creds).real_time_record_command(S, KEY)
    assert classify(S, result) is Outcome.OK, result


async def test_real_emulator_answers_classify_as_the_issue_says(
    emu: Emulator, make_client: ClientFactory
) -> None:
    client = make_client()
    offline = StreamKey("play.example.com", "live", "offline")
    emu.set_online(offline, False)
    async with asyncio.timeout(10):
        start_offline = await client.real_time_record_command(S, offline)
        stop_offline = await client.real_time_record_command(P, offline)
        wrong_key = await make_client(
            credentials=Credentials("LTAI5tUNKNOWNkey", Secret(SECRET))
        ).real_time_record_command(S, KEY)
    assert classify(S, start_offline) is Outcome.WAIT_FOR_STREAM
    assert classify(P, stop_offline) is Outcome.IDEMPOTENT_OK
    assert wrong_key.code == "InvalidAccessKeyId.NotFound"
    assert classify(S, wrong_key) is Outcome.FATAL


async def test_client_clock_far_off_gets_timestamp_expired(make_client: ClientFactory) -> None:
    client = make_client(clock=FakeClock())  # wall clock stuck at 2026-01-01
    async with asyncio.timeout(10):
        result = await client.real_time_record_command(S, KEY)
    assert result.code == "InvalidTimeStamp.Expired"
    assert classify(S, result) is Outcome.FATAL


@pytest.mark.parametrize("signature", ["v3", "v1"])
async def test_wrong_secret_logs_both_strings_to_sign_and_no_secret(
    make_client: ClientFactory, signature: str
) -> None:
    wrong = "WrongSecretValue0000000000000000"
    creds = Credentials(STS_AK, Secret(wrong), Secret(STS_TOKEN))
    with capture_logs() as logs:
        async with asyncio.timeout(10):
            result = await make_client(signature, credentials=creds).real_time_record_command(
                S, KEY
            )
    assert result.code == "SignatureDoesNotMatch"
    mismatch = [e for e in logs if e["event"] == "signature_mismatch"]
    assert len(mismatch) == 1
    assert mismatch[0]["server_string_to_sign"]
    assert mismatch[0]["our_string_to_sign"]
    # Only the secret is wrong, so the server computed the very string we signed.
    assert mismatch[0]["strings_match"] is True
    everything = repr(logs) + repr(result)
    for secret in (wrong, STS_SECRET, STS_TOKEN):
        assert secret not in everything


async def test_hung_request_is_abandoned_at_its_timeout(
    emu: Emulator, make_client: ClientFactory
) -> None:
    from liverecd.emulator import FaultPlan

    emu.inject(FaultPlan(hang=1.0, hang_seconds=30))
    client = make_client(timeout=0.3)
    async with asyncio.timeout(5):
        result = await client.real_time_record_command(S, KEY)
    assert result.transport_error is TransportError.TIMEOUT
    assert result.outcome_unknown
    assert classify(S, result) is Outcome.RETRY


async def test_connection_reset_is_a_transport_error(
    emu: Emulator, make_client: ClientFactory
) -> None:
    from liverecd.emulator import FaultPlan

    emu.inject(FaultPlan(reset=1.0))
    async with asyncio.timeout(5):
        result = await make_client().real_time_record_command(S, KEY)
    assert result.transport_error is TransportError.RESET
    assert classify(S, result) is Outcome.RETRY


async def test_nothing_listening_is_a_connect_error() -> None:
    config = ApiConfig(endpoint="http://127.0.0.1:9", timeout=timedelta(seconds=2))
    async with LiveClient(config, Credentials(AK, Secret(SECRET))) as client:
        async with asyncio.timeout(5):
            result = await client.real_time_record_command(S, KEY)
    assert result.transport_error is TransportError.CONNECT
    assert not result.outcome_unknown
    assert result.detail == "127.0.0.1:9: ClientConnectorError: Connection refused"


async def test_a_name_that_does_not_resolve_is_named_with_its_port_and_reason() -> None:
    config = ApiConfig(endpoint="https://liverecd-test.invalid", timeout=timedelta(seconds=2))
    async with LiveClient(config, Credentials(AK, Secret(SECRET))) as client:
        async with asyncio.timeout(5):
            result = await client.real_time_record_command(S, KEY)
    assert result.transport_error is TransportError.CONNECT
    assert result.detail is not None and result.detail.startswith("liverecd-test.invalid:443: ")
    assert "DNS" in result.detail or "not known" in result.detail, result.detail
    assert SECRET not in result.detail


async def test_retry_after_header_is_read_in_milliseconds(
    emu: Emulator, make_client: ClientFactory
) -> None:
    emu.respond_with(code="Throttling.User", http_status=400, times=1, retry_after_ms=1500)
    async with asyncio.timeout(10):
        result = await make_client().real_time_record_command(S, KEY)
    assert result.retry_after == 1.5


async def test_online_list_returns_live_streams(emu: Emulator, make_client: ClientFactory) -> None:
    emu.set_online(KEY, True)
    emu.set_online(StreamKey("play.example.com", "other", "x"), True)
    emu.set_online(StreamKey("play.example.com", "live2", "y"), True)  # fuzzy AppName match
    async with asyncio.timeout(10):
        page = await make_client().describe_live_streams_online_list("play.example.com", app="live")
    assert page.ok, page
    assert KEY in {s.key for s in page.streams}
    assert all(s.app == "live" for s in page.streams)
    assert all(s.publish_time is not None for s in page.streams)


async def test_injected_session_is_not_closed_by_the_client(make_client: ClientFactory) -> None:
    async with aiohttp.ClientSession() as session:
        client = make_client(session=session)
        async with asyncio.timeout(10):
            await client.real_time_record_command(S, KEY)
        await client.close()
        assert not session.closed


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://live.aliyuncs.com",
        "http://127.0.0.1:8080",
        "http://127.3.4.5",
        "http://[::1]:81",
        "http://localhost:9",
    ],
)
def test_endpoint_accepted(endpoint: str) -> None:
    assert validate_endpoint(endpoint).host


@pytest.mark.parametrize(
    "endpoint",
    ["http://live.aliyuncs.com", "http://10.0.0.1", "ftp://127.0.0.1", "live.aliyuncs.com"],
)
def test_plain_http_to_a_remote_host_is_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_endpoint(endpoint)
    assert "api.endpoint" in str(err.value)
