"""The outcome table, answer by answer (pure; the same table runs over HTTP in test_client)."""

from __future__ import annotations

import pytest

from liverecd.api.outcome import classify, is_throttle
from liverecd.api.result import ApiResult, Outcome, TransportError
from liverecd.streams import Command

S, P, C, R = Command.START, Command.STOP, Command.CANCEL_DELAY, Command.RESTART


def _result(**kw: object) -> ApiResult:
    kw.setdefault("request_id", "16A96B9A-F203-4EC5-8E43-CB92E68F4CD8")
    return ApiResult(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "status", "code", "expected"),
    [
        (S, 200, None, Outcome.OK),
        (S, 409, "TaskAlreadyStarted", Outcome.IDEMPOTENT_OK),
        (P, 409, "TaskAlreadyStarted", Outcome.RETRY),  # known code, wrong command: a guess
        (P, 409, "StreamNotFound", Outcome.IDEMPOTENT_OK),
        (C, 409, "StreamNotFound", Outcome.IDEMPOTENT_OK),
        (P, 404, "InvalidStream.NotFound", Outcome.IDEMPOTENT_OK),
        (S, 409, "StreamNotFound", Outcome.WAIT_FOR_STREAM),
        (R, 404, "InvalidStream.NotFound", Outcome.WAIT_FOR_STREAM),
        (S, 400, "Throttling.User", Outcome.RETRY),
        (P, 400, "Throttling.Api", Outcome.RETRY),
        (S, 400, "Throttling", Outcome.RETRY),
        (S, 400, "Throttling.SomethingNew", Outcome.RETRY),
        (S, 503, "ServiceUnavailable", Outcome.RETRY),
        (S, 500, "InternalError", Outcome.RETRY),
        (S, 400, "InternalError", Outcome.RETRY),
        (S, 500, "UnknownError", Outcome.RETRY),
        (S, 429, None, Outcome.RETRY),
        (S, 502, None, Outcome.RETRY),
        (S, 504, "SomethingNobodyKnows", Outcome.RETRY),
        (S, 400, "SignatureNonceUsed", Outcome.RETRY_RESIGNED_ONCE),
        (S, 400, "InvalidTimeStamp.Expired", Outcome.FATAL),
        (S, 400, "SignatureDoesNotMatch", Outcome.FATAL),
        (S, 400, "InvalidAccessKeyId.NotFound", Outcome.FATAL),
        (S, 403, "Forbidden.RAM", Outcome.FATAL),
        (S, 400, "CodeConfigNotFound", Outcome.FATAL),
        (S, 404, "InvalidConfig.NotFound", Outcome.FATAL),
        (S, 400, "MalformedParam", Outcome.FATAL),
        (S, 400, "MissingStreamName", Outcome.FATAL),
        (S, 404, "InvalidDomain.NotFound", Outcome.FATAL),
        (S, 400, "SomethingNobodyKnows", Outcome.RETRY),
        (P, 400, "ServiceUnavailableTemporary", Outcome.RETRY),
        (S, 200, "SomethingNobodyKnows", Outcome.RETRY),
        (S, 200, "OK", Outcome.RETRY),
        (S, 404, None, Outcome.RETRY),
        (P, 403, None, Outcome.RETRY),
    ],
)
def test_answer_maps_to_outcome(
    command: Command, status: int, code: str | None, expected: Outcome
) -> None:
    assert classify(command, _result(http_status=status, code=code)) is expected


@pytest.mark.parametrize(
    "error", [TransportError.TIMEOUT, TransportError.CONNECT, TransportError.RESET]
)
@pytest.mark.parametrize("command", list(Command))
def test_transport_failures_are_retried(error: TransportError, command: Command) -> None:
    assert classify(command, _result(transport_error=error)) is Outcome.RETRY


@pytest.mark.parametrize("status", [200, 400, 403, 404, 408, 421, 502])
@pytest.mark.parametrize("command", list(Command))
def test_an_answer_that_is_no_api_answer_is_retried_never_a_success(
    status: int, command: Command
) -> None:
    for error in (TransportError.BAD_RESPONSE, TransportError.TOO_LARGE):
        got = _result(http_status=status, transport_error=error, request_id=None)
        assert classify(command, got) is Outcome.RETRY


def test_a_2xx_without_a_request_id_is_no_success() -> None:
    assert classify(S, _result(http_status=200, request_id=None)) is Outcome.RETRY


def test_is_throttle_recognises_codes_and_429() -> None:
    assert is_throttle(_result(http_status=400, code="Throttling.User"))
    assert is_throttle(_result(http_status=429))
    assert not is_throttle(_result(http_status=503, code="ServiceUnavailable"))
    assert not is_throttle(_result(http_status=400, code="ThrottlingX"))
