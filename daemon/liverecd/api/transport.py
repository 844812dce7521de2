"""What went wrong on the wire, said without a secret: the kind of transport error, its reason
(host and port are the caller's), and the size cap on answers."""

from __future__ import annotations

import os

import aiohttp

from liverecd.api.result import TransportError

MAX_ANSWER = 1024 * 1024  # bytes; a real answer is under 1 KB, the online list ~1 KB per stream


def error_kind(exc: BaseException) -> TransportError:
    """The TransportError an aiohttp failure stands for."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return TransportError.CONNECT  # never reached the server: safe to repeat anything
    if isinstance(exc, TimeoutError):
        return TransportError.TIMEOUT
    return TransportError.RESET


def reason(exc: BaseException) -> str:
    """Why a request failed, from the exception's type and OS error only: the text of some
    aiohttp errors quotes the request URL, whose query carries the signature and STS token."""
    name = type(exc).__name__
    os_error = getattr(exc, "os_error", None)
    if not isinstance(os_error, OSError) and isinstance(exc, OSError):
        os_error = exc
    if not isinstance(os_error, OSError):
        return name
    if os_error.errno is not None and os_error.errno > 0:
        return f"{name}: {os.strerror(os_error.errno)}"  # asyncio's strerror is a sentence
    if os_error.strerror:
        return f"{name}: {os_error.strerror}"  # a DNS failure (gaierror): errno is negative
    return name


async def read_capped(resp: aiohttp.ClientResponse) -> bytes | None:
    """The body, or None once it passes MAX_ANSWER (an endless body must not eat memory)."""
    if resp.content_length is not None and resp.content_length > MAX_ANSWER:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > MAX_ANSWER:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
