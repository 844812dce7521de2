"""The soak's records and its report (see soak.py): what the run saw, and the figures printed
at the end. Imported by soak.py, which puts bench/ on sys.path."""

from __future__ import annotations

import argparse
import collections
import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from prometheus_client.parser import text_string_to_metric_families

from common import percentile
from liverecd.emulator import Emulator
from liverecd.streams import StreamKey

AK = "LTAI5tFAKEsoakKeyId00001"
SECRET = "FakeSecretForTestVectorsOnly0123"
TOKEN = "CAIS+FakeStsTokenForTheSoak/Only9xQ=="
DOMAIN, APP = "play.example.com", "live"
SETTLE = 10.0  # a window must have ended this long before the end to count
STORM_SHADOW = 30.0  # a storm's 10 s and the limiter's climb back after it


@dataclass(frozen=True)
class Window:
    stream: str
    start: datetime
    end: datetime


@dataclass
class Played:
    """What happened during the run, besides the emulator's records."""

    samples: list[tuple[float, int]] = field(default_factory=list)  # (elapsed s, daemon RSS)
    storms: list[datetime] = field(default_factory=list)
    appeared: datetime | None = None  # when the endpoint came up, with --refuse


@dataclass
class Tally:
    """Counts of what the emulator saw, fed by its `emulator_request` log events."""

    by_command: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: collections.Counter[str] = field(default_factory=collections.Counter)
    codes: collections.Counter[str] = field(default_factory=collections.Counter)

    def processor(self, _: Any, level: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        if level in ("warning", "error", "exception", "critical"):
            print(f"  bench process {level}: {event}", flush=True)
        if event.get("event") == "emulator_request":
            self.by_command[event.get("command") or str(event.get("action"))] += 1
            if event.get("fault"):
                self.faults[event["fault"]] += 1
            elif event.get("code"):
                self.codes[event["code"]] += 1
        raise structlog.DropEvent


def outcomes(metrics: str) -> dict[tuple[str, str], int]:
    out = {}
    for family in text_string_to_metric_families(metrics):
        if family.name == "liverecd_commands":
            for s in family.samples:
                if s.name.endswith("_total") and s.value:
                    out[(s.labels["command"], s.labels["outcome"])] = int(s.value)
    return out


def coverage(emu: Emulator, w: Window) -> tuple[float, float, float]:
    """(share of the window recorded, seconds of it not recorded, seconds the recording
    outlived its end)."""
    covered, overrun = 0.0, 0.0
    for iv in emu.recordings(StreamKey(DOMAIN, APP, w.stream)):
        end = iv.end or datetime.now(UTC)
        covered += max(0.0, (min(end, w.end) - max(iv.start, w.start)).total_seconds())
        if iv.start < w.end and end > w.end:
            overrun = max(overrun, (end - w.end).total_seconds())
    length = (w.end - w.start).total_seconds()
    return covered / length, length - covered, overrun


def report(
    args: argparse.Namespace, emu: Emulator, tally: Tally, windows: list[Window], played: Played,
    pages: tuple[str, str], code: int, root: Path, began: datetime, end: datetime,
) -> None:  # fmt: skip
    sent = sum(tally.by_command[c] for c in ("start", "stop", "cancel_delay", "restart"))
    print(f"\ncommands received by the emulator: {sent} "
          f"({', '.join(f'{k} {v}' for k, v in tally.by_command.most_common())})")  # fmt: skip
    print(f"faults injected: {dict(tally.faults)}; error codes answered: {dict(tally.codes)}")
    print("outcomes (daemon /metrics, attempts): " + ", ".join(
        f"{c}/{o} {n}" for (c, o), n in sorted(outcomes(pages[0]).items())))  # fmt: skip
    print(f"most calls in any second: {emu.max_in_any_second(AK)} (quota 50)")
    done = [w for w in windows if w.end <= end - timedelta(seconds=SETTLE)]
    if played.appeared is not None:
        done = [w for w in done if w.start >= played.appeared]
    shadow = timedelta(seconds=STORM_SHADOW)
    stormed = [
        w
        for w in done
        if any(s <= t <= s + shadow for s in played.storms for t in (w.start, w.end))
    ]
    hit = set(stormed)
    calm = [w for w in done if w not in hit]
    coverage_report("windows", [coverage(emu, w) for w in calm])
    coverage_report(
        "windows opening or closing in a storm or the 20 s after it",
        [coverage(emu, w) for w in stormed],
    )
    rss_report(args, played.samples)
    if played.appeared is not None:
        refusal_report(emu, windows, root, began, played.appeared)
    output = (root / "daemon.out").read_text(errors="replace")
    output += (root / "daemon.err").read_text(errors="replace") + "".join(pages)
    leaked = any(s in output for s in (SECRET, TOKEN))
    errors = sum(1 for line in output.splitlines() if '"level": "error"' in line)
    print(f"daemon exit code {code}; error-level log lines {errors}; secret in output, "
          f"/metrics or /healthz: {'YES' if leaked else 'no'}")  # fmt: skip


def coverage_report(what: str, measured: list[tuple[float, float, float]]) -> None:
    if not measured:
        return
    cov = [c for c, _, _ in measured]
    missed = [m for _, m, _ in measured]
    over = [o for _, _, o in measured]
    print(f"coverage of {len(cov)} finished {what}: min {min(cov):.3f}, "
          f"p1 {percentile(cov, 1):.3f}, p5 {percentile(cov, 5):.3f}, "
          f"p50 {percentile(cov, 50):.3f}; below 0.9: {sum(c < 0.9 for c in cov)}; "
          f"seconds not recorded (retry latency is not compressed): "
          f"p50 {percentile(missed, 50):.2f}, p99 {percentile(missed, 99):.2f}, "
          f"max {max(missed):.2f}; "
          f"recording past the end: p50 {percentile(over, 50):.2f} s, "
          f"p99 {percentile(over, 99):.2f} s, max {max(over):.2f} s")  # fmt: skip


def rss_report(args: argparse.Namespace, samples: list[tuple[float, int]]) -> None:
    base_at = 120.0 if args.minutes >= 4 else args.minutes * 30.0
    base = next((r for t, r in samples if t >= base_at), samples[0][1])
    last = samples[-1][1]
    peak = max(r for _, r in samples)
    growth = (last - base) / base * 100
    print(f"daemon RSS: peak {peak / 2**20:.1f} MB; at {base_at / 60:.1f} min "
          f"{base / 2**20:.1f} MB, at the end {last / 2**20:.1f} MB: {growth:+.1f} % "
          f"({'within' if abs(growth) <= 10 else 'OUTSIDE'} 10 %)")  # fmt: skip


def refusal_report(
    emu: Emulator, windows: list[Window], root: Path, began: datetime, appeared: datetime
) -> None:
    ready = None
    for line in (root / "daemon.out").read_text(errors="replace").splitlines():
        if '"daemon_started"' in line:
            ready = datetime.fromisoformat(json.loads(line)["timestamp"])
            break
    open_then = [w for w in windows if w.start < appeared < w.end]
    lags = []
    for w in open_then:
        first = [iv.start for iv in emu.recordings(StreamKey(DOMAIN, APP, w.stream))
                 if iv.start < w.end and (iv.end is None or iv.end > w.start)]  # fmt: skip
        if first:
            lags.append((min(first) - appeared).total_seconds())
    ready_s = f"{(ready - began).total_seconds():.2f} s" if ready else "never"
    print(f"refusal: endpoint up after {(appeared - began).total_seconds():.1f} s; daemon ready "
          f"after {ready_s}; windows open at that moment: {len(open_then)}, recorded later: "
          f"{len(lags)}" + (f" (first start {percentile(lags, 50):.1f} s after the endpoint "
          f"came up at p50, {max(lags):.1f} s at most)" if lags else ""))  # fmt: skip
