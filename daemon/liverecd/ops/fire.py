"""`liverecd fire COMMAND DOMAIN/APP/STREAM -c CONFIG [--wait 30s]`: one command, now.

The command is one order through the daemon's own dispatcher (`engine.dispatch`): the same
client, limiter, retry policy and verdict (`engine.dispatch.answers.decide`), so `fire` and the
daemon cannot disagree on what an answer means; a `restart` whose outcome is unknown, for one, is
re-sent as a `start` by both. What `fire` adds are its two bounds: `--wait` for a stream that is
not live, `--give-up-after` for everything else; either withdraws the order (`cancel`).

A `stop` of a stream nobody publishes is the harmless way to check credentials, endpoint and
permissions (`StreamNotFound` answers `idempotent_ok`); a `start` by hand begins a real
recording that no schedule will stop, so it warns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from liverecd import redaction
from liverecd.api.accounts import provider_for
from liverecd.api.client import LiveClient
from liverecd.api.credsource import CredentialSource
from liverecd.api.ratelimit import limiter_for
from liverecd.api.result import ApiResult, Outcome, TransportError
from liverecd.api.retry import RetryPolicy
from liverecd.clock import Clock, SystemClock
from liverecd.config import CONFIG_HELP, DEFAULT_CONFIG, LogConfig
from liverecd.durations import parse_duration
from liverecd.engine.dispatch.dispatcher import Dispatcher
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.engine.dispatch.timing import Pacer
from liverecd.engine.observer import NullObserver
from liverecd.errors import LiverecdError
from liverecd.ops import logs
from liverecd.schedule.config import load_config
from liverecd.streams import Command, StreamKey

WINDOW = "fire"  # the order's window id: fire has no timetable behind it
STREAM_NOT_LIVE = "stream not live"
DEADLINE_PASSED = "deadline passed"


def _duration_seconds(text: str) -> float:
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative duration, got {text!r}")
    return seconds


def _stream_key(text: str) -> StreamKey:
    try:
        return StreamKey.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Arguments of `liverecd fire`."""
    parser.add_argument("command_name", metavar="COMMAND", choices=[c.value for c in Command])
    parser.add_argument("stream", metavar="DOMAIN/APP/STREAM", type=_stream_key)
    parser.add_argument(
        "-c", "--config", default=DEFAULT_CONFIG, type=Path,
        help=CONFIG_HELP,
    )  # fmt: skip
    parser.add_argument(
        "--account", default="default", help="the account to send with (default: the api block's)"
    )
    parser.add_argument(
        "--wait",
        type=_duration_seconds,
        default=0.0,
        metavar="DURATION",
        help="wait this long for a stream that is not live yet (default 0: report it at once)",
    )
    parser.add_argument(
        "--give-up-after",
        type=_duration_seconds,
        default=120.0,
        metavar="DURATION",
        help="stop retrying transient failures after this long (default 2m)",
    )


@dataclass(frozen=True, slots=True)
class FireReport:
    """How the order ended: the dispatcher's `Settled`, every attempt's answer and meaning, and
    the bound that withdrew it (None when the dispatcher's verdict ended it)."""

    settled: Settled
    attempts: tuple[tuple[ApiResult, Outcome], ...]
    bound: str | None = None

    @property
    def succeeded(self) -> bool:
        """OK or IDEMPOTENT_OK."""
        return self.settled.succeeded


@dataclass(slots=True)
class _Bounds(NullObserver):
    """Hears every attempt (as the daemon's metrics do) and withdraws the order when a bound
    is reached: still waiting for its stream at `stream_deadline`, or anything at `deadline`."""

    withdraw: Callable[[], bool]  # cancels the order; False when it had settled already
    clock: Clock
    stream: StreamKey
    stream_deadline: float
    attempts: list[tuple[ApiResult, Outcome]] = field(default_factory=list)
    answer: ApiResult | None = None  # the sender's last answer, paired with its outcome here
    bound: str | None = None

    async def send(self, client: LiveClient, command: Command, stream: StreamKey) -> ApiResult:
        self.answer = None
        self.answer = await client.real_time_record_command(command, stream)
        return self.answer

    def command_attempt(
        self, command: Command, outcome: Outcome, latency: float, lateness: float | None
    ) -> None:
        # The dispatcher stands a raising sender's attempt in as a reset (engine.dispatch).
        reset = TransportError.RESET
        result = self.answer or ApiResult(transport_error=reset)
        self.attempts.append((result, outcome))
        if self.waiting and self.clock.monotonic() >= self.stream_deadline:
            # After the dispatcher has decided on this answer, before the retry can leave.
            asyncio.get_running_loop().call_soon(self.give_up, STREAM_NOT_LIVE)

    @property
    def waiting(self) -> bool:
        return bool(self.attempts) and self.attempts[-1][1] is Outcome.WAIT_FOR_STREAM

    def give_up(self, why: str) -> None:
        # An attempt in flight finishes first, and its answer still settles a success.
        if self.bound is None and self.withdraw():
            self.bound = why

    async def expire(self, deadline: float) -> None:
        await self.clock.sleep(self.stream_deadline - self.clock.monotonic())
        if self.waiting:
            self.give_up(STREAM_NOT_LIVE)
        await self.clock.sleep(deadline - self.clock.monotonic())
        self.give_up(DEADLINE_PASSED)


async def fire_once(
    client: LiveClient,
    pacer: Pacer,
    policy: RetryPolicy,
    clock: Clock,
    order: Order,
    *,
    wait: float,
    give_up_after: float,
) -> FireReport:
    """Carry `order` to a conclusion through a dispatcher of its own; a start waits `wait`
    seconds at most for its stream, and nothing is retried past `max(give_up_after, wait)`."""
    start = clock.monotonic()
    bounds = _Bounds(lambda: dispatcher.cancel(WINDOW) > 0, clock, order.stream, start + wait)
    settled: asyncio.Future[Settled] = asyncio.get_running_loop().create_future()
    dispatcher = Dispatcher(
        lambda command, stream: bounds.send(client, command, stream), pacer, policy, clock,
        max_lead=0.0, on_settled=settled.set_result, observer=bounds,
    )  # fmt: skip
    async with asyncio.TaskGroup() as tg:
        tg.create_task(dispatcher.run(), name="fire-dispatcher")
        expiry = tg.create_task(bounds.expire(start + max(give_up_after, wait)))
        dispatcher.submit(order)
        done = await settled
        expiry.cancel()
        await dispatcher.drain(0.0)
    return FireReport(done, tuple(bounds.attempts), bounds.bound)


def _why(report: FireReport) -> str | None:
    settled = report.settled
    if report.bound is not None:
        return report.bound
    last = report.attempts[-1] if report.attempts else None
    if settled.reason == "fatal" and last is not None:
        result = last[0]
        return f"fatal answer {result.code or result.http_status or result.transport_error}"
    if settled.reason == "retries_exhausted":
        if last is not None and last[1] is Outcome.RETRY_RESIGNED_ONCE:
            return "SignatureNonceUsed twice: nonces are not unique"
        return "retries exhausted"
    return None if settled.succeeded else settled.reason


def describe(report: FireReport) -> str:
    """One line: command, stream, outcome, RequestId, attempts and, on failure, why."""
    order, settled = report.settled.order, report.settled
    result, outcome = report.attempts[-1] if report.attempts else (None, None)
    parts = [f"{order.command.value} {order.stream}: {outcome.value if outcome else '-'}"]
    parts.append(f"RequestId {(result and result.request_id) or '-'}")
    parts.append(f"{len(report.attempts)} attempt(s)")
    if settled.command is not order.command:
        parts.append(f"outcome unknown, re-sent as {settled.command.value}")
    if not report.succeeded and result is not None:
        cause = result.code or (result.transport_error and result.transport_error.value)
        parts.append(
            f"{cause or f'HTTP {result.http_status}'}: {result.message or ''}".rstrip(": ")
        )
    if not report.succeeded and (why := _why(report)):
        parts.append(why)
    return ", ".join(parts)


_UNSTOPPED = (
    "warning: `fire {command}` by hand starts a real recording of {stream} that nothing will "
    "stop (the daemon stops only its own windows). Stop it with: liverecd fire stop {stream}"
)


async def _fire(args: argparse.Namespace) -> FireReport:
    config = load_config(args.config)
    try:
        account = config.account(args.account)
    except KeyError:
        known = ", ".join(config.account_names)
        raise LiverecdError(f"unknown account {args.account!r}; the config has {known}") from None
    clock = SystemClock()
    # The same sources as the daemon's (DESIGN.md §10), read once: a command is one call.
    source = CredentialSource(provider_for(account, os.environ, clock), clock, account=account.name)
    await source.start()
    async with LiveClient(account.api, source, clock=clock) as client:
        limiter = limiter_for(source.current().access_key_id, account.api.qps, clock)
        order = Order(
            command=Command(args.command_name), stream=args.stream, window_id=WINDOW,
            due=clock.wall(),
        )  # fmt: skip
        policy = RetryPolicy.from_config(config.api.retry)
        return await fire_once(
            client, limiter, policy, clock, order,
            wait=args.wait, give_up_after=args.give_up_after,
        )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Send the command; print outcome and RequestId; 0 on OK or IDEMPOTENT_OK, else 1."""
    if args.command_name in (Command.START.value, Command.RESTART.value):
        print(_UNSTOPPED.format(command=args.command_name, stream=args.stream), file=sys.stderr)
    # The attempt lines on stderr as the daemon writes them (UTC, `Z`), for a person reading;
    # put back afterwards, since tests and embedders call this in their own process.
    with logs.configured(LogConfig(format="console"), stream=sys.stderr):
        report = asyncio.run(_fire(args))
    print(redaction.scrub(describe(report)))  # the client registered its secrets
    return 0 if report.succeeded else 1
