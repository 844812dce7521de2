"""Prometheus metrics: the engine's `EngineObserver`, rendered for `GET /metrics`.

Each `Metrics` owns its `CollectorRegistry` (never the process-global one), so two daemons in one
test process, or one daemon reloaded, never collide. prometheus-client's metrics are thread-safe:
the engine updates them on the event loop while the status thread renders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from liverecd import __version__
from liverecd.api.result import Outcome
from liverecd.ops import logs
from liverecd.streams import Command

if TYPE_CHECKING:
    from liverecd.engine.observer import EngineObserver

# 1 ms .. 60 s: a good start is a few ms late; a minute late means the quota or the loop failed.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# One API round trip: milliseconds normally, api.timeout (10 s) at worst.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Recording lost per drop: the stream's time away plus the re-arm (one watch interval, 10 s by
# default, or about a second with ingest callbacks); long outages reach minutes.
COVERAGE_BUCKETS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 1.0)
LOST_BUCKETS = (1, 2.5, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800, 3600)


class _Scraped(Collector):
    """A family built at each scrape from state kept outside prometheus-client (the log
    writer's dropped lines, each account's credential expiry)."""

    def __init__(self, build: Callable[[], Metric]) -> None:
        self._build = build

    def collect(self) -> Iterator[Metric]:
        yield self._build()


def _expiry(read: Callable[[], Mapping[str, float]]) -> Metric:
    gauge = GaugeMetricFamily(
        "liverecd_credentials_expiry_seconds",
        "Seconds until each account's credentials expire (+Inf: they do not).",
        labels=["account"],
    )
    for account, seconds in sorted(read().items()):
        gauge.add_metric([account], seconds)
    return gauge


class Metrics:
    """Every liverecd metric, in a registry of its own; implements `EngineObserver`."""

    content_type = CONTENT_TYPE_LATEST  # the exposition format `render()` produces

    def __init__(self, version: str = __version__) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._command_metrics(r)
        self.active = Gauge(
            "liverecd_active", "1 while this daemon is its cluster's active member.", registry=r
        )
        self.active.set(1)  # without `database` a daemon is always the active one
        self.timetable = Gauge(
            "liverecd_timetable_info", "1, labelled with the timetable's digest (HA).",
            ["digest"], registry=r,
        )  # fmt: skip
        self.windows = Gauge("liverecd_windows", "Windows in the timeline.", registry=r)
        self.windows_open = Gauge("liverecd_windows_open", "Windows open now.", registry=r)
        self.recording = Gauge(
            "liverecd_recording", "Recordings the daemon believes are running.", registry=r
        )
        self.reloads = Counter(
            "liverecd_reloads", "Reloads, by result (failed: a file kept its last good version).",
            ["result"], registry=r,
        )  # fmt: skip
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
        self._watch_metrics(r)
        self._loss_metrics(r)
        self._verify_metrics(r)
        self._zero_series()

    def _command_metrics(self, r: CollectorRegistry) -> None:
        """Attempts, retries, throttles, latency, lateness and the dispatcher's queue."""
        by_outcome = ["command", "outcome"]
        self.commands = Counter(
            "liverecd_commands", "RealTimeRecordCommand attempts answered, by command and outcome.",
            by_outcome, registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "liverecd_command_retries",
            "Retries queued, by command and the outcome that caused them.", by_outcome, registry=r,
        )  # fmt: skip
        self.throttled_calls = Counter(
            "liverecd_throttled", "API answers that were Throttling* or HTTP 429.", registry=r
        )
        self.latency = Histogram(
            "liverecd_command_latency_seconds", "API round trip of one attempt.", ["command"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.lateness = Histogram(
            "liverecd_command_lateness_seconds",
            "First attempt sent after its due time (early sends under max_lead count as 0).",
            ["command"], buckets=LATENESS_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "liverecd_dispatch_queue_depth", "Commands waiting for a limiter slot.", registry=r
        )
        # Limiter waits reach max_lead (60 s by default) when a burst of starts is spread early.
        self.limiter_wait = Histogram(
            "liverecd_limiter_wait_seconds", "Time a command waited for a limiter slot.",
            buckets=LATENESS_BUCKETS, registry=r,
        )  # fmt: skip

    def _loss_metrics(self, r: CollectorRegistry) -> None:
        self.dropped = Counter(
            "liverecd_commands_dropped",
            "Commands given up, by command and reason (refused: a documented final refusal; "
            "window_closed, retries_exhausted: an opening command that could not land).",
            ["command", "reason"],
            registry=r,
        )
        r.register(_Scraped(lambda: CounterMetricFamily(
            "liverecd_log_lines_dropped", "Log lines dropped: stdout too slow.",
            value=logs.dropped_lines(),
        )))  # fmt: skip

    def _verify_metrics(self, r: CollectorRegistry) -> None:
        self.verified = Counter(
            "liverecd_windows_verified", "Windows verified, by result (DESIGN §8).", ["result"],
            registry=r,
        )  # fmt: skip
        self.coverage = Histogram(
            "liverecd_window_coverage_ratio", "Recorded share of each verified window.",
            buckets=COVERAGE_BUCKETS, registry=r,
        )  # fmt: skip

    def window_verified(self, result: str, coverage: float | None) -> None:
        """One window's verification result."""
        self.verified.labels(result=result).inc()
        if coverage is not None:
            self.coverage.observe(coverage)

    def _watch_metrics(self, r: CollectorRegistry) -> None:
        self.stream_drops = Counter(
            "liverecd_stream_drops",
            "Streams seen dropping inside an open window (the online watch).",
            registry=r,
        )
        self.stream_rearms = Counter(
            "liverecd_stream_rearms",
            "Streams started again after a drop inside an open window.",
            registry=r,
        )
        self.drop_lost = Histogram(
            "liverecd_drop_lost_seconds",
            "Recording lost per drop: from the drop to the start that re-armed the stream.",
            buckets=LOST_BUCKETS,
            registry=r,
        )
        self.online_list_calls = Counter(
            "liverecd_online_list_calls",
            "DescribeLiveStreamsOnlineList calls answered, by result.",
            ["result"],
            registry=r,
        )
        self.watch_up = Gauge(
            "liverecd_watch_healthy",
            "1 while the online watch can be relied on to see streams come online, else 0.",
            registry=r,
        )

    def _zero_series(self) -> None:
        # Series that exist from the first scrape: rate() and absent() alerts need a zero to start.
        for result in ("ok", "absent", "gap", "unverified"):
            self.verified.labels(result=result)
        for command in Command:
            self.dropped.labels(command=command.value, reason="refused")
            for outcome in Outcome:
                self.commands.labels(command=command.value, outcome=outcome.value)
        for result in ("ok", "failed"):
            self.reloads.labels(result=result)
            self.online_list_calls.labels(result=result)

    def track_credentials(self, read: Callable[[], Mapping[str, float]]) -> None:
        """Export `liverecd_credentials_expiry_seconds{account}` from `read()` at each scrape
        (+Inf for credentials that do not expire)."""
        self.registry.register(_Scraped(lambda: _expiry(read)))

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    # --- EngineObserver ---------------------------------------------------------------------

    def command_attempt(
        self, command: Command, outcome: Outcome, latency: float, lateness: float | None
    ) -> None:
        """Count the attempt; observe its latency, and its lateness on first attempts."""
        self.commands.labels(command=command.value, outcome=outcome.value).inc()
        if outcome is Outcome.FATAL:  # the one answer that ends a command (api/outcome.py)
            self.dropped.labels(command=command.value, reason="refused").inc()
        self.latency.labels(command=command.value).observe(max(0.0, latency))
        if lateness is not None:
            # Negative observations would break Prometheus' reset detection on _sum.
            self.lateness.labels(command=command.value).observe(max(0.0, lateness))

    def retry_scheduled(self, command: Command, outcome: Outcome) -> None:
        """Count a queued retry."""
        self.retries.labels(command=command.value, outcome=outcome.value).inc()

    def command_dropped(self, command: Command, reason: str) -> None:
        """Count a command given up."""
        self.dropped.labels(command=command.value, reason=reason).inc()

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

    def stream_dropped(self) -> None:
        """Count a drop."""
        self.stream_drops.inc()

    def stream_rearmed(self, lost_seconds: float) -> None:
        """Count a re-arm; observe the recording the drop cost."""
        self.stream_rearms.inc()
        self.drop_lost.observe(max(0.0, lost_seconds))

    def online_list_call(self, ok: bool) -> None:
        """Count an online-list call by result."""
        self.online_list_calls.labels(result="ok" if ok else "failed").inc()

    def watch_healthy(self, healthy: bool) -> None:
        """Set the watch health gauge."""
        self.watch_up.set(1 if healthy else 0)

    def role_changed(self, active: bool) -> None:
        """HA: this member became active (1) or standby (0)."""
        self.active.set(1 if active else 0)

    def timetable_loaded(self, digest: str) -> None:
        """HA: the digest of the timetable this member runs (members should agree)."""
        self.timetable.clear()
        self.timetable.labels(digest=digest).set(1)


if TYPE_CHECKING:
    _: EngineObserver = Metrics()  # mypy proves Metrics satisfies the protocol
