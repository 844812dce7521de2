"""Prometheus metrics: the engine's `EngineObserver`, rendered for `GET /metrics`.

Each `Metrics` owns its `CollectorRegistry` (never the process-global one), so two daemons in one
test process, or one daemon reloaded, never collide. prometheus-client's metrics are thread-safe:
the engine updates them on the event loop while the status thread renders them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from liverecd import __version__
from liverecd.api.result import Outcome
from liverecd.streams import Command

if TYPE_CHECKING:
    from liverecd.engine.observer import EngineObserver

# 1 ms .. 60 s: a good start is a few ms late; a minute late means the quota or the loop failed.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Limiter waits reach max_lead (60 s by default) when a burst of starts is spread out early.
WAIT_BUCKETS = LATENESS_BUCKETS
# One API round trip: milliseconds normally, api.timeout (10 s) at worst.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Every liverecd metric, in a registry of its own; implements `EngineObserver`."""

    content_type = CONTENT_TYPE_LATEST  # the exposition format `render()` produces

    def __init__(self, version: str = __version__) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "liverecd_commands",
            "RealTimeRecordCommand attempts answered, by command and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "liverecd_command_retries",
            "Retries queued, by command and the outcome that caused them.",
            ["command", "outcome"],
            registry=r,
        )
        self.throttled_calls = Counter(
            "liverecd_throttled", "API answers that were Throttling* or HTTP 429.", registry=r
        )
        self.latency = Histogram(
            "liverecd_command_latency_seconds",
            "API round trip of one attempt.",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lateness = Histogram(
            "liverecd_command_lateness_seconds",
            "First attempt sent after its due time (early sends under max_lead count as 0).",
            ["command"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "liverecd_dispatch_queue_depth", "Commands waiting for a limiter slot.", registry=r
        )
        self.limiter_wait = Histogram(
            "liverecd_limiter_wait_seconds",
            "Time a command waited for a limiter slot.",
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.windows = Gauge("liverecd_windows", "Windows in the timeline.", registry=r)
        self.windows_open = Gauge("liverecd_windows_open", "Windows open now.", registry=r)
        self.recording = Gauge(
            "liverecd_recording", "Recordings the daemon believes are running.", registry=r
        )
        self.reloads = Counter(
            "liverecd_reloads",
            "Reloads, by result (failed: a file kept its last good version).",
            ["result"],
            registry=r,
        )
        self.last_good_reload = Gauge(
            "liverecd_last_good_reload_timestamp_seconds",
            "Unix time of the last reload in which every file loaded.",
            registry=r,
        )
        self.heartbeat = Gauge(
            "liverecd_loop_heartbeat_timestamp_seconds",
            "Unix time the event loop last proved it runs; stale means wedged.",
            registry=r,
        )
        build = Gauge("liverecd_build_info", "liverecd version.", ["version"], registry=r)
        build.labels(version=version).set(1)
        self._zero_series()

    def _zero_series(self) -> None:
        # Series that exist from the first scrape: rate() and absent() alerts need a zero to start.
        for command in Command:
            for outcome in Outcome:
                self.commands.labels(command=command.value, outcome=outcome.value)
        for result in ("ok", "failed"):
            self.reloads.labels(result=result)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    # --- EngineObserver ---------------------------------------------------------------------

    def command_attempt(
        self, command: Command, outcome: Outcome, latency: float, lateness: float | None
    ) -> None:
        """Count the attempt; observe its latency, and its lateness on first attempts."""
        self.commands.labels(command=command.value, outcome=outcome.value).inc()
        self.latency.labels(command=command.value).observe(max(0.0, latency))
        if lateness is not None:
            # Negative observations would break Prometheus' reset detection on _sum.
            self.lateness.labels(command=command.value).observe(max(0.0, lateness))

    def retry_scheduled(self, command: Command, outcome: Outcome) -> None:
        """Count a queued retry."""
        self.retries.labels(command=command.value, outcome=outcome.value).inc()

    def throttled(self) -> None:
        """Count a throttling answer."""
        self.throttled_calls.inc()

    def queue_changed(self, depth: int) -> None:
        """Set the dispatcher queue depth."""
        self.queue_depth.set(depth)

    def limiter_waited(self, seconds: float) -> None:
        """Observe one limiter wait."""
        self.limiter_wait.observe(max(0.0, seconds))

    def windows_changed(self, total: int, open_now: int, recording: int) -> None:
        """Set the window and recording gauges."""
        self.windows.set(total)
        self.windows_open.set(open_now)
        self.recording.set(recording)

    def reloaded(self, ok: bool, timestamp: float) -> None:
        """Count a reload; a good one moves the last-good timestamp."""
        self.reloads.labels(result="ok" if ok else "failed").inc()
        if ok:
            self.last_good_reload.set(timestamp)

    def loop_heartbeat(self, timestamp: float) -> None:
        """Record that the event loop ran at `timestamp` (Unix time)."""
        self.heartbeat.set(timestamp)


if TYPE_CHECKING:
    _: EngineObserver = Metrics()  # mypy proves Metrics satisfies the protocol
