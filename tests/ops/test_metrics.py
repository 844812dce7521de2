"""Metrics: what the engine reports through `EngineObserver` is what Prometheus will scrape."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from liverecd import __version__
from liverecd.api.result import Outcome
from liverecd.engine.observer import EngineObserver
from liverecd.ops.metrics import Metrics
from liverecd.streams import Command


def samples(metrics: Metrics) -> list[Sample]:
    """Every sample of a render, through prometheus-client's own text parser."""
    text = metrics.render().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = [s.value for s in samples(metrics) if s.name == name and s.labels == labels]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return found[0]


def test_metrics_satisfies_the_engine_observer_protocol() -> None:
    observer: EngineObserver = Metrics()
    observer.throttled()  # the assignment above is the real check (mypy); this one runs it


def test_every_command_and_outcome_series_exists_at_zero_before_any_call() -> None:
    metrics = Metrics()
    for command in Command:
        for outcome in Outcome:
            labels = {"command": command.value, "outcome": outcome.value}
            assert value(metrics, "liverecd_commands_total", **labels) == 0
    assert value(metrics, "liverecd_reloads_total", result="failed") == 0


def test_command_attempts_are_counted_by_command_and_outcome() -> None:
    metrics = Metrics()
    metrics.command_attempt(Command.START, Outcome.OK, 0.02, 0.003)
    metrics.command_attempt(Command.START, Outcome.OK, 0.02, None)
    metrics.command_attempt(Command.STOP, Outcome.IDEMPOTENT_OK, 0.01, 0.5)
    metrics.retry_scheduled(Command.START, Outcome.WAIT_FOR_STREAM)
    metrics.throttled()
    assert value(metrics, "liverecd_commands_total", command="start", outcome="ok") == 2
    assert value(metrics, "liverecd_commands_total", command="stop", outcome="idempotent_ok") == 1
    assert value(metrics, "liverecd_commands_total", command="stop", outcome="ok") == 0
    labels = {"command": "start", "outcome": "wait_for_stream"}
    assert value(metrics, "liverecd_command_retries_total", **labels) == 1
    assert value(metrics, "liverecd_throttled_total") == 1
    assert value(metrics, "liverecd_command_latency_seconds_count", command="start") == 2


def test_lateness_is_observed_on_first_attempts_only_and_early_counts_as_zero() -> None:
    metrics = Metrics()
    metrics.command_attempt(Command.START, Outcome.OK, 0.02, -3.0)  # sent early under max_lead
    metrics.command_attempt(Command.START, Outcome.OK, 0.02, 2.0)
    metrics.command_attempt(Command.START, Outcome.OK, 0.02, None)  # a retry
    name = "liverecd_command_lateness_seconds"
    assert value(metrics, f"{name}_count", command="start") == 2
    assert value(metrics, f"{name}_sum", command="start") == 2.0
    assert value(metrics, f"{name}_bucket", command="start", le="0.001") == 1
    assert value(metrics, f"{name}_bucket", command="start", le="60.0") == 2


def test_gauges_follow_the_latest_report() -> None:
    metrics = Metrics()
    metrics.queue_changed(7)
    metrics.queue_changed(3)
    metrics.limiter_waited(0.25)
    metrics.windows_changed(total=120, open_now=4, recording=3)
    metrics.loop_heartbeat(1_790_000_000.5)
    assert value(metrics, "liverecd_dispatch_queue_depth") == 3
    assert value(metrics, "liverecd_limiter_wait_seconds_count") == 1
    assert value(metrics, "liverecd_windows") == 120
    assert value(metrics, "liverecd_windows_open") == 4
    assert value(metrics, "liverecd_recording") == 3
    assert value(metrics, "liverecd_loop_heartbeat_timestamp_seconds") == 1_790_000_000.5


def test_only_a_good_reload_moves_the_last_good_reload_timestamp() -> None:
    metrics = Metrics()
    metrics.reloaded(True, 1000.0)
    metrics.reloaded(False, 2000.0)
    assert value(metrics, "liverecd_reloads_total", result="ok") == 1
    assert value(metrics, "liverecd_reloads_total", result="failed") == 1
    assert value(metrics, "liverecd_last_good_reload_timestamp_seconds") == 1000.0


def test_build_info_names_the_version() -> None:
    assert value(Metrics(), "liverecd_build_info", version=__version__) == 1


def test_two_instances_do_not_share_a_registry() -> None:
    first, second = Metrics(), Metrics()
    first.throttled()
    assert value(first, "liverecd_throttled_total") == 1
    assert value(second, "liverecd_throttled_total") == 0
