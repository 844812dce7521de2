"""Replay protection: nonces are single-use per key for 15 minutes; timestamps must be within
15 minutes of server time and well formed (live-api.md §2.2, §3.2)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from liverecd.api import signing
from liverecd.clock import FakeClock
from liverecd.emulator import Emulator

from .rawcall import KEY, command, encoded_url, send, stream_params


@pytest.mark.parametrize("version", ["v1", "v3"])
async def test_reused_nonce_is_refused_even_with_a_fresh_signature(
    emulator: Emulator, version: str
) -> None:
    async with asyncio.timeout(10):
        first = await command(emulator, "start", version=version, nonce="same-nonce")  # type: ignore[arg-type]
        second = await command(emulator, "stop", version=version, nonce="same-nonce")  # type: ignore[arg-type]
    assert first.status == 200
    assert (second.status, second.code) == (400, "SignatureNonceUsed")
    assert emulator.state(KEY) == "recording"  # the replayed stop had no effect


async def test_a_refused_signature_does_not_burn_its_nonce(emulator: Emulator) -> None:
    async with asyncio.timeout(10):
        bad = await command(emulator, "start", secret="wrong", nonce="n-1")
        good = await command(emulator, "start", nonce="n-1")
    assert bad.code == "SignatureDoesNotMatch"
    assert good.status == 200


async def test_nonce_is_remembered_for_15_minutes_only(emulator_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emu = await emulator_factory(clock=clock)
    async with asyncio.timeout(10):
        assert (await command(emu, "start", nonce="n")).status == 200
        clock.advance(899)
        assert (await command(emu, "stop", nonce="n")).code == "SignatureNonceUsed"
        clock.advance(2)
        assert (await command(emu, "stop", nonce="n")).status == 200


async def test_nonces_are_per_access_key(emulator_factory: EmulatorFactory) -> None:
    emu = await emulator_factory(accounts={"AK1": "s1", "AK2": "s2"})
    async with asyncio.timeout(10):
        a = await command(emu, "start", ak="AK1", secret="s1", nonce="shared")
        b = await command(emu, "stop", ak="AK2", secret="s2", nonce="shared")
    assert (a.status, b.status) == (200, 200)


@pytest.mark.parametrize("version", ["v1", "v3"])
@pytest.mark.parametrize(
    ("offset_s", "accepted"),
    [(-14 * 60, True), (14 * 60, True), (-16 * 60, False), (16 * 60, False)],
)
async def test_timestamp_must_be_within_15_minutes(
    emulator: Emulator, version: str, offset_s: int, accepted: bool
) -> None:
    stamp = emulator.clock.wall() + timedelta(seconds=offset_s)
    async with asyncio.timeout(10):
        reply = await command(emulator, "start", version=version, timestamp=stamp)  # type: ignore[arg-type]
    if accepted:
        assert reply.status == 200, reply.text
    else:
        assert (reply.status, reply.code) == (400, "InvalidTimeStamp.Expired")


async def test_server_clock_skew_is_settable(emulator: Emulator) -> None:
    emulator.clock_skew = 3600.0  # the server runs an hour ahead: our "now" is stale
    async with asyncio.timeout(10):
        reply = await command(emulator, "start")
    assert reply.code == "InvalidTimeStamp.Expired"


@pytest.mark.parametrize(
    "stamp",
    ["2025-01-15 08:30:00", "2025-01-15T08:30:00+08:00", "1736929800", "2025-13-45T08:30:00Z"],
)
async def test_malformed_timestamp_is_invalid_format(emulator: Emulator, stamp: str) -> None:
    params = {
        **stream_params(KEY, "start"),
        "Action": "RealTimeRecordCommand",
        "Version": signing.API_VERSION,
        "Format": "JSON",
        "AccessKeyId": TEST_AK,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": signing.new_nonce(),
        "Timestamp": stamp,
    }
    query = {**params, "Signature": signing.v1_signature("POST", params, TEST_SECRET)}
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, query), "POST")
    assert (reply.status, reply.code) == (400, "InvalidTimeStamp.Format")
