"""The official SDK (alibabacloud-live20161101) is accepted by the emulator in both signing modes
and refused with a wrong secret: the emulator checks what Alibaba's own code sends, not only what
our client sends (issue 2, item 7). The SDK is synchronous, so it runs in a thread."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alibabacloud_live20161101 import models
from alibabacloud_live20161101.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

KEY = StreamKey("play.example.com", "live", "sdk-stream")
MODES = {"v3-default": None, "v1": "v2"}  # the SDK calls the HMAC-SHA1 RPC signature "v2"


def _client(emu: Emulator, algorithm: str | None, **creds: str) -> Client:
    config = Config(
        access_key_id=creds.get("ak", TEST_AK),
        access_key_secret=creds.get("secret", TEST_SECRET),
        security_token=creds.get("token"),
        endpoint=emu.url.removeprefix("http://"),
        protocol="http",
        region_id="cn-shanghai",
        read_timeout=5000,
        connect_timeout=5000,
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm
    return Client(config)


def _command(client: Client, command: str) -> Any:
    request = models.RealTimeRecordCommandRequest(
        app_name=KEY.app,
        command=command,
        domain_name=KEY.domain,
        stream_name=KEY.stream,
        region_id="cn-shanghai",
    )
    return client.real_time_record_command(request)


async def _in_thread(fn: Any, *args: Any) -> Any:
    async with asyncio.timeout(20):
        return await asyncio.to_thread(fn, *args)


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_official_sdk_is_accepted(emulator: Emulator, mode: str) -> None:
    client = _client(emulator, MODES[mode])
    response = await _in_thread(_command, client, "start")
    assert response.status_code == 200
    assert response.body.request_id == emulator.requests[-1].request_id
    assert emulator.requests[-1].signature_version == mode[:2]
    assert emulator.state(KEY) == "recording"


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_official_sdk_with_a_wrong_secret_gets_signature_does_not_match(
    emulator: Emulator, mode: str
) -> None:
    client = _client(emulator, MODES[mode], secret="NotTheSecret0000000000000000000")
    with pytest.raises(ClientException) as caught:
        await _in_thread(_command, client, "start")
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400
    assert emulator.state(KEY) == "idle"


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_official_sdk_with_sts_credentials_is_accepted(
    emulator_factory: EmulatorFactory, mode: str
) -> None:
    emu = await emulator_factory(
        accounts={"STS.FakeTempKey": "FakeStsSecret"}, sts_tokens={"STS.FakeTempKey": "tok/+="}
    )
    client = _client(emu, MODES[mode], ak="STS.FakeTempKey", secret="FakeStsSecret", token="tok/+=")
    response = await _in_thread(_command, client, "start")
    assert response.status_code == 200


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_official_sdk_reads_the_error_code_of_a_state_conflict(
    emulator: Emulator, mode: str
) -> None:
    client = _client(emulator, MODES[mode])
    await _in_thread(_command, client, "start")
    with pytest.raises(ClientException) as caught:
        await _in_thread(_command, client, "start")
    assert caught.value.code == "TaskAlreadyStarted"
    assert caught.value.status_code == 409


def _online_list(client: Client) -> Any:
    request = models.DescribeLiveStreamsOnlineListRequest(
        domain_name=KEY.domain, page_size=10, query_type="strict", app_name=KEY.app
    )
    return client.describe_live_streams_online_list(request)


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_official_sdk_parses_the_online_list(emulator: Emulator, mode: str) -> None:
    emulator.set_online(KEY, True)
    response = await _in_thread(_online_list, _client(emulator, MODES[mode]))
    body = response.body
    assert (body.total_num, body.total_page, body.page_size) == (1, 1, 10)
    (item,) = body.online_info.live_stream_online_info
    assert (item.domain_name, item.app_name, item.stream_name) == (KEY.domain, KEY.app, KEY.stream)
    assert item.publish_time.endswith("Z")
