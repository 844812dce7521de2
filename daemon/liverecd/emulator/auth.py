"""Who sent a request, and may it be served: V1 and V3 signatures, the 15-minute timestamp
window, STS tokens and nonce reuse (live-api.md §2, §3.2).

Verification recomputes the signature with the client's own functions
(`liverecd.api.signing`), which reproduce the official SDK's test vectors byte for byte.
"""

from __future__ import annotations

import hmac
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from liverecd.api import signing
from liverecd.emulator.sts import StsIssuer
from liverecd.emulator.wire import Rejection, missing

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_V1_REQUIRED = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
)
_V3_REQUIRED = (
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """A request reduced to what the gateway looks at. `params` are the API parameters (V1: every
    query and form field except `Signature`; V3: query and form fields). `headers` have lower-case
    names."""

    method: str
    signature_version: Literal["v1", "v3"]
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] | None = None  # V3 signs the query alone (the body is hashed)
    signature: str | None = None
    authorization: tuple[str, list[str], str] | None = None

    @property
    def action(self) -> str | None:
        """The API name (`Action`, or `x-acs-action` under V3)."""
        if self.signature_version == "v3":
            return self.headers.get("x-acs-action")
        return self.params.get("Action")

    @property
    def api_version(self) -> str | None:
        """The API version (`Version`, or `x-acs-version` under V3)."""
        if self.signature_version == "v3":
            return self.headers.get("x-acs-version")
        return self.params.get("Version")

    @property
    def access_key_id(self) -> str | None:
        """The AccessKeyId the caller claims (V3: the Authorization's Credential)."""
        if self.signature_version == "v3":
            return self.authorization[0] if self.authorization else None
        return self.params.get("AccessKeyId")

    @property
    def nonce(self) -> str | None:
        """The signature nonce the caller sent."""
        if self.signature_version == "v3":
            return self.headers.get("x-acs-signature-nonce")
        return self.params.get("SignatureNonce")

    @property
    def wants_xml(self) -> bool:
        """V1 answers in XML unless `Format=JSON` (any case); V3 always in JSON."""
        if self.signature_version == "v3":
            return False
        return self.params.get("Format", "XML").upper() != "JSON"


def parse_request(
    method: str,
    query: list[tuple[str, str]],
    form: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> ParsedRequest:
    """Sort a request into V3 (it has an `Authorization` header) or V1 (everything else).

    Query fields come first, form fields after; the first value of a repeated name wins.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    params: dict[str, str] = {}
    for name, value in (*query, *form):
        params.setdefault(name, value)
    auth_header = lowered.get("authorization")
    if auth_header is not None:
        parsed = signing.parse_v3_authorization(auth_header)
        return ParsedRequest(
            method.upper(),
            "v3",
            params,
            lowered,
            body,
            query=dict(reversed(query)),  # first value wins, as in params
            authorization=parsed,
        )
    signature = params.pop("Signature", None)
    return ParsedRequest(method.upper(), "v1", params, lowered, body, signature=signature)


class NonceStore:
    """Nonces seen per AccessKeyId, each remembered for `memory` seconds."""

    def __init__(self, memory: float) -> None:
        self._memory = memory
        self._seen: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()

    def use(self, access_key_id: str, nonce: str, now: float) -> bool:
        """Remember `nonce`; False when it was already used within the memory window."""
        while self._order and self._order[0][0] <= now:
            expiry, key = self._order.popleft()
            if self._seen.get(key) == expiry:
                del self._seen[key]
        key = (access_key_id, nonce)
        if key in self._seen:
            return False
        expiry = now + self._memory
        self._seen[key] = expiry
        self._order.append((expiry, key))
        return True


def parse_timestamp(value: str) -> datetime:
    """`yyyy-MM-ddTHH:mm:ssZ` (fractional seconds tolerated) as aware UTC; Rejection otherwise."""
    if not _TIMESTAMP.fullmatch(value):
        raise Rejection(400, "InvalidTimeStamp.Format")
    try:
        parsed = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")  # noqa: DTZ007 - Z checked
    except ValueError:
        raise Rejection(400, "InvalidTimeStamp.Format") from None
    return parsed.replace(tzinfo=UTC)


class Authenticator:
    """Verifies a ParsedRequest against the configured accounts; raises Rejection when refused.

    Checks run in the gateway's plausible order: required fields, timestamp, key, STS token,
    signature, and last the nonce, so a request with a bad signature does not burn its nonce.
    """

    def __init__(
        self,
        accounts: Mapping[str, str],
        sts_tokens: Mapping[str, str],
        *,
        timestamp_window: float,
        nonce_memory: float,
        require_signed_content_type: bool = True,
        sts: StsIssuer | None = None,
    ) -> None:
        self._sts = sts
        self._sign_content_type = require_signed_content_type
        self._accounts = dict(accounts)
        self._tokens = dict(sts_tokens)
        self._window = timestamp_window
        self._nonces = NonceStore(nonce_memory)

    def verify(self, req: ParsedRequest, server_now: datetime, mono_now: float) -> str:
        """Return the verified account (the AccessKeyId, or a temporary key's owner), or raise
        Rejection."""
        if req.signature_version == "v3":
            self._verify_v3(req, server_now)
        else:
            self._verify_v1(req, server_now)
        ak, nonce = req.access_key_id, req.nonce
        assert ak is not None and nonce is not None  # checked as required fields above
        if not self._nonces.use(ak, nonce, mono_now):
            raise Rejection(400, "SignatureNonceUsed")
        temporary = self._sts.lookup(ak) if self._sts is not None else None
        return temporary.owner if temporary is not None else ak

    def _check_time(self, value: str, server_now: datetime) -> None:
        sent = parse_timestamp(value)
        if abs((sent - server_now).total_seconds()) > self._window:
            raise Rejection(400, "InvalidTimeStamp.Expired")

    def _secret(self, access_key_id: str) -> str:
        temporary = self._sts.lookup(access_key_id) if self._sts is not None else None
        if temporary is not None:
            return temporary.secret
        secret = self._accounts.get(access_key_id)
        if secret is None:
            raise Rejection(400, "InvalidAccessKeyId.NotFound")
        return secret

    def _check_token(self, access_key_id: str, sent: str | None, server_now: datetime) -> None:
        temporary = self._sts.lookup(access_key_id) if self._sts is not None else None
        if temporary is not None:
            assert self._sts is not None
            self._sts.check(temporary, sent, server_now)
            return
        expected = self._tokens.get(access_key_id)
        if expected is None and sent is None:
            return
        if expected is None or sent is None or not hmac.compare_digest(expected, sent):
            raise Rejection(400, "InvalidSecurityToken.MismatchWithAccessKey")

    def _verify_v1(self, req: ParsedRequest, server_now: datetime) -> None:
        for name in _V1_REQUIRED:
            value = req.signature if name == "Signature" else req.params.get(name)
            if value is None:
                raise missing(name)
        self._check_time(req.params["Timestamp"], server_now)
        ak = req.params["AccessKeyId"]
        secret = self._secret(ak)
        if req.params["SignatureMethod"] != "HMAC-SHA1":
            raise Rejection(400, "InvalidSignatureMethod", "SignatureMethod must be HMAC-SHA1.")
        if req.params["SignatureVersion"] != "1.0":
            raise Rejection(400, "InvalidSignatureVersion", "SignatureVersion must be 1.0.")
        # The old core SDK always signs an empty SignatureType; bearer tokens are not emulated.
        if req.params.get("SignatureType", "") != "":
            raise Rejection(400, "InvalidSignatureType", "Only AccessKey signatures are served.")
        self._check_token(ak, req.params.get("SecurityToken"), server_now)
        string_to_sign = signing.v1_string_to_sign(req.method, req.params)
        expected = signing.v1_sign_string(string_to_sign, secret)
        assert req.signature is not None
        if not hmac.compare_digest(expected, req.signature):
            raise Rejection(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{string_to_sign}",
            )

    def _verify_v3(self, req: ParsedRequest, server_now: datetime) -> None:
        if req.authorization is None:
            raise Rejection(400, "IncompleteSignature")
        for name in _V3_REQUIRED:
            if name not in req.headers:
                raise Rejection(
                    400,
                    "MissingParameter",
                    f'The input parameter "{name}" that is mandatory for processing this request '
                    "is not supplied.",
                )
        self._check_time(req.headers["x-acs-date"], server_now)
        ak, signed_names, signature = req.authorization
        secret = self._secret(ak)
        signed = {name.lower() for name in signed_names}
        # "Every common header except Authorization must be signed if present" (V3 doc); the
        # official SDK signs content-type whenever it sends one, so an unsigned one is refused.
        must_sign = {
            n
            for n in req.headers
            if n.startswith("x-acs-") or (n == "content-type" and self._sign_content_type)
        }
        unsigned = sorted((must_sign | {"host"}) - signed)
        if unsigned or not signed <= set(req.headers):
            raise Rejection(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards. "
                f"Unsigned or absent headers: {', '.join(unsigned) or 'see SignedHeaders'}",
            )
        self._check_token(ak, req.headers.get("x-acs-security-token"), server_now)
        string_to_sign = self.v3_string_to_sign(req, signed)
        expected = signing.v3_signature(string_to_sign, secret)
        if not hmac.compare_digest(expected, signature.lower()):
            raise Rejection(
                400,
                "SignatureDoesNotMatch",
                "Specified signature does not match our calculation. "
                f"server StringToSign is [{string_to_sign}]",
            )

    @staticmethod
    def v3_string_to_sign(req: ParsedRequest, signed: set[str]) -> str:
        """The server's V3 string to sign: over the headers the client named, with the hash of
        the body actually received (a wrong x-acs-content-sha256 cannot match)."""
        headers = {name: req.headers[name] for name in signed}
        canonical, _ = signing.v3_canonical_request(
            req.method, "/", req.query or {}, headers, signing.sha256_hex(req.body)
        )
        return signing.v3_string_to_sign(canonical)
