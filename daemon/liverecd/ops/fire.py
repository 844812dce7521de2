"""`liverecd fire COMMAND DOMAIN/APP/STREAM -c CONFIG [--wait 30s]`: one command, now.

It goes through the same client, limiter and retry policy as the daemon's commands. A `stop` of a
stream nobody publishes is the harmless way to check credentials, endpoint and permissions
(`StreamNotFound` answers `idempotent_ok`); a `start` by hand begins a real recording that no
schedule will stop, so it warns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from liverecd import redaction
from liverecd.api.accounts import provider_for
from liverecd.api.client import LiveClient
from liverecd.api.credsource import CredentialSource
from liverecd.api.ratelimit import limiter_for
from liverecd.api.retry import RetryPolicy
from liverecd.api.runner import CommandReport, CommandRunner
from liverecd.clock import SystemClock
from liverecd.config import CONFIG_HELP, DEFAULT_CONFIG, LogConfig
from liverecd.durations import parse_duration
from liverecd.errors import LiverecdError
from liverecd.ops import logs
from liverecd.schedule.config import load_config
from liverecd.streams import Command, StreamKey


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


def _describe(report: CommandReport) -> str:
    result = report.result
    parts = [f"{report.command.value} {report.stream}: {report.outcome.value}"]
    parts.append(f"RequestId {result.request_id or '-'}")
    parts.append(f"{len(report.attempts)} attempt(s)")
    if not report.succeeded:
        cause = result.code or (result.transport_error and result.transport_error.value)
        parts.append(
            f"{cause or f'HTTP {result.http_status}'}: {result.message or ''}".rstrip(": ")
        )
        if report.gave_up_reason:
            parts.append(report.gave_up_reason)
    return ", ".join(parts)


_UNSTOPPED = (
    "warning: `fire {command}` by hand starts a real recording of {stream} that nothing will "
    "stop (the daemon stops only its own windows). Stop it with: liverecd fire stop {stream}"
)


async def _fire(args: argparse.Namespace) -> CommandReport:
    config = load_config(args.config)
    try:
        account = config.account(args.account)
    except KeyError:
        raise LiverecdError(f"unknown account {args.account!r}: {config.account_names}") from None
    clock = SystemClock()
    # The same sources as the daemon's (DESIGN.md §10), read once: a command is one call.
    source = CredentialSource(provider_for(account, os.environ), clock, account=account.name)
    await source.start()
    async with LiveClient(account.api, source, clock=clock) as client:
        limiter = limiter_for(source.current().access_key_id, account.api.qps, clock)
        runner = CommandRunner(client, limiter, RetryPolicy.from_config(config.api.retry), clock)
        return await runner.run(
            Command(args.command_name),
            args.stream,
            deadline=clock.monotonic() + max(args.give_up_after, args.wait),
            wait_for_stream=args.wait,
        )


def run(args: argparse.Namespace) -> int:
    """Send the command; print outcome and RequestId; 0 on OK or IDEMPOTENT_OK, else 1."""
    if args.command_name in (Command.START.value, Command.RESTART.value):
        print(_UNSTOPPED.format(command=args.command_name, stream=args.stream), file=sys.stderr)
    # The attempt lines on stderr as the daemon writes them (UTC, `Z`), for a person reading;
    # put back afterwards, since tests and embedders call this in their own process.
    with logs.configured(LogConfig(format="console"), stream=sys.stderr):
        report = asyncio.run(_fire(args))
    print(redaction.scrub(_describe(report)))  # the client registered its secrets
    return 0 if report.succeeded else 1
