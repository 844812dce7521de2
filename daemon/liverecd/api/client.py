"""The Live API client: one signed attempt per call, answered as a typed result, never raised.

It sends what the official SDK sends (POST `/`, parameters in the query, empty body; V3 headers
by default, V1 query signing on request), with a fresh nonce and timestamp on every call and a
per-attempt deadline on the injected clock. Retrying and pacing belong to the dispatcher and the
limiter, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

import aiohttp
import structlog
from yarl import URL

from liverecd import redaction
from liverecd.api import transport
from liverecd.api.credentials import Credentials
from liverecd.api.credsource import CredentialSource
from liverecd.api.online import OnlineListResult, online_list_result
from liverecd.api.result import ApiResult, TransportError, redact, server_string_to_sign
from liverecd.api.signing import SignedRequest, percent_encode, sign_v1_request, sign_v3_request
from liverecd.clock import Clock, SystemClock
from liverecd.config import ApiConfig
from liverecd.errors import ConfigError, Problem
from liverecd.net import is_loopback
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)

ACTION_RECORD = "RealTimeRecordCommand"
ACTION_ONLINE = "DescribeLiveStreamsOnlineList"
USER_AGENT = "liverecd"
EXPIRED_TOKEN = "InvalidSecurityToken.Expired"  # noqa: S105 - an error code


def validate_endpoint(endpoint: str) -> URL:
    """The endpoint as a URL; `http://` only for loopback hosts. Raises ConfigError."""
    url = URL(endpoint)
    host = url.host or ""
    if url.scheme == "https" and host:
        return url
    if url.scheme == "http" and host and is_loopback(host):
        return url
    raise ConfigError(
        [
            Problem(
                "api.endpoint",
                None,
                None,
                f"{endpoint!r}: use https:// (http:// only for "
                "loopback hosts: 127.0.0.0/8, ::1, localhost)",
            )
        ]
    )


def _host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.explicit_port is not None and not url.is_default_port():
        host = f"{host}:{url.explicit_port}"
    return host


class LiveClient:
    """Signed calls to the Live API over one pooled `aiohttp.ClientSession`."""

    def __init__(
        self,
        config: ApiConfig,
        credentials: Credentials | CredentialSource,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._clock: Clock = clock or SystemClock()
        self.source = (
            credentials
            if isinstance(credentials, CredentialSource)
            else CredentialSource.fixed(credentials, self._clock)
        )
        for secret in self._secrets():  # from now on redacted in every output of the process
            redaction.register(secret)
        self._base = validate_endpoint(config.endpoint)
        self._host = _host_header(self._base)
        self._session = session
        self._owns_session = session is None
        # The attempt's deadline (`timeout`) runs on our clock, so a daemon on FakeClock times a
        # hung request out too. aiohttp keeps the connect deadline, on real time: only it can
        # tell "never reached the server" (safe to repeat even a restart) from "may have acted".
        self._wire_timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout.total_seconds()
        )

    @property
    def access_key_id(self) -> str:
        """The key these calls are signed with now (STS keys change at every refresh)."""
        return self.source.current().access_key_id

    def set_timeout(self, config: ApiConfig) -> None:
        """Take `config.timeout` for the next attempts (config reload)."""
        self._config = replace(self._config, timeout=config.timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it; an injected one is the caller's."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Created lazily: a ClientSession must be born inside the running loop.
            connector = aiohttp.TCPConnector(limit=100, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}
            )
        return self._session

    async def real_time_record_command(self, command: Command, stream: StreamKey) -> ApiResult:
        """One attempt of RealTimeRecordCommand. Never raises for API or transport failures."""
        params = {
            "AppName": stream.app,
            "Command": command.value,
            "DomainName": stream.domain,
            "RegionId": self._config.region,
            "StreamName": stream.stream,
        }
        return await self._call(ACTION_RECORD, params)

    async def describe_live_streams_online_list(
        self,
        domain: str,
        *,
        app: str | None = None,
        page_num: int = 1,
        page_size: int = 3000,
        stream: str | None = None,
    ) -> OnlineListResult:
        """One page of the streams live on `domain` (optionally one app, or with `app` and
        `stream` one exact stream: `QueryType=strict`). Never raises."""
        params = {
            "DomainName": domain,
            "OnlyStream": "yes",
            "PageNum": str(page_num),
            "PageSize": str(page_size),
            "RegionId": self._config.region,
        }
        if app is not None:
            params["AppName"] = app
        if stream is not None:
            params["StreamName"] = stream
            params["QueryType"] = "strict"  # fuzzy (the default) finds cam10 for cam1
        page = online_list_result(await self._call(ACTION_ONLINE, params), page_num, domain)
        if app is None and stream is None:
            return page
        # The API matches AppName fuzzily by default (`live` also finds `live2`): keep exact ones.
        kept = tuple(
            s
            for s in page.streams
            if (app is None or s.app == app) and (stream is None or s.stream == stream)
        )
        return replace(page, streams=kept)

    async def call(self, action: str, params: Mapping[str, str]) -> ApiResult:
        """One signed attempt of any read-only `action` (RegionId added). Never raises."""
        return await self._call(action, {**params, "RegionId": self._config.region})

    def _sign(self, action: str, params: Mapping[str, str], creds: Credentials) -> SignedRequest:
        token = creds.security_token.reveal() if creds.security_token else None
        common: dict[str, Any] = {
            "action": action,
            "params": params,
            "access_key_id": creds.access_key_id,
            "secret": creds.secret.reveal(),
            "security_token": token,
            "timestamp": self._clock.wall(),
        }
        if self._config.signature == "v1":
            return sign_v1_request(**common)
        return sign_v3_request(host=self._host, **common)

    async def _call(self, action: str, params: Mapping[str, str]) -> ApiResult:
        creds = self.source.current()
        signed = self._sign(action, params, creds)
        query = "&".join(
            f"{percent_encode(k)}={percent_encode(v)}" for k, v in signed.query.items()
        )
        url = self._base.with_path("/").with_query(None)
        url = URL(f"{url}?{query}", encoded=True)
        started = self._clock.monotonic()
        try:
            async with (
                self._clock.timeout(self._config.timeout.total_seconds()),
                self._get_session().request(
                    signed.method,
                    url,
                    headers=signed.headers,
                    timeout=self._wire_timeout,
                    allow_redirects=False,
                    # aiohttp would add an unsigned Content-Type to the empty POST; the API
                    # demands that a Content-Type, when present, be signed. The SDK sends none.
                    skip_auto_headers=("Content-Type",),
                ) as resp,
            ):
                body = await transport.read_capped(resp)
                if body is None:
                    resp.close()  # drop the connection: the rest of the body is never read
                status, retry_header = resp.status, resp.headers.get("x-acs-retry-after")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._failed(signed, started, transport.error_kind(exc), transport.reason(exc))
        if body is None:
            reason = f"answer larger than {transport.MAX_ANSWER} bytes (HTTP {status})"
            return self._failed(signed, started, TransportError.TOO_LARGE, reason)
        got = ApiResult.read(
            status, retry_header, body, latency=self._clock.monotonic() - started,
            nonce=signed.nonce, secrets=self._secrets(),
        )  # fmt: skip
        if got.code == "SignatureDoesNotMatch":
            self._mismatch(signed, got)
        if got.code == EXPIRED_TOKEN:
            # The answer goes back as a retry (api.outcome); the retry signs with what this
            # refresh brings (or, when it fails, the refresh is retried on its own timer).
            await self.source.refresh("expired", stale=creds)
        return got

    def _failed(
        self, signed: SignedRequest, started: float, error: TransportError, reason: str
    ) -> ApiResult:
        return ApiResult(
            latency=self._clock.monotonic() - started,
            transport_error=error,
            nonce=signed.nonce,
            detail=f"{self._base.host}:{self._base.port}: {reason}",
        )

    def _mismatch(self, signed: SignedRequest, got: ApiResult) -> None:
        """Log both strings-to-sign of a SignatureDoesNotMatch, the server's and ours."""
        theirs = server_string_to_sign(got.message)
        ours = redact(signed.string_to_sign, self._secrets())
        log.error(
            "signature_mismatch",
            access_key_id=self.source.current().access_key_id,
            signature=self._config.signature,
            server_string_to_sign=theirs,
            our_string_to_sign=ours,
            # Same strings: the secret is wrong. Different: an encoding bug (ours or theirs).
            strings_match=theirs == ours if theirs is not None else None,
            request_id=got.request_id,
        )

    def _secrets(self) -> tuple[str, ...]:
        creds = self.source.current()
        return (
            creds.secret.reveal(),
            creds.security_token.reveal() if creds.security_token else "",
        )
