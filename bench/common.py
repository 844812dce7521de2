"""Shared scaffolding for the daemon benches: a config folder and the daemon run in-process
against the bundled emulator over real HTTP on loopback."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import structlog

from liverecd.api.credentials import Credentials, Secret
from liverecd.emulator import Emulator, EmulatorConfig
from liverecd.engine.daemon import Daemon
from liverecd.ops import service
from liverecd.schedule.config import load_config

AK = "LTAI5tFAKEexampleKeyId01"
SECRET = "FakeSecretForTestVectorsOnly0123"
DOMAIN, APP = "play.example.com", "live"


def quiet() -> None:
    """Only warnings and errors: a bench prints its own figures."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_config(
    root: Path, endpoint: str, *, max_lead: str, status: str = "off", watch: str = "0s"
) -> Path:
    (root / "schedules").mkdir(parents=True, exist_ok=True)
    config = root / "liverecd.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            api:
              endpoint: {endpoint}
              qps: 50
            schedules:
              - schedules/*.yaml
            state_dir: state
            max_lead: {max_lead}
            status:
              listen: {status}
            watch:
              interval: {watch}
            """
        )
    )
    return config


def write_schedule(
    root: Path, windows: list[tuple[str, datetime, datetime]], *, finalize: str = "immediate"
) -> None:
    lines = [f"domain: {DOMAIN}", f"app: {APP}", f"finalize: {finalize}", "streams:"]
    for name, start, end in windows:
        lines += [
            f"  - name: {name}",
            "    windows:",
            f"      - start: {iso(start)}",
            f"        end: {iso(end)}",
        ]
    (root / "schedules" / "bench.yaml").write_text("\n".join(lines) + "\n")


@asynccontextmanager
async def emulator(qps: int = 50) -> AsyncIterator[Emulator]:
    emu = Emulator(EmulatorConfig(accounts={AK: SECRET}, qps=qps, stop_delay=0.5))
    await emu.start(host="127.0.0.1", port=0)
    try:
        yield emu
    finally:
        await emu.close()


@asynccontextmanager
async def daemon(config_path: Path) -> AsyncIterator[Daemon]:
    """`liverecd run` in-process (no signals, no file watch), ready on entry."""
    config = load_config(config_path)
    credentials = Credentials(AK, Secret(SECRET))
    async with service.running(config, credentials, watch_files=False) as d:
        yield d


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
