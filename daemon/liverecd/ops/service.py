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
from liverecd.api.credsource import CredentialSource
from liverecd.clock import Clock, SystemClock
from liverecd.config import CONFIG_HELP, DEFAULT_CONFIG, Config, ListenAddress
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver, Lifecycle
from liverecd.engine.store.sqlite import SqliteStateStore
from liverecd.engine.tasks import TaskSet
from liverecd.engine.timetable import Timetable
from liverecd.errors import LiverecdError
from liverecd.ops import logs, signals
from liverecd.ops.config_reload import ConfigReloader
from liverecd.ops.extension import (
    Controlled,
    Extension,
    IngestExtension,
    WatchdogExtension,
    listeners_of,
    status_page,
)
from liverecd.ops.metrics import Metrics
from liverecd.ops.notify import Notifier, StatusLineExtension
from liverecd.ops.statelock import StateLock
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
        return asyncio.run(serve(
            config, None, lifecycle=lifecycle, observer=observer, extensions=extensions,
            status=config.status.listen,
        ))  # fmt: skip
    except LiverecdError as exc:  # one log line, JSON under systemd like every other line
        logs.fatal(exc, config.log if config else None)
        return 1
    finally:  # the loop's handlers went with it; the log may take a second to drain at exit
        signals.ignore()


def _ops_defaults(config: Config) -> tuple[Lifecycle, EngineObserver, list[Extension]]:
    """systemd notify + watchdog, Prometheus metrics (the status endpoint is `serve`'s)."""
    notifier = Notifier.from_env(os.environ)
    metrics = Metrics()
    extensions: list[Extension] = [
        WatchdogExtension(notifier), StatusLineExtension(notifier), IngestExtension(config),
    ]  # fmt: skip
    return notifier, metrics, extensions


async def serve(
    config: Config, credentials: Creds, *, lifecycle: Lifecycle | None = None,
    observer: EngineObserver | None = None, extensions: Sequence[Extension] = (),
    clock: Clock | None = None, session: aiohttp.ClientSession | None = None,
    signals: bool = True, watch_files: bool = True,
    on_ready: Callable[[Daemon], None] | None = None, status: ListenAddress | None = None,
) -> int:  # fmt: skip
    """Run the daemon until a stop request; 0 after a clean drain. `on_ready(daemon)` is called
    once the daemon has reconciled and armed its alarms (right after systemd's READY=1).
    `status`: where to serve /healthz, /metrics and the status page (fed by the accounts and
    the verification built here)."""
    clock = clock or SystemClock()
    sources = await _credentials_unless_stopped(config, credentials, clock, on_signals=signals)
    if sources is None:
        return 0
    timetable = Timetable(clock)  # the schedule in force: the daemon's, and each stream's account
    streams = lambda: timetable.streams  # noqa: E731
    async with Accounts(config, sources, clock, session=session, streams=streams) as accounts:
        if config.database is not None:  # a cluster member (DESIGN §9): liverecd.ha owns it
            from liverecd.ha.service import serve_member

            return await serve_member(
                config, accounts, clock=clock, observer=observer,
                lifecycle=lifecycle, extensions=extensions, signals=signals,
                watch_files=watch_files, on_ready=on_ready, install=_install_signals,
                remove=_remove_signals, timetable=timetable, status=status,
            )  # fmt: skip
        reloader = ConfigReloader(accounts.apply)
        store = SqliteStateStore(config.state_dir)  # opened by its first read, after the lock
        client = accounts.default_client  # verification reads the default account's index
        verifiers = verify_extensions(config, client, clock, observer, store=store)
        extensions = [*extensions, *verifiers, *status_page(status, observer, accounts, verifiers)]
        tasks = TaskSet()  # every long-lived task of the service, the daemon's included
        daemon = Daemon(
            config, sender=accounts.send, pacer=accounts.pacer,
            store=store, clock=clock, observer=observer,
            lifecycle=lifecycle, watch_files=watch_files, online_lister=accounts,
            reload_config=reloader, tasks=tasks, timetable=timetable,
            listeners=listeners_of(extensions),
        )  # fmt: skip
        if isinstance(observer, Metrics):
            observer.track_credentials(accounts.expiry_seconds)
        lock = StateLock(config.state_dir)
        try:
            lock.acquire()  # before the state is read: a second daemon refuses here
            await _companions(daemon, tasks, [accounts, *extensions], on_ready, signals=signals)
        finally:
            await store.close()  # after the verifier's last writes
            lock.release()
    return 0


async def _companions(
    daemon: Daemon, tasks: TaskSet, extensions: Sequence[Extension],
    on_ready: Callable[[Daemon], None] | None, *, signals: bool,
) -> None:  # fmt: skip
    """Start the companions, run the daemon beside them, close them (in reverse)."""
    started: list[Extension] = []
    try:
        for ext in extensions:
            await ext.start(daemon)
            started.append(ext)
        if signals:
            _install_signals(daemon)
        await _run(daemon, tasks, started, on_ready)
    finally:
        if signals:
            _remove_signals()
        for ext in reversed(started):
            await ext.close()


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
    status: ListenAddress | None = None,
) -> AsyncIterator[Daemon]:
    """`serve()` in the background, without signal handlers (embedding, tests, benchmarks):
    ready on entry (reconciled, alarms armed; what stopped it is raised if it ended first),
    stopped and drained on exit."""
    ready: asyncio.Future[Daemon] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(
            config, credentials, clock=clock, observer=observer, extensions=extensions,
            signals=False, watch_files=watch_files, on_ready=ready.set_result, status=status,
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
    daemon: Daemon, tasks: TaskSet, extensions: Sequence[Extension],
    on_ready: Callable[[Daemon], None] | None,
) -> None:  # fmt: skip
    failure: LiverecdError | None = None
    async with tasks:
        companions = tasks.scope()
        for ext in extensions:
            companions.start(ext.run(), type(ext).__name__)
        if on_ready is not None:
            companions.start(_relay(daemon, on_ready), "on-ready")
        try:
            await daemon.run()
        except LiverecdError as exc:
            failure = exc  # raised after the TaskSet, not wrapped in an ExceptionGroup
        finally:
            await companions.close()
    if failure is not None:
        raise failure


async def _relay(daemon: Daemon, on_ready: Callable[[Daemon], None]) -> None:
    await daemon.ready.wait()
    on_ready(daemon)


async def _credentials_unless_stopped(
    config: Config, credentials: Creds, clock: Clock, *, on_signals: bool
) -> dict[str, CredentialSource] | None:
    """The accounts' credential sources; None when a SIGTERM or SIGINT came first: a source
    that fails is retried until it answers, and a stop must still end such a start-up."""
    fetching = asyncio.ensure_future(
        sources_for(config, credentials, clock, logs.register_credentials)
    )
    if not on_signals:
        return await fetching
    stopped = asyncio.get_running_loop().create_future()
    signals.hold_on_loop(stopped)
    await asyncio.wait((fetching, stopped), return_when=asyncio.FIRST_COMPLETED)
    if fetching.done():
        return fetching.result()  # a stop that came meanwhile is the daemon's to replay
    fetching.cancel()
    await asyncio.wait((fetching,))
    held = signals.stop_pending()
    signals.take_pending()  # nothing is left to replay them to
    with contextlib.suppress(OSError):
        log.info("stop_requested", signal=held.name if held else "SIGTERM", ready=False)
    return None


def _install_signals(daemon: Controlled) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, _on_stop_signal, daemon, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, _on_stop_signal, daemon, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, _on_hup, daemon)
    for sig in signals.take_pending():  # arrived before the loop could act on them
        _on_hup(daemon) if sig is signal.SIGHUP else _on_stop_signal(daemon, sig.name)


def _remove_signals() -> None:
    """The daemon has stopped, but the process is still closing (companions, the state store,
    threads the loop waits for): a signal now is logged, never the default action that would
    kill it (status 129 for a SIGHUP). The loop removes these handlers when it closes."""
    loop = asyncio.get_running_loop()
    for sig in signals.HANDLED:
        loop.add_signal_handler(sig, _ignored, sig.name)


def _ignored(name: str) -> None:
    with contextlib.suppress(OSError):
        log.info("signal_ignored", signal=name, reason="stopping")


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
