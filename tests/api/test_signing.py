"""Signing reproduces the official SDK byte for byte (signature-vectors.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liverecd.api import signing

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parent.parent
_CANDIDATES = (
    _HERE / "data" / "signature-vectors.json",
    _REPO.parent / "shared" / "reference" / "signature-vectors.json",
)


def _load_vectors() -> dict[str, Any]:
    for path in _CANDIDATES:
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data
    pytest.skip(f"signature-vectors.json not found in {[str(p) for p in _CANDIDATES]}")


_VECTORS = _load_vectors()
V1 = _VECTORS["vectors_v1"]
V3 = _VECTORS["vectors_v3"]


@pytest.mark.parametrize("vec", V1, ids=[v["id"] for v in V1])
def test_v1_vector_reproduces_canonical_query_string_to_sign_and_signature(
    vec: dict[str, Any],
) -> None:
    params = vec["params"]
    assert signing.v1_canonical_query(params) == vec["canonicalized_query_string"]
    assert signing.v1_string_to_sign(vec["http_method"], params) == vec["string_to_sign"]
    assert (
        signing.v1_signature(vec["http_method"], params, vec["access_key_secret"])
        == vec["signature"]
    )


@pytest.mark.parametrize("vec", V1, ids=[v["id"] for v in V1])
def test_v1_request_builder_signs_like_the_vector(vec: dict[str, Any]) -> None:
    p = vec["params"]
    api_params = {k: p[k] for k in ("RegionId", "Command", "DomainName", "AppName", "StreamName")}
    req = signing.sign_v1_request(
        action=p["Action"],
        params=api_params,
        access_key_id=p["AccessKeyId"],
        secret=vec["access_key_secret"],
        method=vec["http_method"],
        nonce=p["SignatureNonce"],
        timestamp=datetime(2025, 1, 15, 8, 30, tzinfo=UTC),
        response_format=p["Format"],
    )
    assert req.string_to_sign == vec["string_to_sign"]
    assert req.query["Signature"] == vec["signature"]
    assert req.nonce == p["SignatureNonce"]
    encoded = "&".join(
        f"{signing.percent_encode(k)}={signing.percent_encode(v)}"
        for k, v in sorted(req.query.items())
        if k != "Signature"
    )
    assert encoded == vec["canonicalized_query_string"]
    assert (
        f"Signature={signing.percent_encode(req.query['Signature'])}"
        in (vec["example_signed_query_string_with_signature"])
    )


@pytest.mark.parametrize("vec", V3, ids=[v["id"] for v in V3])
def test_v3_vector_reproduces_canonical_request_signature_and_authorization(
    vec: dict[str, Any],
) -> None:
    assert signing.sha256_hex(vec["body"].encode()) == vec["hashed_request_payload"]
    assert signing.v3_canonical_query(vec["query"]) == vec["canonical_query_string"]
    canonical, signed = signing.v3_canonical_request(
        vec["http_method"],
        vec["canonical_uri"],
        vec["query"],
        vec["headers_before_signing"],
        vec["hashed_request_payload"],
    )
    assert canonical == vec["canonical_request"]
    assert signed == vec["signed_headers"]
    sts = signing.v3_string_to_sign(canonical)
    assert sts == vec["string_to_sign"]
    sig = signing.v3_signature(sts, vec["access_key_secret"])
    assert sig == vec["signature"]
    auth = signing.v3_authorization(vec["access_key_id"], signed, sig)
    assert auth == vec["authorization"]
    assert signing.parse_v3_authorization(auth) == (
        vec["access_key_id"],
        signed.split(";"),
        sig,
    )


@pytest.mark.parametrize("vec", V3, ids=[v["id"] for v in V3])
def test_v3_request_builder_signs_like_the_vector(vec: dict[str, Any]) -> None:
    h = vec["headers_before_signing"]
    req = signing.sign_v3_request(
        action=h["x-acs-action"],
        params=vec["query"],
        host=h["host"],
        access_key_id=vec["access_key_id"],
        secret=vec["access_key_secret"],
        method=vec["http_method"],
        nonce=h["x-acs-signature-nonce"],
        timestamp=datetime(2025, 1, 15, 8, 30, tzinfo=UTC),
    )
    assert req.headers["Authorization"] == vec["authorization"]
    assert req.string_to_sign == vec["string_to_sign"]
    assert req.query == vec["query"]


def test_v1_sts_token_is_a_signed_query_parameter() -> None:
    req = signing.sign_v1_request(
        action="RealTimeRecordCommand",
        params={"Command": "start"},
        access_key_id="AK",
        secret="S",
        security_token="tok+en",
    )
    assert req.query["SecurityToken"] == "tok+en"
    assert "SecurityToken%3Dtok%252Ben" in req.string_to_sign
    signed = {k: v for k, v in req.query.items() if k != "Signature"}
    assert req.query["Signature"] == signing.v1_signature("POST", signed, "S")


def test_v3_sts_token_and_key_id_are_signed_headers() -> None:
    req = signing.sign_v3_request(
        action="RealTimeRecordCommand",
        params={"Command": "start"},
        host="127.0.0.1:8080",
        access_key_id="AK",
        secret="S",
        security_token="tok",
    )
    assert req.headers["x-acs-security-token"] == "tok"
    assert req.headers["x-acs-accesskey-id"] == "AK"
    parsed = signing.parse_v3_authorization(req.headers["Authorization"])
    assert parsed is not None
    assert {"x-acs-security-token", "x-acs-accesskey-id", "host"} <= set(parsed[1])


def test_each_request_gets_a_fresh_nonce() -> None:
    nonces = {
        signing.sign_v3_request(
            action="A", params={}, host="h", access_key_id="AK", secret="S"
        ).nonce
        for _ in range(100)
    }
    assert len(nonces) == 100


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a b", "a%20b"),
        ("a*b", "a%2Ab"),
        ("a~b", "a~b"),
        ("a/b+c=d&e", "a%2Fb%2Bc%3Dd%26e"),
        ("直", "%E7%9B%B4"),
        ("-_.", "-_."),
    ],
)
def test_percent_encode_special_characters(value: str, expected: str) -> None:
    assert signing.percent_encode(value) == expected


@given(st.text())
def test_percent_encode_matches_rfc3986_and_round_trips(value: str) -> None:
    # Lone surrogates cannot be UTF-8 encoded; the API only ever sees valid text.
    try:
        raw = value.encode()
    except UnicodeEncodeError:
        return
    encoded = signing.percent_encode(value)
    assert encoded == quote(raw, safe="~")
    assert unquote(encoded) == value
    assert set(encoded) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%"
    )


def test_format_timestamp_is_utc_with_z() -> None:
    east8 = timezone(timedelta(hours=8))
    assert signing.format_timestamp(datetime(2025, 1, 15, 16, 30, 5, tzinfo=east8)) == (
        "2025-01-15T08:30:05Z"
    )


@pytest.mark.parametrize(
    "value",
    ["HMAC abc", "ACS3-HMAC-SHA256 Credential=a", "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h"],
)
def test_parse_v3_authorization_rejects_malformed(value: str) -> None:
    assert signing.parse_v3_authorization(value) is None
