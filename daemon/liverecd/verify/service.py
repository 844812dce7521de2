"""Verification as a service extension: wires the verifier to the daemon it runs beside.

It hears the engine's settled commands (`settled`: windows, files due, start evidence) and the
online watch's events (`watch_event`: drops and returns, absent evidence), both handed to the
daemon when it is built; when `verify.callback_listen` is set, `start(daemon)` binds the
recording-callback receiver (file events and status events). Index reads go through their own
limiter (per account and API, `verify.qps`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from liverecd.api.credentials import load_record_auth_key
from liverecd.api.ratelimit import limiter_for
from liverecd.api.record_index import ACTION_INDEX, ActionCaller, IndexRead, read_index
from liverecd.clock import Clock
from liverecd.engine.dispatch.orders import Settled
from liverecd.engine.online.sessions import Change, Event, OpenWindow
from liverecd.errors import CredentialsError
from liverecd.ops import logs
from liverecd.streams import StreamKey
from liverecd.verify.confirm import Confirmer
from liverecd.verify.receiver import RecordReceiver
from liverecd.verify.rows import Verification
from liverecd.verify.verifier import Verifier, VerifyObserver

if TYPE_CHECKING:
    from liverecd.api.client import LiveClient
    from liverecd.config import Config
    from liverecd.engine.daemon import Daemon
    from liverecd.engine.store.interface import StateStore

INDEX_MARGIN = 0.05
_ONLINE = (Change.RETURNED, Change.DROP_CLEARED, Change.REARMED)


def verify_extensions(
    config: Config, client: LiveClient, clock: Clock, observer: object, *,
    store: StateStore, caller: ActionCaller | None = None,
) -> list[VerifyExtension]:  # fmt: skip
    """The verification extension when `verify.enabled` (none otherwise), on the daemon's
    `store`; `observer` counts results when it can (the service's Metrics). An HA term passes
    its term's store and its gated client (`caller`, for the index reads)."""
    if not config.verify.enabled:
        return []
    counted = observer if isinstance(observer, VerifyObserver) else None
    return [VerifyExtension(config, client, clock, counted, store=store, caller=caller)]


class VerifyExtension:
    """The verifier (and its callback receiver) beside a daemon."""

    def __init__(
        self, config: Config, client: LiveClient, clock: Clock,
        observer: VerifyObserver | None = None, *, store: StateStore,
        caller: ActionCaller | None = None,
    ) -> None:  # fmt: skip
        self._config = config
        self.store = store
        self._client = client
        self._caller: ActionCaller = caller or client
        self._clock = clock
        self._observer = observer
        key = client.access_key_id
        # At 15/s the default 1 % margin is 10 ms of slack per second, less than the jitter
        # of a loaded host (bench/verify.py counted 16 in a second); 5 % leaves 50 ms.
        self._limiter = limiter_for(
            key, config.verify.qps, clock, api=ACTION_INDEX, margin=INDEX_MARGIN
        )
        self.verifier: Verifier | None = None
        self.confirmer: Confirmer | None = None
        self.receiver: RecordReceiver | None = None
        self._windows: Callable[[], Mapping[StreamKey, OpenWindow]] = dict

    async def _read(self, stream: StreamKey, start: datetime, end: datetime) -> IndexRead:
        return await read_index(self._caller, self._limiter, stream, start, end)

    async def start(self, daemon: Daemon) -> None:
        """Resume pending checks from the store, hook into the engine and the watch."""
        verifier = Verifier(
            self._config.verify, self.store, self._read, self._clock,
            observer=self._observer,
        )  # fmt: skip
        self.verifier = verifier
        await verifier.load()
        engine = daemon.engine
        self._windows = engine.watched
        if self._config.verify.callback_listen is not None:
            await self._start_callbacks(daemon, verifier)

    async def _start_callbacks(self, daemon: Daemon, verifier: Verifier) -> None:
        """The receiver, and the confirmation of starts it makes possible."""
        listen, verify = self._config.verify.callback_listen, self._config.verify
        assert listen is not None
        key = load_record_auth_key()
        if not key:
            raise CredentialsError(
                "verify.callback_listen is set but no record auth key is configured: provide "
                "record_auth_key in $CREDENTIALS_DIRECTORY or LIVERECD_RECORD_AUTH_KEY"
            )
        logs.register_secret(key)
        engine, watch = daemon.engine, daemon.watch

        def is_open(wid: str) -> bool:  # or about to open: a start may land a little early
            rec = engine.windows.get(wid)
            return rec is not None and self._clock.wall() < rec.end

        confirmer = Confirmer(
            verify.confirm, self._clock, resend=engine.rearm, is_open=is_open,
            is_offline=lambda k: watch is not None and watch.is_online(k) is False,
        )  # fmt: skip

        def on_status(stream: StreamKey, event: str) -> None:
            window = engine.watched().get(stream)
            confirmer.on_status(stream, event, window.window_id if window else None)

        receiver = RecordReceiver(
            listen, key, host=verify.callback_host, clock=self._clock,
            on_file=verifier.add_file, on_status=on_status,
        )  # fmt: skip
        await receiver.start()
        self.confirmer, self.receiver = confirmer, receiver

    def results(self, needle: str, limit: int) -> list[Verification]:
        """The status page's recent windows (none before the verifier starts)."""
        return self.verifier.results(needle, limit) if self.verifier is not None else []

    def config_reloaded(self, config: Config) -> None:
        """Take `grace`, `min_coverage`, `confirm` and `qps` from a reloaded main config
        (windows checked from now on; checks already due keep their time)."""
        verify = config.verify
        self._config = replace(self._config, verify=verify)
        self._limiter.set_qps(verify.qps)
        if self.verifier is not None:
            self.verifier.config = verify
        if self.confirmer is not None:
            self.confirmer.confirm = verify.confirm

    def settled(self, settled: Settled) -> None:
        """A settle listener of the daemon (given when it is built)."""
        if self.verifier is not None:
            self.verifier.on_settled(settled)
        if self.confirmer is not None:
            self.confirmer.on_settled(settled)

    def watch_event(self, event: Event) -> None:
        """An online-watch listener of the daemon (given when it is built)."""
        if self.verifier is None:
            return
        evidence = self.verifier.evidence
        if event.change is Change.DROPPED:
            evidence.observe(event.stream, event.at, False)
        elif event.change is Change.CAME_ONLINE:
            # First seen online: when it began publishing after its window opened, it was
            # offline from the opening until then; when before, it was live all along.
            window = self._windows().get(event.stream)
            began = event.publish_time or event.at
            if window is not None and began > window.start:
                evidence.observe(event.stream, window.start, False)
            evidence.observe(event.stream, began, True)
        elif event.change in _ONLINE:
            back = event.publish_time if event.change is Change.RETURNED else None
            self.verifier.evidence.observe(event.stream, back or event.at, True)

    async def run(self) -> None:
        """Check windows as they fall due (and confirm starts), until cancelled."""
        async with asyncio.TaskGroup() as tg:
            if self.verifier is not None:
                tg.create_task(self.verifier.run(), name="verifier")
            if self.confirmer is not None:
                tg.create_task(self.confirmer.run(), name="confirmer")
            await asyncio.Event().wait()

    async def close(self) -> None:
        """Stop the receiver, finish the writes (the store is its creator's to close)."""
        if self.receiver is not None:
            await self.receiver.close()
            self.receiver = None
        if self.verifier is not None:
            await self.verifier.close()
