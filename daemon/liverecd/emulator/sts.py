"""STS for the emulator: temporary keys with an expiry, served from a credentials-URI endpoint.

`GET /sts/credentials?account=AK` answers what `ALIBABA_CLOUD_CREDENTIALS_URI` must answer
(the contract of `alibabacloud-credentials`' URI provider): `Code`, `AccessKeyId`,
`AccessKeySecret`, `SecurityToken`, `Expiration` (`yyyy-mm-ddThh:mm:ssZ`), `LastUpdated`.
`account` names one of the emulator's permanent AccessKeyIds (default: the first). Each GET
issues a new temporary key valid for `ttl` seconds of the emulator's clock; a request signed
with it must carry its token (`SecurityToken` in V1, `x-acs-security-token` in V3) and is
answered 403 `InvalidSecurityToken.Expired` after the expiry. Temporary keys count against
their account's quota: the gateway limits the account, not the key.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from liverecd.clock import Clock
from liverecd.emulator.wire import Rejection

PATH = "/sts/credentials"
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class TemporaryKey:
    """One issued STS key (secrets out of the repr)."""

    access_key_id: str
    owner: str  # the permanent AccessKeyId whose account (and quota) this key belongs to
    secret: str = field(repr=False)
    token: str = field(repr=False)
    expires: datetime


class StsIssuer:
    """Issues and checks temporary keys for the emulator's accounts."""

    def __init__(self, accounts: Mapping[str, str], clock: Clock, ttl: float) -> None:
        self._accounts = accounts
        self._clock = clock
        self.ttl = ttl
        self._keys: dict[str, TemporaryKey] = {}
        self.issued = 0
        self.answer_code = "Success"  # tests set another Code to see the client refuse it

    def issue(self, owner: str) -> TemporaryKey:
        """A new temporary key of `owner`'s account, valid for `ttl` seconds from now. The
        expiry is whole seconds (the wire format has no fraction), rounded down."""
        if owner not in self._accounts:
            raise KeyError(owner)
        now = self._clock.wall().replace(microsecond=0)
        key = TemporaryKey(
            access_key_id=f"STS.{secrets.token_hex(8)}", owner=owner,
            secret=secrets.token_urlsafe(24), token=f"CAIS{secrets.token_urlsafe(48)}",
            expires=now + timedelta(seconds=int(self.ttl)),
        )  # fmt: skip
        self._keys[key.access_key_id] = key
        self.issued += 1
        return key

    def issued_keys(self) -> list[TemporaryKey]:
        """Every temporary key issued so far, oldest first."""
        return list(self._keys.values())

    def lookup(self, access_key_id: str) -> TemporaryKey | None:
        """The temporary key, or None when `access_key_id` is not one."""
        return self._keys.get(access_key_id)

    def check(self, key: TemporaryKey, sent: str | None, server_now: datetime) -> None:
        """Raise Rejection unless `sent` is the key's token and the key has not expired."""
        if sent is None or not hmac.compare_digest(key.token, sent):
            raise Rejection(400, "InvalidSecurityToken.MismatchWithAccessKey")
        if server_now >= key.expires:
            raise Rejection(403, "InvalidSecurityToken.Expired")

    async def handle(self, request: web.Request) -> web.Response:
        """`GET /sts/credentials`: a new temporary key in the credentials-URI format."""
        owner = request.query.get("account") or next(iter(self._accounts), "")
        if owner not in self._accounts:
            return web.json_response({"Code": "InvalidAccount"}, status=404)
        if self.answer_code != "Success":
            return web.json_response({"Code": self.answer_code, "Message": "refused"})
        key = self.issue(owner)
        return web.json_response(
            {
                "Code": "Success",
                "AccessKeyId": key.access_key_id,
                "AccessKeySecret": key.secret,
                "SecurityToken": key.token,
                "Expiration": key.expires.strftime(_FORMAT),
                "LastUpdated": self._clock.wall().strftime(_FORMAT),
            }
        )
