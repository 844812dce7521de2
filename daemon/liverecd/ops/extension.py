"""The companions the service (ops/service.py) and the HA member (ha/) start next to the daemon,
and what the signal handlers drive. A module of its own so ha/ can name them without importing
the service that imports ha/.

A companion that wants to hear the daemon's settled commands (`settled`), the online watch's
events (`watch_event`) or a reloaded main config (`config_reloaded`) has those methods;
`listeners_of` collects them, and they are handed to the daemon when it is built, before it
can settle anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from liverecd.config import Config, ListenAddress
from liverecd.engine.daemon import Daemon
from liverecd.engine.dispatch.orders import Settled
from liverecd.engine.observer import Listeners
from liverecd.engine.online.sessions import Event
from liverecd.ops.ingest import IngestEndpoint, endpoint_from_config, ingest_domains
from liverecd.ops.metrics import Metrics
from liverecd.ops.notify import Notifier, watchdog_loop
from liverecd.ops.page.collect import Feeds, window_result
from liverecd.ops.page.model import WindowResult
from liverecd.ops.page.web import StatusPage
from liverecd.ops.status import Heartbeat, StatusServer, heartbeat_loop
from liverecd.schedule.model import Stream

if TYPE_CHECKING:
    from liverecd.api.accounts import Accounts
    from liverecd.verify.service import VerifyExtension


class Extension(Protocol):
    """A long-lived companion of the daemon (status endpoint, watchdog...)."""

    async def start(self, daemon: Daemon) -> None:
        """Get ready; raise a LiverecdError to refuse (the service exits 1)."""
        ...

    async def run(self) -> None:
        """Serve until cancelled."""
        ...

    async def close(self) -> None:
        """Release what `start` took; idempotent."""
        ...


class Controlled(Protocol):
    """What the signal handlers drive: a Daemon, or an HA member."""

    def request_stop(self) -> None: ...

    def request_reload(self, trigger: str = "sighup") -> None: ...


@runtime_checkable
class HearsSettled(Protocol):
    """A companion that hears every settled command."""

    def settled(self, settled: Settled) -> None: ...


@runtime_checkable
class HearsWatch(Protocol):
    """A companion that hears the online watch's events."""

    def watch_event(self, event: Event) -> None: ...


@runtime_checkable
class HearsConfig(Protocol):
    """A companion that takes settings from a reloaded main config."""

    def config_reloaded(self, config: Config) -> None: ...


def listeners_of(extensions: Sequence[object]) -> Listeners:
    """Who among `extensions` hears the daemon's settled commands, the watch's events and
    reloaded main configs."""
    return Listeners(
        settled=tuple(e.settled for e in extensions if isinstance(e, HearsSettled)),
        watch=tuple(e.watch_event for e in extensions if isinstance(e, HearsWatch)),
        config=tuple(e.config_reloaded for e in extensions if isinstance(e, HearsConfig)),
    )


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
        self._page: StatusPage | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """Bound host and port once started."""
        return self._server.address if self._server is not None else None

    async def start(self, daemon: Daemon) -> None:
        """Bind the endpoint; StatusServerError (a LiverecdError) when it cannot."""
        page = self._page = StatusPage(daemon, feeds=self._feeds)
        server = StatusServer(
            self._listen, daemon.snapshot, self._metrics, self._heartbeat.age,
            routes=page.add_routes,
        )  # fmt: skip
        await server.start()
        self._server = server

    def settled(self, settled: Settled) -> None:
        """The page's ledger of recent commands hears every settled one."""
        if self._page is not None:
            self._page.settled(settled)

    async def run(self) -> None:
        """Beat the heartbeat /healthz watches, once a second."""
        await heartbeat_loop(self._heartbeat, self._metrics)

    async def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            await self._server.close()
            self._server = None


def status_page(
    listen: ListenAddress | None, observer: object, accounts: Accounts,
    verifiers: Sequence[VerifyExtension],
) -> list[StatusExtension]:  # fmt: skip
    """The status endpoint and page on `listen` (none when it is off), fed by the parts the
    service builds: each account's credentials, and the results of the verification in force
    (`verifiers` is read at each view: an HA member's list changes with its terms)."""
    if listen is None:
        return []

    def results(needle: str, limit: int) -> list[WindowResult]:
        rows = [row for ext in verifiers for row in ext.results(needle, limit)]
        return [window_result(row) for row in rows[:limit]]

    feeds = Feeds(credentials=accounts.credential_states, results=results)
    metrics = observer if isinstance(observer, Metrics) else Metrics()
    return [StatusExtension(listen, metrics, feeds=feeds)]


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
