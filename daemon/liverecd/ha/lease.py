"""The leader lease as one member sees it: campaign while standby, renew while active, fence.

Timing, for a lease of L seconds (6 s by default): the active renews every L/3; a standby tries
to take the lease every L/6; the active's gate stays open until the instant it *sent* its last
confirmed renewal plus L minus a margin of max(1 s, L/4) (boot-time clock). The database sets
the lease's expiry at least L after that instant, with its own clock, so the gate closes at
least the margin before any other member can take over: two actives never send in the same
second.

An active that cannot renew keeps its epoch: renewing needs only the epoch unchanged, so after a
database blip it carries on (the gate held its commands meanwhile). Once it sees another epoch,
its term is over. A takeover always bumps the epoch.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import structlog

from liverecd.clock import Clock
from liverecd.ha import sql
from liverecd.ha.gate import SenderGate, fence_clock
from liverecd.ha.store import Database, DatabaseError, where

log = structlog.get_logger(__name__)


class Leadership:
    """This member's part in the lease. `run()` is long-lived; `campaigning` says whether it
    may take the lease; `won` / `lost` are set when a term starts / ends."""

    def __init__(
        self, db: Database, *, holder: str, clock: Clock, on_change: Callable[[], None]
    ) -> None:
        self._db = db
        self.holder = holder
        self.lease = db.config.lease.total_seconds()
        # At least a second: the gate must close a full second before anyone else can send.
        self.margin = max(1.0, self.lease / 4)
        self._clock = clock
        self._now = fence_clock(clock)  # the gate's clock: deadlines are compared with it
        self._on_change = on_change
        self.epoch: int | None = None  # the current term's epoch
        self.fenced = False  # term not over, but the gate closed: lease unconfirmed
        self.confirmed_until = -math.inf
        self.gate: SenderGate | None = None  # the gate of the current term
        self.campaigning = False
        self.won = asyncio.Event()
        self.lost = asyncio.Event()
        self.reachable: bool | None = None
        self._keys = {"cluster": db.cluster, "holder": holder, "lease": self.lease}

    @property
    def role(self) -> str:
        """`active` while this member may send, else `standby`."""
        return "active" if self.epoch is not None and not self.fenced else "standby"

    async def run(self) -> None:
        """Campaign, renew and fence until cancelled. The fence is watched on its own timer: a
        renewal stuck in a partition (psycopg waits up to 5 s for a cancellation) must not
        delay `leader_lost` (the gate itself closes on time whatever happens here)."""
        while True:
            step = asyncio.ensure_future(self.step())
            try:
                while not step.done():
                    timer = asyncio.ensure_future(self._clock.sleep(self._until_fence()))
                    await asyncio.wait([step, timer], return_when=asyncio.FIRST_COMPLETED)
                    timer.cancel()
                    self._fence_check()
            finally:
                step.cancel()
            await self._clock.sleep(step.result())

    def _until_fence(self) -> float:
        if self.epoch is None or self.fenced:
            return self.lease
        return max(0.01, self.confirmed_until - self._now() + 0.01)

    async def step(self) -> float:
        """One round; the seconds until the next."""
        sent = self._now()
        try:
            if self.epoch is not None:
                rows = await self._db.fetch(sql.RENEW, {**self._keys, "epoch": self.epoch})
                self._renewed(sent) if rows else self.end("superseded")
            elif self.campaigning:
                rows = await self._db.fetch(sql.ACQUIRE, self._keys)
                if rows:
                    self._begin(int(rows[0][0]), sent)
            self._reached(None)
        except DatabaseError as exc:
            self._reached(exc)
        self._fence_check()
        return self._next_in()

    def _next_in(self) -> float:
        if self.epoch is None or self.fenced or not self.reachable:
            return self.lease / 6
        until_fence = self.confirmed_until - self._now()
        return max(0.01, min(self.lease / 3, until_fence + 0.01))

    def _begin(self, epoch: int, sent: float) -> None:
        self.epoch, self.fenced = epoch, False
        self.confirmed_until = sent + self.lease - self.margin
        self.lost.clear()
        log.info("leader_acquired", epoch=epoch, member=self.holder)
        self.won.set()
        self._on_change()

    def _renewed(self, sent: float) -> None:
        self.confirmed_until = max(self.confirmed_until, sent + self.lease - self.margin)
        if self.gate is not None:
            self.gate.confirm(self.confirmed_until)
        if self.fenced:
            self.fenced = False
            log.info("leader_acquired", epoch=self.epoch, member=self.holder, resumed=True)
            self._on_change()

    def _fence_check(self) -> None:
        if self.epoch is None or self.fenced:
            return
        if self._now() >= self.confirmed_until:
            self.fenced = True
            log.warning("leader_lost", reason="lease_unconfirmed", epoch=self.epoch)
            self._on_change()

    def end(self, reason: str) -> None:
        """The term is over: the gate refuses everything from now on."""
        if self.epoch is None:
            return
        if not self.fenced:
            log.warning("leader_lost", reason=reason, epoch=self.epoch)
        else:
            log.info("term_ended", reason=reason, epoch=self.epoch)
        if self.gate is not None:
            self.gate.end()
        self.epoch, self.fenced, self.gate = None, False, None
        self.won.clear()
        self.lost.set()
        self._on_change()

    async def release(self) -> None:
        """Hand the lease back (clean shutdown): a standby takes over at its next try."""
        epoch = self.epoch
        self.campaigning = False
        self.end("shutdown")
        if epoch is not None:
            try:
                await self._db.fetch(sql.RELEASE, {**self._keys, "epoch": epoch})
            except DatabaseError as exc:
                log.warning("lease_release_failed", error=str(exc))

    def _reached(self, exc: DatabaseError | None) -> None:
        ok = exc is None
        if ok != self.reachable:
            if exc is not None:
                log.error("database_unreachable", database=where(self._db.config), error=str(exc))
            elif self.reachable is not None:
                log.info("database_reachable", database=where(self._db.config))
            self.reachable = ok
            self._on_change()
