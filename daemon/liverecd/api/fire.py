"""`liverecd fire COMMAND DOMAIN/APP/STREAM -c CONFIG [--wait 30s]`: one command, now.

It goes through the same client, limiter and retry policy as the daemon's commands, so it is
also the quickest way to check credentials, endpoint and recording configuration by hand.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from liverecd import redaction
from liverecd.api.client import LiveClient
from liverecd.api.credentials import load_credentials
from liverecd.api.ratelimit import limiter_for
from liverecd.api.retry import RetryPolicy
from liverecd.api.runner import CommandReport, CommandRunner
from liverecd.clock import SystemClock
from liverecd.durations import parse_duration
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
    parser.add_argument("-c", "--config", required=True, type=Path, help="main config file")
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


async def _fire(args: argparse.Namespace) -> CommandReport:
    config = load_config(args.config)
    credentials = load_credentials()
    clock = SystemClock()
    async with LiveClient(config.api, credentials, clock=clock) as client:
        limiter = limiter_for(credentials.access_key_id, config.api.qps, clock)
        runner = CommandRunner(client, limiter, RetryPolicy.from_config(config.api.retry), clock)
        return await runner.run(
            Command(args.command_name),
            args.stream,
            deadline=clock.monotonic() + max(args.give_up_after, args.wait),
            wait_for_stream=args.wait,
        )


def run(args: argparse.Namespace) -> int:
    """Send the command; print outcome and RequestId; 0 on OK or IDEMPOTENT_OK, else 1."""
    report = asyncio.run(_fire(args))
    print(redaction.scrub(_describe(report)))  # the client registered its secrets
    return 0 if report.succeeded else 1
