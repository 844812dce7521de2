"""The outcome taxonomy: every answer of RealTimeRecordCommand mapped to one meaning.

Table-driven (DESIGN.md §5, live-api.md §1.5 and §3.2). Classify by `Code` first, because
Alibaba's tables disagree on HTTP statuses; the status decides only when there is no code we
know. Only a definite, documented refusal (signature, key, permission, configuration,
parameter) is FATAL. Anything else that is not a success is retried: an unknown code, an answer
that is not a well-formed API answer (an HTML page from a proxy, an empty or truncated body, a
2xx without a `RequestId`), a known code on the wrong command. A stop that gives up on a guess
leaves a recording running; retrying an answer we do not understand costs one call per backoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from liverecd.api.result import ApiResult, Outcome, TransportError
from liverecd.streams import Command

_ALL = frozenset(Command)
_OPENS = frozenset({Command.START, Command.RESTART})
_CLOSES = frozenset({Command.STOP, Command.CANCEL_DELAY})
_STREAM_GONE = ("StreamNotFound", "InvalidStream.NotFound")

# (codes, commands they apply to, outcome). A code absent for a command falls to RETRY.
_CODE_ROWS: tuple[tuple[tuple[str, ...], frozenset[Command], Outcome], ...] = (
    (("TaskAlreadyStarted",), frozenset({Command.START}), Outcome.IDEMPOTENT_OK),
    (_STREAM_GONE, _CLOSES, Outcome.IDEMPOTENT_OK),
    (_STREAM_GONE, _OPENS, Outcome.WAIT_FOR_STREAM),
    (("Throttling", "Throttling.User", "Throttling.Api"), _ALL, Outcome.RETRY),
    (("ServiceUnavailable", "InternalError", "UnknownError"), _ALL, Outcome.RETRY),
    (("SignatureNonceUsed",), _ALL, Outcome.RETRY_RESIGNED_ONCE),
    # The client refreshed the credentials before handing this answer back (api.credsource);
    # a token the refresh cannot replace keeps retrying until the window closes, never FATAL.
    (("InvalidSecurityToken.Expired",), _ALL, Outcome.RETRY),
    (
        (
            # The documented refusals (live-api.md §1.5, §3.2): the only answers that are final.
            "InvalidTimeStamp.Expired",
            "InvalidTimeStamp.Format",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId.NotFound",
            "InvalidAccessKeyId.Inactive",
            "Forbidden.RAM",
            "CodeConfigNotFound",
            "InvalidConfig.NotFound",
            "InvalidDomain.NotFound",
            "MalformedParam",
            "MissingParam",
            "MissingParameter",
            "InvalidApi.NotFound",
            "InvalidProduct.NotFound",
        ),
        _ALL,
        Outcome.FATAL,
    ),
)

# Families the server may extend (Throttling.Foo); longest prefix is irrelevant: they are disjoint.
_CODE_PREFIXES: tuple[tuple[str, Outcome], ...] = (
    ("Throttling.", Outcome.RETRY),
    ("Missing", Outcome.FATAL),
)

_TRANSPORT: Mapping[TransportError, Outcome] = MappingProxyType(
    {
        TransportError.TIMEOUT: Outcome.RETRY,
        TransportError.CONNECT: Outcome.RETRY,
        TransportError.RESET: Outcome.RETRY,
        TransportError.BAD_RESPONSE: Outcome.RETRY,
        TransportError.TOO_LARGE: Outcome.RETRY,
    }
)


def _build(
    rows: Iterable[tuple[tuple[str, ...], frozenset[Command], Outcome]],
) -> Mapping[tuple[str, Command], Outcome]:
    table: dict[tuple[str, Command], Outcome] = {}
    for codes, commands, outcome in rows:
        for code in codes:
            for command in commands:
                if (code, command) in table:
                    raise AssertionError(f"outcome table lists {code}/{command} twice")
                table[(code, command)] = outcome
    return MappingProxyType(table)


_BY_CODE = _build(_CODE_ROWS)
_KNOWN_CODES = frozenset(code for code, _ in _BY_CODE)


def _code_outcome(command: Command, code: str) -> Outcome:
    if (found := _BY_CODE.get((code, command))) is not None:
        return found
    if code in _KNOWN_CODES:
        return Outcome.RETRY  # known code, wrong command (e.g. TaskAlreadyStarted on stop)
    return next((o for prefix, o in _CODE_PREFIXES if code.startswith(prefix)), Outcome.RETRY)


def classify(command: Command, result: ApiResult) -> Outcome:
    """The one meaning of `result` for `command`. Never raises. FATAL only for a documented
    refusal; OK only for a well-formed success (2xx, a `RequestId`, no `Code`)."""
    if result.transport_error is not None:
        return _TRANSPORT.get(result.transport_error, Outcome.RETRY)
    if result.code:
        return _code_outcome(command, result.code)
    status = result.http_status
    if status is not None and 200 <= status < 300 and result.request_id:
        return Outcome.OK
    return Outcome.RETRY  # no code: a proxy's page, a 5xx, a 2xx that is no API answer


def is_throttle(result: ApiResult) -> bool:
    """True when the server said we (or the account) are over quota."""
    code = result.code or ""
    return code == "Throttling" or code.startswith("Throttling.") or result.http_status == 429
