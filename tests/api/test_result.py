"""Reading answers into the one result type: JSON and XML bodies, camelCase, retry-after, the
server's string-to-sign, redaction, and what a non-answer looked like."""

from __future__ import annotations

import pytest

from liverecd.api import result as answer
from liverecd.api.result import ApiResult, TransportError


def test_json_error_body_fields() -> None:
    body = b'{"RequestId":"R1","HostId":"live.aliyuncs.com","Code":"Throttling.User","Message":"m"}'
    data = answer.parse_body(body)
    assert answer.field(data, "RequestId") == "R1"
    assert answer.field(data, "Code") == "Throttling.User"
    assert answer.field(data, "Message") == "m"


def test_camel_case_fields_are_tolerated() -> None:
    data = answer.parse_body(b'{"requestId":"R2","code":"InternalError","message":"x"}')
    assert answer.field(data, "RequestId") == "R2"
    assert answer.field(data, "Code") == "InternalError"


@pytest.mark.parametrize(
    "body",
    [
        b"<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>R3</RequestId>"
        b"<HostId>h</HostId><Code>Forbidden.RAM</Code><Message>a &amp; b</Message></Error>",
        b"<RealTimeRecordCommandResponse><RequestId>R3</RequestId></RealTimeRecordCommandResponse>",
    ],
)
def test_xml_bodies_are_tolerated(body: bytes) -> None:
    data = answer.parse_body(body)
    assert answer.field(data, "RequestId") == "R3"
    if b"<Error>" in body:
        assert answer.field(data, "Code") == "Forbidden.RAM"
        assert answer.field(data, "Message") == "a & b"


@pytest.mark.parametrize("body", [b"", b"<html>bad gateway", b"not json", b"[1,2]", b"{broken"])
def test_unreadable_bodies_give_no_fields(body: bytes) -> None:
    assert answer.field(answer.parse_body(body), "Code") is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1500", 1.5),
        (" 200 ", 0.2),
        (None, None),
        ("0", None),
        ("-5", None),
        ("soon", None),
        ("inf", None),
    ],
)
def test_retry_after_is_milliseconds(header: str | None, seconds: float | None) -> None:
    assert answer.retry_after_seconds(header) == seconds


def test_server_string_to_sign_is_extracted_from_both_message_forms() -> None:
    v1 = "Specified signature is not matched. server string to sign is:POST&%2F&A%3D1"
    v3 = "Specified signature does not match. server StringToSign is [ACS3-HMAC-SHA256\nabc]"
    assert answer.server_string_to_sign(v1) == "POST&%2F&A%3D1"
    assert answer.server_string_to_sign(v3) == "ACS3-HMAC-SHA256\nabc"
    assert answer.server_string_to_sign("other") is None


def test_redact_removes_secrets_in_every_encoding() -> None:
    token = "tok+en/=="
    text = f"a {token} b tok%2Ben%2F%3D%3D c tok%252Ben%252F%253D%253D"
    redacted = answer.redact(text, [token, ""])
    assert redacted == "a *** b *** c ***"


def test_an_http_answer_reads_into_one_result_with_secrets_redacted() -> None:
    body = b'{"RequestId":"R9","Code":"SignatureDoesNotMatch","Message":"saw s3cr3t in it"}'
    got = ApiResult.read(400, "250", body, latency=0.5, nonce="n1", secrets=["s3cr3t"])
    assert (got.http_status, got.request_id, got.code) == (400, "R9", "SignatureDoesNotMatch")
    assert got.message == "saw *** in it"
    assert got.retry_after == 0.25 and got.latency == 0.5 and got.nonce == "n1"
    assert got.body is not None and got.transport_error is None and not got.ok


def test_a_success_reads_as_ok_and_keeps_its_body_for_the_caller() -> None:
    got = ApiResult.read(200, None, b'{"RequestId":"R1","TotalPage":2}', latency=0, nonce="")
    assert got.ok and not got.outcome_unknown
    assert answer.field(got.body, "TotalPage") == "2"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "HTTP 502: empty body"),
        (b"<!DOCTYPE html><p>gateway</p>", "HTTP 502: an HTML page (29 bytes)"),
        (b"garbage", "HTTP 502: not an API answer (7 bytes)"),
    ],
)
def test_a_body_that_is_no_api_answer_is_a_bad_response_described_not_quoted(
    body: bytes, detail: str
) -> None:
    got = ApiResult.read(502, None, body, latency=0, nonce="")
    assert got.transport_error is TransportError.BAD_RESPONSE and got.outcome_unknown
    assert got.detail == detail and not got.ok
