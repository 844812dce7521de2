"""The outcome taxonomy: every answer of RealTimeRecordCommand mapped to one meaning.

Table-driven (DESIGN.md §5, live-api.md §1.5 and §3.2). Classify by `Code` first, because
Alibaba's tables disagree on HTTP statuses; the status decides only when there is no code we
know. Anything not in the tables is FATAL: an unknown answer is logged loudly, never retried
into a loop.
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

# (codes, commands they apply to, outcome). A code absent for a command falls to FATAL.
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
            # Written out although FATAL is the default: these are the ones we know are fatal.
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
    }
)


def _status_outcome(status: int) -> Outcome | None:
    """Only for answers without a known code: 2xx is success, 429 and 5xx are transient."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 429 or 500 <= status < 600:
        return Outcome.RETRY
    return None


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


def _code_outcome(command: Command, code: str) -> Outcome | None:
    if (found := _BY_CODE.get((code, command))) is not None:
        return found
    if code in _KNOWN_CODES:
        return Outcome.FATAL  # known code, wrong command (e.g. TaskAlreadyStarted on stop)
    return next((o for prefix, o in _CODE_PREFIXES if code.startswith(prefix)), None)


def classify(command: Command, result: ApiResult) -> Outcome:
    """The one meaning of `result` for `command`. Never raises; unknown answers are FATAL."""
    if result.transport_error is not None and result.transport_error in _TRANSPORT:
        return _TRANSPORT[result.transport_error]
    if result.code:
        found = _code_outcome(command, result.code)
        if found is not None:
            return found
    if result.http_status is not None:
        by_status = _status_outcome(result.http_status)
        # An unrecognised code on a 2xx would be odd; do not call it success.
        if by_status is not None and not (by_status is Outcome.OK and result.code):
            return by_status
    return Outcome.FATAL


def is_throttle(result: ApiResult) -> bool:
    """True when the server said we (or the account) are over quota."""
    code = result.code or ""
    return code == "Throttling" or code.startswith("Throttling.") or result.http_status == 429
