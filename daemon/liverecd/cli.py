"""The `liverecd` command line. Each subcommand lives in the module that owns it; this file only
routes, so `liverecd --help` stays fast and nothing imports upward."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from liverecd import __version__, redaction
from liverecd.config import DEFAULT_CONFIG
from liverecd.errors import LiverecdError

# name -> (module exposing add_arguments(parser) and run(args) -> int, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("liverecd.ops.service", "run the daemon"),
    "check": ("liverecd.schedule.commands", "validate the config and every schedule"),
    "plan": ("liverecd.schedule.commands", "print the commands the daemon would send"),
    "fire": ("liverecd.ops.fire", "send one command now through the client, limiter and retries"),
    "emulator": ("liverecd.emulator.cli", "run the bundled Live API emulator on loopback"),
    "report": ("liverecd.verify.report", "per window: what Alibaba recorded (read-only)"),
    "demo": ("liverecd.ops.demo", "emulator + daemon + a sample schedule, ends by itself"),
}


DESCRIPTION = (
    "Record ApsaraVideo Live streams on a YAML timetable: liverecd sends\n"
    "RealTimeRecordCommand start and stop calls at the times your schedule files give."
)
EPILOG = f"""\
First steps:
  liverecd demo                      see it work against the bundled emulator (about 30 s)
  liverecd check                     validate {DEFAULT_CONFIG} and its schedules
  liverecd plan --hours 48           what would be sent in the next 48 hours
  liverecd run                       the daemon (under systemd: systemctl start liverecd)

`-c CONFIG` defaults to {DEFAULT_CONFIG}. `liverecd COMMAND --help` for a command's options."""


class _CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser, name: str) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _module(name: str) -> _CommandModule:
    return cast(_CommandModule, importlib.import_module(SUBCOMMANDS[name][0]))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="liverecd",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"liverecd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _module(name).add_arguments(p, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None and args_list[:1] == ["run"]:
        from liverecd.ops import signals  # light, and first: issue 12, case 8

        signals.hold()
    args = build_parser(args_list).parse_args(args_list)
    try:
        return _module(args.command).run(args)
    except LiverecdError as exc:
        print(redaction.scrub(f"liverecd {args.command}: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `liverecd plan | head`: the reader left, which is not an error
        # Python flushes stdout again at exit; pointing it at /dev/null keeps that one quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
