"""One member of a cluster (DESIGN §9): the daemon's life when `database` is configured.

The member's life is a row of periods. Each period has a fresh `Daemon` (with its own sender
gate and term store) and the ops extensions: it starts as standby (schedules loaded and checked,
/healthz and /metrics served, no Live API request) and, when this member wins the lease, runs
the daemon: its start-up reconcile from the shared state is the takeover (open windows get
`start`, windows closed while started get `stop`, never a `restart` on a guess). When the term
ends (superseded, or fenced and superseded), the daemon is stopped behind a closed gate and the
next period begins as standby. A fresh daemon per term means a demoted member keeps no stale
memory of what it sent: the next term starts from the shared state like any takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import structlog

from liverecd.clock import Clock
from liverecd.config import Config
from liverecd.engine import reload as loading
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import Lifecycle
from liverecd.engine.tasks import TaskSet
from liverecd.engine.watchfs import watch
from liverecd.errors import LiverecdError
from liverecd.ha import sql
from liverecd.ha.digest import standby_view, timetable_digest
from liverecd.ha.gate import SenderGate
from liverecd.ha.lease import Leadership
from liverecd.ha.store import Database, DatabaseError, SchemaTooNewError, TermStore, where

if TYPE_CHECKING:
    from liverecd.ops.extension import Extension

log = structlog.get_logger(__name__)

Build = Callable[[SenderGate, TermStore, Lifecycle, TaskSet], Daemon]
DuringTerm = Callable[[Daemon, int, TaskSet], contextlib.AbstractAsyncContextManager[None]]
OnReady = Callable[[Daemon], None]
CONNECT_BACKOFF = (0.5, 10.0)  # seconds: first retry, longest wait between tries


class Member:
    """A daemon in a cluster. `serve()` runs it; `request_stop` / `request_reload` are what the
    signal handlers call."""

    def __init__(
        self, config: Config, *, clock: Clock, lifecycle: Lifecycle, observer: object = None,
        watch_files: bool = True, during_term: DuringTerm | None = None,
    ) -> None:  # fmt: skip
        assert config.database is not None
        self.config = config
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        self._clock = clock
        self._lifecycle = lifecycle
        self._observer = observer
        self.db = Database(config.database)
        lead = Leadership(self.db, holder=self.name, clock=clock, on_change=self._changed)
        self.leadership = lead
        self.digest, self.checked = "", standby_view(None)  # the standby's own schedule check
        self.others: dict[str, tuple[str, str]] = {}  # member -> (digest, role), fresh ones
        self._mismatch: tuple[str, ...] = ()
        self._stop, self._reload = asyncio.Event(), asyncio.Event()
        self._watch_files = watch_files
        self._daemon: Daemon | None = None
        self._told_ready = False
        # What runs beside the daemon in a term only (verification: index reads are requests).
        self.during_term = during_term or (lambda _d, _e, _t: contextlib.nullcontext())

    # -- control ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop the member (the active releases its lease after draining)."""
        self._stop.set()
        if self._daemon is not None:
            self._daemon.request_stop()

    def request_reload(self, trigger: str = "sighup") -> None:
        """Reload the schedules (the running daemon's, or the standby's digest)."""
        if self.leadership.role == "standby":
            self._reload.set()
        elif self._daemon is not None:
            self._daemon.request_reload(trigger)

    def status(self) -> Mapping[str, object]:
        """What /healthz adds to the daemon's snapshot."""
        extra: dict[str, object] = {
            "role": self.leadership.role, "epoch": self.leadership.epoch, "member": self.name,
            "database_reachable": self.leadership.reachable, "timetable_digest": self.digest,
            "timetable_differs": list(self._mismatch),
        }  # fmt: skip
        if self.leadership.role == "standby":
            extra |= self.checked  # checked by the standby itself, not by a daemon
        return extra

    def status_text(self, text: str | None = None) -> str:
        """STATUS= with the role first."""
        role = self.leadership.role
        if role == "active":
            role += f" (epoch {self.leadership.epoch})"
        return role if not text else f"{role}: {text}"

    # -- life -------------------------------------------------------------------------------

    async def serve(self, build: Build, extensions: Sequence[Extension],
                    on_ready: Callable[[Daemon], None] | None = None) -> int:  # fmt: skip
        """Connect (retrying), then periods of standby and terms until `request_stop()`."""
        try:
            if not await self._connect():
                return 0
            async with TaskSet() as tasks:  # every task of the member, its daemons' included
                mine = tasks.scope()
                mine.start(self.leadership.run(), "lease")
                mine.start(self._peers(), "members")
                try:
                    while not self._stop.is_set():
                        await self._period(build, extensions, on_ready, tasks)
                finally:
                    await mine.close()
        except BaseExceptionGroup as group:
            # What stopped a term (a StateError at start-up...) reaches the command line as
            # itself, like the single daemon's, not wrapped in a TaskGroup's ExceptionGroup.
            match, _ = group.split(LiverecdError)
            if match is None:
                raise
            raise _first(match) from group
        finally:
            await self.leadership.release()
            await self.db.close()
        return 0

    async def _connect(self) -> bool:
        delay = CONNECT_BACKOFF[0]
        while True:
            try:
                await self.db.open()
            except SchemaTooNewError:
                raise
            except DatabaseError as exc:
                log.error("database_unreachable", database=where(self.db.config),  # noqa: TRY400
                          error=str(exc), retry_in=delay)  # fmt: skip
            else:
                return True
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(delay):
                    await self._stop.wait()
                    return False
            delay = min(delay * 2, CONNECT_BACKOFF[1])

    async def _period(self, build: Build, extensions: Sequence[Extension],
                      on_ready: OnReady | None, tasks: TaskSet) -> None:  # fmt: skip
        gate = SenderGate(self._clock)
        store = TermStore(self.db, self.name, 0)
        daemon = build(gate, store, _RoleLifecycle(self._lifecycle, self), tasks)
        self._daemon = daemon
        started: list[Extension] = []
        try:
            for ext in extensions:
                await ext.start(daemon)
                started.append(ext)
            period = tasks.scope()
            for ext in started:
                period.start(ext.run(), type(ext).__name__)
            standby_watch = period.start(self._watch(), "standby-watch")
            try:
                await self._standby(daemon, on_ready)
                while not await self._either(self.leadership.won, self._reload):
                    if self._stop.is_set():
                        break
                    self._reload.clear()
                    await self._standby(daemon, on_ready)  # SIGHUP or an edit: new digest
                else:
                    standby_watch.cancel()
                    await self._term(daemon, store, gate, tasks)
            finally:
                await period.close()
        finally:
            self._daemon = None
            for ext in reversed(started):
                await ext.close()

    async def _standby(self, daemon: Daemon, on_ready: Callable[[Daemon], None] | None) -> None:
        result = await loading.load(self.config, None)
        await loading.report(result)
        self.digest, self.checked = timetable_digest(result.schedule), standby_view(result)
        if (loaded := getattr(self._observer, "timetable_loaded", None)) is not None:
            loaded(self.digest)
        self.leadership.campaigning = True
        if self.leadership.epoch is None:
            log.info("member_standby", member=self.name, digest=self.digest)
            self._lifecycle.ready(self.status_text("no Live API request while standby"))
        if on_ready is not None and not self._told_ready:
            self._told_ready = True
            on_ready(daemon)

    async def _term(
        self, daemon: Daemon, store: TermStore, gate: SenderGate, tasks: TaskSet
    ) -> None:
        lead = self.leadership
        if lead.epoch is None:  # won and lost again before this period could act on it
            return
        store.epoch = lead.epoch
        lead.gate = gate
        gate.confirm(lead.confirmed_until)
        try:
            rows = await store.load()
        except DatabaseError as exc:
            log.error("takeover_failed", error=str(exc), epoch=store.epoch)  # noqa: TRY400
            await lead.release()
            lead.campaigning = True
            return
        log.info("takeover", epoch=store.epoch, state_rows=len(rows))
        async with self.during_term(daemon, store.epoch, tasks):
            run = tasks.start(daemon.run(), "daemon")
            over = asyncio.ensure_future(self._either(lead.lost))
            try:
                done, _ = await asyncio.wait([run, over], return_when=asyncio.FIRST_COMPLETED)
                if run in done:  # stopped from outside (`service.running()`): so is the member
                    self._stop.set()
            finally:
                over.cancel()
                daemon.request_stop()
                await run

    async def _either(self, event: asyncio.Event, *others: asyncio.Event) -> bool:
        """Wait for `event`, one of `others` or a stop request; True when it was `event`."""
        waits = [asyncio.ensure_future(e.wait()) for e in (self._stop, event, *others)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return event.is_set() and not self._stop.is_set()

    async def _watch(self) -> None:
        """The standby follows edits of its schedules too, so its digest stays current."""
        if self._watch_files:
            await watch(self.config.path.parent, lambda: self.config.schedules,
                        lambda: self.request_reload("file_change"))  # fmt: skip

    # -- members and their timetables -------------------------------------------------------

    async def _peers(self) -> None:
        while True:
            keys = {"cluster": self.db.cluster, "member": self.name, "digest": self.digest,
                    "role": self.leadership.role, "fresh": self.leadership.lease * 3}  # fmt: skip
            try:
                await self.db.fetch(sql.SEEN, keys)
                rows = await self.db.fetch(sql.MEMBERS, keys)
                await self.db.fetch(sql.FORGET, keys)
            except DatabaseError:
                rows = None  # the lease loop reports the outage
            if rows is not None:
                self.others = {str(m): (str(d), str(r)) for m, d, r in rows if m != self.name}
                self._compare()
            await self._clock.sleep(self.leadership.lease / 3)

    def _compare(self) -> None:
        if not self.digest:
            return
        differ = tuple(m for m, (d, _) in self.others.items() if d and d != self.digest)
        if differ != self._mismatch:
            for m in differ:
                log.warning("timetable_differs", member=m, digest=self.others[m][0],
                            ours=self.digest, role=self.others[m][1])  # fmt: skip
            self._mismatch = differ

    def _changed(self) -> None:
        role_changed = getattr(self._observer, "role_changed", None)
        if role_changed is not None:
            role_changed(self.leadership.role == "active")


class _RoleLifecycle:
    """The service manager's lifecycle, with the role at the front of STATUS=."""

    def __init__(self, inner: Lifecycle, member: Member) -> None:
        self._inner, self._member = inner, member

    def ready(self, status: str | None = None) -> object:
        return self._inner.ready(self._member.status_text(status))

    def reloading(self, status: str | None = None) -> object:
        return self._inner.reloading(status)

    def stopping(self, status: str | None = None) -> object:
        return self._inner.stopping(status)


def _first(group: BaseExceptionGroup[LiverecdError]) -> LiverecdError:
    inner = group.exceptions[0]
    return inner if isinstance(inner, LiverecdError) else _first(inner)
