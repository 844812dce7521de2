"""Request signing for the Live API, byte for byte as the official SDKs compute it.

V1 is RPC `SignatureVersion 1.0` (HMAC-SHA1, every parameter in the query string); V3 is
`ACS3-HMAC-SHA256` (API parameters in the query, the rest in signed `x-acs-*` headers), the
official SDK's default. See live-api.md §2.3/§2.4. The emulator imports the same functions to
verify signatures, so client and emulator can only agree by both being right against the vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

API_VERSION = "2016-11-01"
V3_ALGORITHM = "ACS3-HMAC-SHA256"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8 `value`: `A-Z a-z 0-9 - _ . ~` kept, the rest `%XY` upper hex.

    Space is `%20` (never `+`), `*` is `%2A`, `~` stays literal (live-api.md §2.3 step 3).
    """
    # quote() keeps "_.-~" and alphanumerics; safe="~" only states it (it is kept since 3.7).
    return quote(value, safe="~")


def sha256_hex(body: bytes) -> str:
    """Lower-case hex SHA-256 of `body` (`x-acs-content-sha256`)."""
    return hashlib.sha256(body).hexdigest()


def callback_signature(host: str, timestamp: str, key: str) -> str:
    """`ALI-LIVE-SIGNATURE` of a Live callback: hex md5 of `<host>|<timestamp>|<key>`, where
    host is the callback's host as configured in Alibaba (the ingest domain for stream
    callbacks) and key the NotifyAuthKey (live-api.md §6.2, §6.3)."""
    text = f"{host}|{timestamp}|{key}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def new_nonce() -> str:
    """A fresh signature nonce: 32 hex digits of a UUID4, never reused (15-min server memory)."""
    return uuid.uuid4().hex


def format_timestamp(dt: datetime) -> str:
    """`yyyy-MM-ddTHH:mm:ssZ` in UTC; a naive datetime is taken to be UTC already."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# V1: HMAC-SHA1


def v1_canonical_query(params: Mapping[str, str]) -> str:
    """Sorted (code-point order) `name=value` pairs, each side percent-encoded, joined by `&`.

    `params` is exactly the signed set: everything except `Signature`.
    """
    return "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """`METHOD&%2F&percentEncode(canonical query)`."""
    return f"{method.upper()}&%2F&{percent_encode(v1_canonical_query(params))}"


def v1_sign_string(string_to_sign: str, secret: str) -> str:
    """Base64 HMAC-SHA1 of `string_to_sign` keyed with `secret + "&"`."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def v1_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """The V1 `Signature` value for `params` (which must not contain `Signature`)."""
    return v1_sign_string(v1_string_to_sign(method, params), secret)


# ---------------------------------------------------------------------------------------------
# V3: ACS3-HMAC-SHA256


def v3_canonical_query(query: Mapping[str, str]) -> str:
    """Sorted `name=value` pairs with percent-encoded values, joined by `&`."""
    return "&".join(f"{percent_encode(k)}={percent_encode(query[k])}" for k in sorted(query))


def v3_canonical_request(
    method: str,
    uri: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """(canonical request, signed headers). Every header given is signed: names lower-cased
    and sorted, values trimmed."""
    lowered = {name.lower().strip(): value.strip() for name, value in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical = "\n".join(
        (
            method.upper(),
            uri,
            v3_canonical_query(query),
            canonical_headers,
            signed_headers,
            payload_hash,
        )
    )
    return canonical, signed_headers


def v3_string_to_sign(canonical_request: str) -> str:
    """`ACS3-HMAC-SHA256\\n` + hex SHA-256 of the canonical request."""
    return f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode())}"


def v3_signature(string_to_sign: str, secret: str) -> str:
    """Lower-case hex HMAC-SHA256 keyed with the bare secret (no `&`)."""
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def v3_authorization(access_key_id: str, signed_headers: str, signature: str) -> str:
    """The `Authorization` header value (no space after the commas)."""
    return (
        f"{V3_ALGORITHM} Credential={access_key_id},"
        f"SignedHeaders={signed_headers},Signature={signature}"
    )


def parse_v3_authorization(value: str) -> tuple[str, list[str], str] | None:
    """(credential, signed header names, signature) of an Authorization header, else None."""
    prefix = f"{V3_ALGORITHM} "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        name, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = val
    try:
        credential = fields["Credential"]
        signed = fields["SignedHeaders"]
        signature = fields["Signature"]
    except KeyError:
        return None
    if not credential or not signed or not signature:
        return None
    return credential, signed.split(";"), signature


# ---------------------------------------------------------------------------------------------
# Request builders used by the client


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What to put on the wire for one attempt. `string_to_sign` is kept for the
    SignatureDoesNotMatch diagnostic; it holds no secret."""

    method: str
    query: dict[str, str]
    headers: dict[str, str]
    string_to_sign: str
    nonce: str


def sign_v1_request(
    *,
    action: str,
    params: Mapping[str, str],
    access_key_id: str,
    secret: str,
    security_token: str | None = None,
    method: str = "POST",
    nonce: str | None = None,
    timestamp: datetime | None = None,
    response_format: str = "JSON",
) -> SignedRequest:
    """Every parameter, common ones included, signed into the query string (tea SDK style)."""
    nonce = nonce or new_nonce()
    query: dict[str, str] = {
        **params,
        "Action": action,
        "Version": API_VERSION,
        "Format": response_format,
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce,
        "Timestamp": format_timestamp(timestamp or datetime.now(UTC)),
    }
    if security_token is not None:
        query["SecurityToken"] = security_token
    string_to_sign = v1_string_to_sign(method, query)
    query["Signature"] = v1_sign_string(string_to_sign, secret)
    return SignedRequest(method.upper(), query, {}, string_to_sign, nonce)


def sign_v3_request(
    *,
    action: str,
    params: Mapping[str, str],
    host: str,
    access_key_id: str,
    secret: str,
    security_token: str | None = None,
    method: str = "POST",
    body: bytes = b"",
    nonce: str | None = None,
    timestamp: datetime | None = None,
) -> SignedRequest:
    """API parameters in the query; action, version, date, nonce and body hash in signed
    `x-acs-*` headers, with `host`; STS adds `x-acs-security-token` and `x-acs-accesskey-id`."""
    nonce = nonce or new_nonce()
    payload_hash = sha256_hex(body)
    headers: dict[str, str] = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": API_VERSION,
        "x-acs-date": format_timestamp(timestamp or datetime.now(UTC)),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": payload_hash,
    }
    if security_token is not None:
        headers["x-acs-security-token"] = security_token
        headers["x-acs-accesskey-id"] = access_key_id
    query = dict(params)
    canonical, signed_headers = v3_canonical_request(method, "/", query, headers, payload_hash)
    string_to_sign = v3_string_to_sign(canonical)
    signature = v3_signature(string_to_sign, secret)
    headers["Authorization"] = v3_authorization(access_key_id, signed_headers, signature)
    return SignedRequest(method.upper(), query, headers, string_to_sign, nonce)
