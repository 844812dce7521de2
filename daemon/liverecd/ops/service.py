"""`liverecd run -c CONFIG`: the daemon as a service.

Lifecycle: configure logs, read credentials, build client + limiter + state store + daemon,
start the extensions (status endpoint, watchdog), run until SIGTERM/SIGINT, drain (in-flight
requests get up to 5 s), persist, exit 0. SIGHUP reloads the schedules. Signals become one
request on the daemon (`request_stop`/`request_reload`), plain methods that tests call too.

Extensions are the hook points for the ops layer: anything with `start(daemon)` (may refuse
with a LiverecdError: the service then exits 1 before it is ready), `run()` (long-lived,
cancelled at shutdown) and `close()`. `serve()` takes them, a `Lifecycle` (systemd notify) and
an `EngineObserver` (metrics) as parameters, so tests can run the whole service in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from liverecd.api.accounts import Accounts, Creds, sources_for
from liverecd.clock import Clock, SystemClock
from liverecd.config import CONFIG_HELP, DEFAULT_CONFIG, Config, ListenAddress
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver, Lifecycle
from liverecd.engine.state import SqliteStateStore
from liverecd.errors import LiverecdError
from liverecd.ops import logs, signals
from liverecd.ops.config_reload import ConfigReloader
from liverecd.ops.extension import Controlled, Extension
from liverecd.ops.ingest import IngestEndpoint, endpoint_from_config, ingest_domains
from liverecd.ops.inplace import engine_settings
from liverecd.ops.metrics import Metrics
from liverecd.ops.notify import Notifier, StatusLineExtension, watchdog_loop
from liverecd.ops.page.collect import Feeds
from liverecd.ops.page.web import StatusPage
from liverecd.ops.statelock import StateLock
from liverecd.ops.status import Heartbeat, StatusServer, heartbeat_loop
from liverecd.schedule.model import Stream
from liverecd.verify.service import verify_extensions

log = structlog.get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Arguments of `liverecd run`."""
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, type=Path, help=CONFIG_HELP)


def run(args: argparse.Namespace) -> int:
    """Load the config, configure logs, run the service; 0 after a clean drain."""
    from liverecd.schedule.config import load_config  # the schedule layer owns the format

    config = None
    try:
        config = load_config(args.config)
        logs.configure(config.log)
        if config.database is not None:
            from liverecd.ha.service import register_password

            register_password()
        lifecycle, observer, extensions = _ops_defaults(config)
        return asyncio.run(
            serve(config, None, lifecycle=lifecycle, observer=observer, extensions=extensions)
        )
    except LiverecdError as exc:  # one log line, JSON under systemd like every other line
        logs.fatal(exc, config.log if config else None)
        return 1


def _ops_defaults(config: Config) -> tuple[Lifecycle, EngineObserver, list[Extension]]:
    """systemd notify + watchdog, Prometheus metrics, the status endpoint."""
    notifier = Notifier.from_env(os.environ)
    metrics = Metrics()
    extensions: list[Extension] = [
        WatchdogExtension(notifier), StatusLineExtension(notifier), IngestExtension(config),
    ]  # fmt: skip
    if config.status.listen is not None:
        extensions.append(StatusExtension(config.status.listen, metrics))
    return notifier, metrics, extensions


async def serve(
    config: Config,
    credentials: Creds,
    *,
    lifecycle: Lifecycle | None = None,
    observer: EngineObserver | None = None,
    extensions: Sequence[Extension] = (),
    clock: Clock | None = None,
    session: aiohttp.ClientSession | None = None,
    signals: bool = True,
    watch_files: bool = True,
    on_ready: Callable[[Daemon], None] | None = None,
) -> int:
    """Run the daemon until a stop request; 0 after a clean drain. `on_ready(daemon)` is called
    once the daemon has reconciled and armed its alarms (right after systemd's READY=1)."""
    clock = clock or SystemClock()
    sources = await sources_for(config, credentials, clock, logs.register_credentials)
    async with Accounts(config, sources, clock, session=session) as accounts:
        if config.database is not None:  # a cluster member (DESIGN §9): liverecd.ha owns it
            from liverecd.ha.service import serve_member

            return await serve_member(
                config, accounts, clock=clock, observer=observer,
                lifecycle=lifecycle, extensions=extensions, signals=signals,
                watch_files=watch_files, on_ready=on_ready, install=_install_signals,
                remove=_remove_signals,
            )  # fmt: skip
        reloader = ConfigReloader(accounts.apply)
        store = SqliteStateStore(config.state_dir)  # opened by its first read, after the lock
        daemon = Daemon(
            config, sender=accounts.send, pacer=accounts.pacer,
            store=store, clock=clock, observer=observer,
            lifecycle=lifecycle, watch_files=watch_files, online_lister=accounts,
            reload_config=reloader,
        )  # fmt: skip
        accounts.route_by(daemon.schedule_streams)
        if isinstance(observer, Metrics):
            observer.track_credentials(accounts.expiry_seconds)
        started: list[Extension] = []
        lock = StateLock(config.state_dir)
        client = accounts.default_client  # verification reads the default account's index
        verifiers = verify_extensions(config, client, clock, observer, store=store)
        extensions = [*extensions, *verifiers]
        reloader.also(engine_settings(daemon, verifiers))
        try:
            lock.acquire()  # before the state is read: a second daemon refuses here
            for ext in (accounts, *extensions):
                await ext.start(daemon)
                started.append(ext)
            if signals:
                _install_signals(daemon)
            await _run(daemon, started, on_ready)
        finally:
            if signals:
                _remove_signals()
            for ext in reversed(started):
                await ext.close()
            await store.close()  # after the verifier's last writes
            lock.release()
    return 0


@contextlib.asynccontextmanager
async def running(
    config: Config,
    credentials: Creds,
    *,
    clock: Clock | None = None,
    observer: EngineObserver | None = None,
    extensions: Sequence[Extension] = (),
    watch_files: bool = True,
    ready_within: float = 10.0,
    stop_within: float = 15.0,
) -> AsyncIterator[Daemon]:
    """`serve()` in the background, without signal handlers (embedding, tests, benchmarks):
    ready on entry (reconciled, alarms armed; what stopped it is raised if it ended first),
    stopped and drained on exit."""
    ready: asyncio.Future[Daemon] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(
            config, credentials, clock=clock, observer=observer, extensions=extensions,
            signals=False, watch_files=watch_files, on_ready=ready.set_result,
        )
    )  # fmt: skip
    either: set[asyncio.Future[Any]] = {ready, task}
    try:
        async with asyncio.timeout(ready_within):
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        task.cancel()
        raise
    if task.done():
        task.result()  # raises what stopped it
    daemon = ready.result()
    try:
        yield daemon
    finally:
        daemon.request_stop()
        async with asyncio.timeout(stop_within):
            await task


async def _run(
    daemon: Daemon, extensions: Sequence[Extension], on_ready: Callable[[Daemon], None] | None
) -> None:
    failure: LiverecdError | None = None
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(ext.run(), name=type(ext).__name__) for ext in extensions]
        if on_ready is not None:
            tasks.append(tg.create_task(_relay(daemon, on_ready)))
        try:
            await daemon.run()
        except LiverecdError as exc:
            failure = exc  # raised after the TaskGroup, not wrapped in an ExceptionGroup
        finally:
            for task in tasks:
                task.cancel()
    if failure is not None:
        raise failure


async def _relay(daemon: Daemon, on_ready: Callable[[Daemon], None]) -> None:
    await daemon.ready.wait()
    on_ready(daemon)


def _install_signals(daemon: Controlled) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, _on_stop_signal, daemon, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, _on_stop_signal, daemon, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, _on_hup, daemon)
    for sig in signals.take_pending():  # arrived before the loop could act on them
        _on_hup(daemon) if sig is signal.SIGHUP else _on_stop_signal(daemon, sig.name)


def _remove_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(sig)


def _on_stop_signal(daemon: Controlled, name: str) -> None:
    # Act first, then log: once the log reader is gone, stdout is a broken pipe and logging
    # raises; a SIGTERM must still stop the daemon.
    daemon.request_stop()
    with contextlib.suppress(OSError):
        log.info("stop_requested", signal=name)


def _on_hup(daemon: Controlled) -> None:
    daemon.request_reload("sighup")
    with contextlib.suppress(OSError):
        log.info("reload_requested", signal="SIGHUP")


class WatchdogExtension:
    """WATCHDOG=1 every half WatchdogSec= while the loop runs (a no-op without a watchdog)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def start(self, daemon: Daemon) -> None:
        """Nothing to prepare."""

    async def run(self) -> None:
        """Ping until cancelled (returns at once when the watchdog is off)."""
        await watchdog_loop(self._notifier, lambda: True)

    async def close(self) -> None:
        """Nothing to release."""


class StatusExtension:
    """GET /healthz and GET /metrics on `status.listen`, fed by the daemon's snapshot."""

    def __init__(
        self, listen: ListenAddress, metrics: Metrics, *, feeds: Feeds | None = None
    ) -> None:
        self._listen = listen
        self._metrics = metrics
        self._feeds = feeds  # the status page's sections of other features (ops/page)
        self._heartbeat = Heartbeat()
        self._server: StatusServer | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """Bound host and port once started."""
        return self._server.address if self._server is not None else None

    async def start(self, daemon: Daemon) -> None:
        """Bind the endpoint; StatusServerError (a LiverecdError) when it cannot."""
        page = StatusPage(daemon, feeds=self._feeds)
        server = StatusServer(
            self._listen, daemon.snapshot, self._metrics, self._heartbeat.age,
            routes=page.add_routes,
        )  # fmt: skip
        await server.start()
        self._server = server

    async def run(self) -> None:
        """Beat the heartbeat /healthz watches, once a second."""
        await heartbeat_loop(self._heartbeat, self._metrics)

    async def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            await self._server.close()
            self._server = None


class IngestExtension:
    """Signed ingest callbacks on `watch.callback_listen` (off when it is not set), feeding the
    daemon's online watch."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._endpoint: IngestEndpoint | None = None
        self._domains: tuple[tuple[Stream, ...], dict[str, frozenset[str]]] | None = None

    async def start(self, daemon: Daemon) -> None:
        """Bind the endpoint; CredentialsError without a notify auth key, IngestEndpointError
        when the address cannot be bound."""
        watch = daemon.watch
        if watch is None:
            return
        endpoint = endpoint_from_config(
            self._config.watch, on_publish=watch.publish, on_publish_done=watch.publish_done,
            domains=lambda: self._mapping(daemon.schedule_streams()), clock=daemon.clock,
        )  # fmt: skip
        if endpoint is not None:
            await endpoint.start()
            self._endpoint = endpoint

    def _mapping(self, streams: tuple[Stream, ...]) -> dict[str, frozenset[str]]:
        """`ingest_domains(streams)`, built once per schedule load (the daemon hands out the
        same tuple until the next one), not once per callback."""
        if self._domains is None or self._domains[0] is not streams:
            self._domains = (streams, ingest_domains(streams))
        return self._domains[1]

    async def run(self) -> None:
        """The endpoint serves on its own; nothing to do until cancelled."""
        if self._endpoint is not None:
            await asyncio.Event().wait()

    async def close(self) -> None:
        """Stop serving."""
        if self._endpoint is not None:
            await self._endpoint.close()
            self._endpoint = None
