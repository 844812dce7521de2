"""Answer formats, API routing, parameter errors and the request recorder."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest
from structlog.testing import capture_logs

from conftest import TEST_AK, TEST_SECRET
from liverecd.api import signing
from liverecd.emulator import Emulator

from .rawcall import KEY, call, command, encoded_url, send, stream_params


def _v1_query(emu: Emulator, extra: dict[str, str]) -> dict[str, str]:
    """A V1 query without `Format` unless `extra` has one."""
    params = {
        **stream_params(KEY, "start"),
        "Action": "RealTimeRecordCommand",
        "Version": signing.API_VERSION,
        "AccessKeyId": TEST_AK,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": signing.new_nonce(),
        "Timestamp": signing.format_timestamp(emu.clock.wall()),
        **extra,
    }
    return {**params, "Signature": signing.v1_signature("GET", params, TEST_SECRET)}


@pytest.mark.parametrize("extra", [{}, {"Format": "XML"}])
async def test_v1_without_format_json_answers_xml(
    emulator: Emulator, extra: dict[str, str]
) -> None:
    async with asyncio.timeout(10):
        ok = await send(encoded_url(emulator.url, _v1_query(emulator, extra)), "GET")
        again = await send(encoded_url(emulator.url, _v1_query(emulator, extra)), "GET")
    assert ok.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(ok.text)
    assert root.tag == "RealTimeRecordCommandResponse"
    assert root.findtext("RequestId") == ok.headers["x-acs-request-id"]
    error = ET.fromstring(again.text)
    assert (again.status, error.tag, error.findtext("Code")) == (409, "Error", "TaskAlreadyStarted")


@pytest.mark.parametrize("fmt", ["JSON", "json"])
async def test_v1_format_json_in_any_case_answers_json(emulator: Emulator, fmt: str) -> None:
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, _v1_query(emulator, {"Format": fmt})), "GET")
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.status == 200


async def test_error_body_has_the_documented_fields(emulator: Emulator) -> None:
    async with asyncio.timeout(10):
        await command(emulator, "start")
        reply = await command(emulator, "start")
    assert (reply.status, reply.code) == (409, "TaskAlreadyStarted")
    assert set(reply.body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert reply.body["HostId"] == "live.aliyuncs.com"
    assert reply.body["RequestId"] in reply.body["Recommend"]


@pytest.mark.parametrize("version", ["v1", "v3"])
async def test_unknown_action_is_invalid_api_not_found(emulator: Emulator, version: str) -> None:
    async with asyncio.timeout(10):
        reply = await call(emulator, {}, action="DescribeNothing", version=version)  # type: ignore[arg-type]
    assert (reply.status, reply.code) == (404, "InvalidApi.NotFound")


async def test_unknown_command_is_malformed_param(emulator: Emulator) -> None:
    async with asyncio.timeout(10):
        reply = await command(emulator, "pause")
    assert (reply.status, reply.code) == (400, "MalformedParam")


@pytest.mark.parametrize("name", ["Command", "DomainName", "AppName", "StreamName"])
async def test_missing_api_parameter_is_named(emulator: Emulator, name: str) -> None:
    params = {k: v for k, v in stream_params(KEY, "start").items() if k != name}
    async with asyncio.timeout(10):
        reply = await call(emulator, params)
    assert (reply.status, reply.code) == (400, f"Missing{name}")


async def test_every_request_is_recorded_with_who_what_and_answer(emulator: Emulator) -> None:
    async with asyncio.timeout(10):
        ok = await command(emulator, "start", version="v1", nonce="nonce-1")
        refused = await command(emulator, "start", version="v3", nonce="nonce-2")
    first, second = emulator.requests
    assert (first.action, first.command, first.stream) == ("RealTimeRecordCommand", "start", KEY)
    assert (first.access_key_id, first.nonce, first.signature_version) == (TEST_AK, "nonce-1", "v1")
    assert (first.http_status, first.code, first.request_id) == (200, None, ok.body["RequestId"])
    assert (second.signature_version, second.nonce) == ("v3", "nonce-2")
    assert (second.http_status, second.code) == (409, "TaskAlreadyStarted")
    assert second.request_id == refused.body["RequestId"]
    assert first.mono <= second.mono and first.wall <= second.wall
    assert first.fault is None and not first.throttled


async def test_other_methods_than_get_and_post_are_refused(emulator: Emulator) -> None:
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, {}), "PUT")
    assert reply.status == 405
    assert emulator.requests == []


async def test_secrets_never_reach_repr_logs_or_answers(emulator: Emulator) -> None:
    with capture_logs() as logs:
        async with asyncio.timeout(10):
            refused = await command(emulator, "start", secret="Wrong" + TEST_SECRET)
            await command(emulator, "start")
    assert refused.code == "SignatureDoesNotMatch"
    seen = repr(emulator.config) + repr(logs) + refused.text + repr(emulator.requests)
    assert TEST_SECRET not in seen
