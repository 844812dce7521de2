"""`liverecd demo`: the Live API emulator, the daemon and a sample timetable, in one process.

The README's first command: nothing to configure, about 30 s. The bundled templates get times a
few seconds from now and are written to a temporary folder (`demo_files`); the emulator listens
on 127.0.0.1 with made-up keys; the daemon runs through the same `serve()` as `liverecd run`,
its log on the console. The world around it is scripted on the emulator: `sports` goes live
late, `concert` is already being recorded (started by hand, with another key, as from the
console), and the first start of `lecture` is answered 200 but records nothing (recording
callbacks are on, so the daemon notices and starts it again). Once every stream is idle after
the last window, the summary compares what the emulator recorded with the timetable
(`demo_report`), then shows each window as the daemon's own verifier judged it (from the state
store, as `liverecd report` prints it). Exit 0 when every window was recorded as expected, 1
otherwise, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from structlog.typing import EventDict, WrappedLogger

from liverecd.api.client import LiveClient
from liverecd.api.credentials import Credentials, Secret
from liverecd.config import ApiConfig, Config, ListenAddress, LogConfig
from liverecd.emulator import Emulator, EmulatorConfig, RequestRecord, StreamState
from liverecd.engine.daemon import Daemon
from liverecd.errors import LiverecdError
from liverecd.net import free_port
from liverecd.ops import demo_files, logs, service
from liverecd.ops.demo_files import BASE_SECONDS
from liverecd.ops.demo_report import (
    Happening,
    StreamReport,
    header,
    judge,
    plan_lines,
    summary,
    verified_after,
)
from liverecd.ops.metrics import Metrics
from liverecd.schedule.actions import Recording
from liverecd.streams import Command, StreamKey
from liverecd.verify.report import read_rows

log = structlog.get_logger(__name__)

MIN_SECONDS = 10.0  # shorter, and the first window would open before the daemon is up
STOP_DELAY = 3.0  # the emulator's stop delay, in template seconds (the platform's: 180 s)
LATE = {"sports": 10.0}  # streams that go live only then (template seconds)
BY_HAND = ("concert",)  # streams someone started recording before the demo began
SILENT = ("lecture",)  # streams whose first start records nothing (answered 200)
DAEMON_KEY_ID = "LTAI5tDEMOliverecdKey01"  # made-up AccessKey ids; secrets are drawn per run
CONSOLE_KEY_ID = "LTAI5tDEMOconsoleKey001"
SHUTDOWN_TIMEOUT = 15.0
START_MARGIN = 0.5  # seconds between the emulator being up and the timetable's zero
HIDDEN = frozenset({"request_id", "window"})  # long ids that make a console line wrap
POLL = 0.1  # seconds between looks at the emulator's stream states at the end


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Options of `liverecd demo`."""
    parser.add_argument(
        "--duration", type=_duration_arg, default=BASE_SECONDS, metavar="SECONDS",
        help="how long the demo runs; the sample timetable is scaled to fit (default: 30)",
    )  # fmt: skip
    parser.add_argument(
        "--keep", action="store_true", help="keep the folder with the demo's config and schedule"
    )


def _duration_arg(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (MIN_SECONDS <= seconds <= 3600):
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds from {MIN_SECONDS:g} to 3600")
    return seconds


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every window was recorded as expected, 1 if not, 130 on Ctrl-C."""
    return asyncio.run(run_demo(args.duration, keep=args.keep)).exit_code


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """What a demo run ended with: its exit code, the summary's rows, and every
    RealTimeRecordCommand request the daemon sent (from the emulator's records)."""

    exit_code: int
    reports: tuple[StreamReport, ...]
    requests: tuple[RequestRecord, ...]
    interrupted: bool


# -- the world around the daemon --------------------------------------------------------------


class World:
    """The streams' side of the story, played on the emulator: who goes live when, and what
    was already recording. `live_at` tells when each late stream actually went live."""

    def __init__(self, emulator: Emulator, keys: Mapping[str, StreamKey], t0: datetime,
                 scale: float) -> None:  # fmt: skip
        self.emulator = emulator
        self._keys = keys
        self._late = {keys[n]: t0 + timedelta(seconds=s * scale) for n, s in LATE.items()}
        self._t0 = t0
        self.live_at: dict[StreamKey, datetime] = {}

    def happenings(self) -> list[Happening]:
        """What the world will do, for the plan."""
        out = [Happening(self._t0, "(recording started by hand)", self._keys[n]) for n in BY_HAND]
        out += [Happening(at, "(stream goes live)", key) for key, at in self._late.items()]
        out += [Happening(self._t0, "(its next start will record nothing)", self._keys[n])
                for n in SILENT]  # fmt: skip
        return out

    async def prepare(self, api: ApiConfig, console: Credentials) -> None:
        """Take the late streams offline; at the timetable's zero, start the by-hand recordings
        through the API with the console's key, as a person in the Alibaba Cloud console would."""
        for key in self._late:
            self.emulator.set_online(key, False)
        for name in SILENT:
            self.emulator.silent_starts(self._keys[name])
        await _sleep_until(self._t0)
        async with LiveClient(api, console) as client:
            for name in BY_HAND:
                result = await client.real_time_record_command(Command.START, self._keys[name])
                if result.http_status != 200:
                    raise LiverecdError(f"demo: could not start {name} by hand: {result.code}")
                log.info("demo_started_by_hand", stream=str(self._keys[name]))

    def judged_from(self, requests: Sequence[RequestRecord]) -> dict[StreamKey, datetime]:
        """When each late stream went live, and when the daemon sent each SILENT stream's start
        again: the demo judges those windows from there."""
        out = dict(self.live_at)
        for name in SILENT:
            key = self._keys[name]
            starts = [r.wall for r in requests if r.stream == key and r.command == "start"]
            if len(starts) > 1:
                out[key] = starts[1]
        return out

    async def play(self) -> None:
        """Bring each late stream live at its time."""
        for key, at in sorted(self._late.items(), key=lambda item: item[1]):
            await _sleep_until(at)
            self.emulator.set_online(key, True)
            self.live_at[key] = _now()
            log.info("demo_stream_live", stream=str(key))

    async def settled(self, after: datetime, end: datetime) -> None:
        """Return once every stream is idle (stopped, file closed) after `after`, or at `end`."""
        await _sleep_until(after)
        keys = self._keys.values()
        # The emulator has no change notification to wait on; a few seconds of polling at most.
        while _now() < end and any(self.emulator.state(k) is not StreamState.IDLE for k in keys):  # noqa: ASYNC110
            await asyncio.sleep(POLL)


# -- the run ----------------------------------------------------------------------------------


async def run_demo(duration: float = BASE_SECONDS, *, keep: bool = False) -> DemoOutcome:
    """Run the whole demo, printing the plan, the daemon's log and the summary to stdout."""
    zone = demo_files.template_zone(demo_files.template(demo_files.SCHEDULE_FILE))
    _configure_logs(zone)
    scale = duration / BASE_SECONDS
    accounts = {DAEMON_KEY_ID: secrets.token_hex(16), CONSOLE_KEY_ID: secrets.token_hex(16)}
    for secret in accounts.values():
        logs.register_secret(secret)
    keys = {key_id: Credentials(key_id, Secret(secret)) for key_id, secret in accounts.items()}
    record_key, port = secrets.token_hex(12), free_port()
    logs.register_secret(record_key)
    os.environ["LIVERECD_RECORD_AUTH_KEY"] = record_key  # the daemon reads it as in production
    emulator_config = EmulatorConfig(
        accounts=accounts, stop_delay=STOP_DELAY * scale, record_notify_key=record_key,
        index_millis=True,  # windows of seconds: the index's whole seconds would blur coverage
        record_notify_url=f"http://127.0.0.1:{port}/notify/record",
    )  # fmt: skip
    with demo_files.workdir(keep) as folder:
        async with Emulator(emulator_config) as emulator:
            # Whole seconds, so the default demo's schedule reads 20:00:03, not 20:00:03.417.
            t0 = datetime.fromtimestamp(math.ceil(_now().timestamp() + START_MARGIN), UTC)
            end = t0 + timedelta(seconds=duration)
            config = demo_files.write_files(folder, t0=t0, scale=scale, endpoint=emulator.url,
                                            record_callback=f"127.0.0.1:{port}")  # fmt: skip
            timeline = demo_files.load_timeline(config)
            recs = timeline.recordings(t0, end)
            world = World(emulator, {r.stream.stream: r.stream for r in recs}, t0, scale)
            plan = plan_lines(timeline.expand(t0, end), world.happenings(), t0, zone)
            print(header(emulator.url, DAEMON_KEY_ID, folder, zone, plan, duration, keep),
                  flush=True)  # fmt: skip
            await world.prepare(config.api, keys[CONSOLE_KEY_ID])
            interrupted = await _run_daemon(config, keys[DAEMON_KEY_ID], world, recs, end)
            requests = tuple(r for r in emulator.requests
                             if r.access_key_id == DAEMON_KEY_ID and r.command)  # fmt: skip
            reports = judge(recs, emulator.recordings, requests, world.judged_from(requests),
                            late_allowance=config.api.retry.wait_for_stream_cap.total_seconds(),
                            now=_now())  # fmt: skip
            rows = await read_rows(config, min(r.end for r in recs), max(r.end for r in recs))
            print(summary(reports, rows, zone))
        if keep:
            print(f"The demo's files are in {folder}")
    code = 130 if interrupted else 0 if all(r.ok for r in reports) else 1
    return DemoOutcome(code, reports, requests, interrupted)


async def _run_daemon(
    config: Config, credentials: Credentials, world: World, recs: Sequence[Recording],
    end: datetime,
) -> bool:  # fmt: skip
    """Serve until every stream is idle after the last window (or `end`); True when the daemon
    stopped before that (Ctrl-C, SIGTERM)."""
    ready: asyncio.Future[Daemon] = asyncio.get_running_loop().create_future()
    listen = config.status.listen
    if listen is not None and listen.port == 0:  # a free port now, so that it can be printed
        listen = ListenAddress(listen.host, free_port())
    serving = asyncio.create_task(service.serve(
        config, credentials, observer=Metrics(), status=listen,
        on_ready=lambda d: _ready(d, ready, listen),
    ))  # fmt: skip
    playing = asyncio.create_task(world.play())
    settling = asyncio.create_task(world.settled(max(r.end for r in recs), end))
    verifying = asyncio.create_task(verified_after(settling, config, recs, end))
    try:
        await asyncio.wait({serving, verifying}, return_when=asyncio.FIRST_COMPLETED)
        interrupted = serving.done()
        if not serving.done():
            if ready.done():
                ready.result().request_stop()
            else:
                serving.cancel()  # never got ready: nothing to drain
            await asyncio.wait({serving}, timeout=SHUTDOWN_TIMEOUT)
        if not serving.cancelled():
            serving.result()  # raises what stopped it
        return interrupted
    finally:
        for task in (serving, playing, settling, verifying):
            task.cancel()
        await asyncio.gather(serving, playing, settling, verifying, return_exceptions=True)


def _ready(daemon: Daemon, ready: asyncio.Future[Daemon], page: ListenAddress | None) -> None:
    ready.set_result(daemon)
    if page is not None:
        print(f"\nStatus page: http://{page}/ (up while the demo runs)\n", flush=True)


# -- helpers ----------------------------------------------------------------------------------


def _configure_logs(zone: ZoneInfo) -> None:
    """The daemon's events on the console, without the emulator's own lines (the daemon's are
    the story), empty and HIDDEN fields left out, times of day in the schedule's zone as in
    the plan."""
    logs.configure(LogConfig(format="console"))
    *processors, renderer = structlog.get_config()["processors"]

    def present(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        if str(event_dict.get("event", "")).startswith("emulator_"):
            raise structlog.DropEvent
        stamp = event_dict.get("timestamp")
        if isinstance(stamp, str):
            local = datetime.fromisoformat(stamp).astimezone(zone)
            event_dict["timestamp"] = local.isoformat(timespec="milliseconds")[11:23]
        return {k: v for k, v in event_dict.items() if v is not None and k not in HIDDEN}

    structlog.configure(processors=[*processors, present, renderer])


def _now() -> datetime:
    return datetime.now(UTC)


async def _sleep_until(when: datetime) -> None:
    await asyncio.sleep(max(0.0, (when - _now()).total_seconds()))
