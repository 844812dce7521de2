"""`liverecd emulator`: run the bundled Live API emulator until SIGINT/SIGTERM.

Its one account is the daemon's own credentials (`$CREDENTIALS_DIRECTORY` files or the
`ALIBABA_CLOUD_*` variables), so a daemon started from the same environment is accepted; with
none set it serves a fixed, well-known demo key pair (loopback only, nothing to protect).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from liverecd.api.credentials import load_credentials, load_notify_auth_key, load_record_auth_key
from liverecd.config import ENV_KEY_ID, ENV_SECRET
from liverecd.durations import parse_duration
from liverecd.emulator.config import DEFAULT_STOP_DELAY, EmulatorConfig
from liverecd.emulator.server import Emulator
from liverecd.errors import LiverecdError
from liverecd.streams import StreamKey

DEFAULT_PORT = 9327
DEMO_ACCESS_KEY_ID = "LTAI5tFAKEexampleKeyId01"
DEMO_ACCESS_KEY_SECRET = "FakeSecretForTestVectorsOnly0123"  # noqa: S105 - a public fake


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _mapping(text: str) -> tuple[str, str]:
    streaming, sep, ingest = text.partition("=")
    if not sep or not streaming or not ingest:
        raise argparse.ArgumentTypeError(f"expected STREAMING_DOMAIN=INGEST_DOMAIN, got {text!r}")
    return streaming, ingest


def _stream(text: str) -> StreamKey:
    try:
        return StreamKey.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Options of `liverecd emulator`."""
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--qps", type=int, default=50, help="RealTimeRecordCommand calls/s/key")
    parser.add_argument(
        "--stop-delay", type=_seconds, default=DEFAULT_STOP_DELAY,
        help="time from stop to the file, e.g. 180s (default) or 5s for a demo",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of injected faults")
    parser.add_argument(
        "--access-key-id",
        help=f"the account's key id (default: ${ENV_KEY_ID}); its secret "
        f"always comes from ${ENV_SECRET} or $CREDENTIALS_DIRECTORY",
    )
    parser.add_argument(
        "--offline-by-default",
        action="store_true",
        help="unknown streams are offline until published (default: online)",
    )
    parser.add_argument(
        "--online",
        type=_stream,
        action="append",
        default=[],
        metavar="D/A/S",
        help="publish this stream at start-up (repeatable)",
    )
    parser.add_argument(
        "--sts-ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="lifetime of the temporary keys served at /sts/credentials (default 3600)",
    )
    parser.add_argument("--notify-url", help="send ingest callbacks (publish/publish_done) here")
    parser.add_argument(
        "--record-notify-url",
        help="send recording callbacks here (JSON POSTs; key: LIVERECD_RECORD_AUTH_KEY)",
    )
    parser.add_argument(
        "--ingest-domain",
        type=_mapping,
        action="append",
        default=[],
        metavar="STREAMING=INGEST",
        help="ingest domain named in callbacks (repeatable)",
    )


def _config(args: argparse.Namespace) -> EmulatorConfig:
    env = os.environ
    if ENV_KEY_ID in env or ENV_SECRET in env or env.get("CREDENTIALS_DIRECTORY"):
        creds = load_credentials()
        key_id, secret = creds.access_key_id, creds.secret.reveal()
        tokens = {} if creds.security_token is None else {key_id: creds.security_token.reveal()}
    else:
        print("liverecd emulator: no credentials set, serving the demo key pair", file=sys.stderr)
        key_id, secret, tokens = DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, {}
    if args.access_key_id:
        tokens = {args.access_key_id: tokens[key_id]} if key_id in tokens else {}
        key_id = args.access_key_id
    try:
        return EmulatorConfig(
            accounts={key_id: secret},
            sts_tokens=tokens,
            qps=args.qps,
            stop_delay=args.stop_delay,
            seed=args.seed,
            default_online=not args.offline_by_default,
            notify_url=args.notify_url,
            notify_auth_key=load_notify_auth_key(),
            record_notify_url=args.record_notify_url,
            record_notify_key=load_record_auth_key(),
            ingest_domain_map=dict(args.ingest_domain),
            request_log_limit=100_000,  # a long-running emulator must not grow without bound
            sts_ttl=args.sts_ttl,
        )
    except ValueError as exc:
        raise LiverecdError(str(exc)) from None


async def _serve(args: argparse.Namespace, config: EmulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    emu = Emulator(config)
    url = await emu.start(args.host, args.port, allow_remote=args.allow_remote)
    try:
        for key in args.online:
            emu.set_online(key, True)
        print(f"liverecd emulator listening on {url} (key id {next(iter(config.accounts))})")
        print(f"STS: ALIBABA_CLOUD_CREDENTIALS_URI={emu.credentials_uri()}")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await emu.close()


def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop."""
    from liverecd.config import LogConfig
    from liverecd.ops import logs  # times in UTC with `Z`, as the daemon writes them

    with logs.configured(LogConfig(format="console"), stream=sys.stderr):
        config = _config(args)
        asyncio.run(_serve(args, config))
    return 0
