"""The emulator verifies V1 and V3 signatures exactly as live-api.md §2 describes: the reference
vectors are accepted, anything else is refused with the code the real API uses."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_AK, TEST_SECRET, EmulatorFactory
from liverecd.api import signing
from liverecd.emulator import Emulator

from .rawcall import KEY, command, encoded_url, send, stream_params

_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "api" / "data" / "signature-vectors.json").read_text("utf-8")
)
V1 = _VECTORS["vectors_v1"]
V3 = _VECTORS["vectors_v3"]
VECTOR_TIME = datetime(2025, 1, 15, 8, 30, tzinfo=UTC)


def _at_vector_time(emu: Emulator) -> None:
    """Make the emulator's server clock read the vectors' timestamp."""
    emu.clock_skew = (VECTOR_TIME - emu.clock.wall()).total_seconds()


@pytest.mark.parametrize("vec", V1, ids=[v["id"] for v in V1])
async def test_v1_reference_vector_is_accepted(emulator: Emulator, vec: dict[str, Any]) -> None:
    _at_vector_time(emulator)
    query = {**vec["params"], "Signature": vec["signature"]}
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, query), vec["http_method"])
    assert reply.status == 200, reply.text
    assert emulator.requests[-1].signature_version == "v1"


@pytest.mark.parametrize("vec", V1, ids=[v["id"] for v in V1])
async def test_v1_bad_signature_names_the_server_string_to_sign(
    emulator: Emulator, vec: dict[str, Any]
) -> None:
    _at_vector_time(emulator)
    query = {**vec["params"], "Signature": "AAAA" + vec["signature"][4:]}
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, query), vec["http_method"])
    assert (reply.status, reply.code) == (400, "SignatureDoesNotMatch")
    assert reply.body["Message"].endswith("server string to sign is:" + vec["string_to_sign"])


async def _send_v3_vector(emu: Emulator, vec: dict[str, Any], authorization: str) -> Any:
    headers = {**vec["headers_before_signing"], "Authorization": authorization}
    return await send(encoded_url(emu.url, vec["query"]), vec["http_method"], headers)


async def test_v3_reference_vector_is_accepted(emulator: Emulator) -> None:
    vec = V3[0]
    _at_vector_time(emulator)
    async with asyncio.timeout(10):
        reply = await _send_v3_vector(emulator, vec, vec["authorization"])
    assert reply.status == 200, reply.text
    assert emulator.requests[-1].signature_version == "v3"


async def test_v3_bad_signature_names_the_server_string_to_sign(emulator: Emulator) -> None:
    vec = V3[0]
    _at_vector_time(emulator)
    forged = vec["authorization"].replace(vec["signature"], "0" * 64)
    async with asyncio.timeout(10):
        reply = await _send_v3_vector(emulator, vec, forged)
    assert (reply.status, reply.code) == (400, "SignatureDoesNotMatch")
    assert reply.body["Message"].endswith(f"server StringToSign is [{vec['string_to_sign']}]")


@pytest.mark.parametrize("version", ["v1", "v3"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_signed_call_is_accepted_in_both_versions_and_methods(
    emulator: Emulator, version: Any, method: str
) -> None:
    async with asyncio.timeout(10):
        reply = await command(emulator, "start", version=version, method=method)
    assert reply.status == 200, reply.text
    assert set(reply.body) == {"RequestId"}
    assert reply.headers["x-acs-request-id"] == reply.body["RequestId"]


@pytest.mark.parametrize("version", ["v1", "v3"])
async def test_wrong_secret_is_signature_does_not_match(emulator: Emulator, version: Any) -> None:
    async with asyncio.timeout(10):
        reply = await command(emulator, "start", version=version, secret="not-the-secret")
    assert (reply.status, reply.code) == (400, "SignatureDoesNotMatch")
    assert emulator.state(KEY) == "idle"


@pytest.mark.parametrize("version", ["v1", "v3"])
async def test_unknown_access_key_is_refused(emulator: Emulator, version: Any) -> None:
    async with asyncio.timeout(10):
        reply = await command(emulator, "start", version=version, ak="LTAI5tUNKNOWN")
    assert (reply.status, reply.code) == (400, "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("version", ["v1", "v3"])
@pytest.mark.parametrize(
    ("sent", "accepted"), [("tok+/=en", True), (None, False), ("other", False)]
)
async def test_sts_token_must_match_the_accounts_token(
    emulator_factory: EmulatorFactory, version: Any, sent: str | None, accepted: bool
) -> None:
    emu = await emulator_factory(sts_tokens={TEST_AK: "tok+/=en"})
    async with asyncio.timeout(10):
        reply = await command(emu, "start", version=version, token=sent)
    if accepted:
        assert reply.status == 200, reply.text
    else:
        assert (reply.status, reply.code) == (400, "InvalidSecurityToken.MismatchWithAccessKey")


async def test_v1_empty_signature_type_of_the_old_core_sdk_is_accepted(
    emulator: Emulator,
) -> None:
    async with asyncio.timeout(10):
        reply = await command(emulator, "start", version="v1", method="GET")
        assert reply.status == 200
        signed = signing.sign_v1_request(
            action="RealTimeRecordCommand",
            params={**stream_params(KEY, "stop"), "SignatureType": ""},
            access_key_id=TEST_AK,
            secret=TEST_SECRET,
            method="GET",
            timestamp=emulator.clock.wall(),
        )
        reply = await send(encoded_url(emulator.url, signed.query), "GET")
    assert reply.status == 200, reply.text
    assert emulator.state(KEY) == "paused_waiting"


async def test_v1_form_body_fields_are_signed_parameters(emulator: Emulator) -> None:
    signed = signing.sign_v1_request(
        action="RealTimeRecordCommand",
        params=stream_params(KEY, "start"),
        access_key_id=TEST_AK,
        secret=TEST_SECRET,
        timestamp=emulator.clock.wall(),
    )
    form = {k: v for k, v in signed.query.items() if k in ("Command", "StreamName")}
    query = {k: v for k, v in signed.query.items() if k not in form}
    body = "&".join(f"{k}={signing.percent_encode(v)}" for k, v in form.items()).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, query), "POST", headers, body)
    assert reply.status == 200, reply.text
    assert emulator.state(KEY) == "recording"


def _v3_signed(emu: Emulator, extra: dict[str, str], body: bytes = b"") -> dict[str, str]:
    """V3 headers signed over `extra` too."""
    headers = {
        "host": emu.url.removeprefix("http://"),
        "x-acs-action": "RealTimeRecordCommand",
        "x-acs-version": signing.API_VERSION,
        "x-acs-date": signing.format_timestamp(emu.clock.wall()),
        "x-acs-signature-nonce": signing.new_nonce(),
        "x-acs-content-sha256": signing.sha256_hex(body),
        **extra,
    }
    canonical, names = signing.v3_canonical_request(
        "POST", "/", stream_params(KEY, "start"), headers, headers["x-acs-content-sha256"]
    )
    sig = signing.v3_signature(signing.v3_string_to_sign(canonical), TEST_SECRET)
    return {**headers, "Authorization": signing.v3_authorization(TEST_AK, names, sig)}


async def _post_v3(emu: Emulator, headers: dict[str, str], body: bytes = b"") -> Any:
    url = encoded_url(emu.url, stream_params(KEY, "start"))
    async with asyncio.timeout(10):
        return await send(url, "POST", headers, body)


async def test_v3_extra_signed_headers_like_the_sdks_are_accepted(emulator: Emulator) -> None:
    extra = {"accept": "application/json", "content-type": "application/json", "user-agent": "x"}
    reply = await _post_v3(emulator, _v3_signed(emulator, extra))
    assert reply.status == 200, reply.text


@pytest.mark.parametrize(
    "unsigned_header", [("x-acs-accesskey-id", TEST_AK), ("Content-Type", "text/plain")]
)
async def test_v3_unsigned_common_header_is_incomplete_signature(
    emulator: Emulator, unsigned_header: tuple[str, str]
) -> None:
    headers = _v3_signed(emulator, {})
    headers[unsigned_header[0]] = unsigned_header[1]
    reply = await _post_v3(emulator, headers)
    assert (reply.status, reply.code) == (400, "IncompleteSignature")
    assert unsigned_header[0].lower() in reply.body["Message"]


async def test_v3_unsigned_content_type_may_be_allowed_by_config(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = await emulator_factory(require_signed_content_type=False)
    headers = {**_v3_signed(emu, {}), "Content-Type": "application/octet-stream"}
    reply = await _post_v3(emu, headers)
    assert reply.status == 200, reply.text


async def test_v3_body_that_does_not_match_its_hash_is_refused(emulator: Emulator) -> None:
    headers = _v3_signed(emulator, {}, body=b"")
    reply = await _post_v3(emulator, headers, body=b"tampered")
    assert (reply.status, reply.code) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize(
    "header",
    [
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ],
)
async def test_v3_missing_required_header_is_missing_parameter(
    emulator: Emulator, header: str
) -> None:
    headers = _v3_signed(emulator, {})
    del headers[header]
    reply = await _post_v3(emulator, headers)
    assert (reply.status, reply.code) == (400, "MissingParameter")
    assert header in reply.body["Message"]


async def test_v3_malformed_authorization_is_incomplete_signature(emulator: Emulator) -> None:
    headers = {**_v3_signed(emulator, {}), "Authorization": "ACS3-HMAC-SHA256 nonsense"}
    reply = await _post_v3(emulator, headers)
    assert (reply.status, reply.code) == (400, "IncompleteSignature")


@pytest.mark.parametrize("name", ["AccessKeyId", "SignatureNonce", "Timestamp", "Signature"])
async def test_v1_missing_common_parameter_is_named(emulator: Emulator, name: str) -> None:
    signed = signing.sign_v1_request(
        action="RealTimeRecordCommand",
        params=stream_params(KEY, "start"),
        access_key_id=TEST_AK,
        secret=TEST_SECRET,
        timestamp=emulator.clock.wall(),
    )
    query = {k: v for k, v in signed.query.items() if k != name}
    async with asyncio.timeout(10):
        reply = await send(encoded_url(emulator.url, query), "POST")
    assert (reply.status, reply.code) == (400, f"Missing{name}")
