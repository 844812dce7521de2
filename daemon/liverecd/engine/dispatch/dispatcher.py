"""The dispatcher: a priority queue in front of the account's limiter, and the retry loop.

Orders come in with a wall-clock due time; the dispatcher converts it to monotonic time once
(pacing must not jump with the wall clock) and sends each order when (a) it is released (starts
may leave early, see `release.py`; everything else at its due time), (b) it heads its stream's
lane (one stream's commands go out one at a time, in due order: a start released early for the
next window never overtakes the previous window's stop), and (c) the limiter has a slot. Among
sendable orders the priority is (waiting-for-stream, due, class, retry, arrival): first
attempts before retries at the same due time, start before stop before cancel_delay, and retries
of a start whose stream is not live yet only take slots nobody else wants.

One timer (a `Clock.sleep` to the next release or limiter slot), no polling: with nothing
pending the dispatcher does not wake up at all.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from liverecd.api.result import ApiResult, Outcome, TransportError
from liverecd.api.retry import RetryPolicy
from liverecd.clock import Clock
from liverecd.engine.dispatch.answers import decide, hear, wait_backoff
from liverecd.engine.dispatch.orders import Order, Settled
from liverecd.engine.dispatch.queue import Item, OrderQueue
from liverecd.engine.dispatch.release import Landing
from liverecd.engine.dispatch.timing import Pacer, Wakeup, WallMono, routes
from liverecd.engine.observer import EngineObserver, NullObserver
from liverecd.streams import Command, StreamKey

log = structlog.get_logger(__name__)

Sender = Callable[[Command, StreamKey], Awaitable[ApiResult]]
Resolver = Callable[[Order], Command | None]
SettledHandler = Callable[[Settled], None]
# Seconds a start answered StreamNotFound may wait for its stream to be seen (then `expedite`),
# or None: retry on the backoff timer (see `engine.online.link`).
StreamWait = Callable[[StreamKey], float | None]
ClockJump = Callable[[float], None]  # seconds the wall clock stepped

# While orders are queued, wake at least this often to compare wall and monotonic time: a
# stepped wall clock moves every due time, and nothing else would tell a sleeping timer.
CLOCK_CHECK = 30.0
MAX_IN_FLIGHT = 64
# 2,000 back-to-back sends drifted 15-30 ms in bench/burst.py (a few loop stalls longer than one
# send interval each restart the limiter's grid); 0.2 % of the interval absorbs that.
CHAIN_HEADROOM = 0.002
DROPS = ("retries_exhausted", "window_closed")  # given up on: logged as command_dropped


class Dispatcher:
    """Sends orders through `sender`, paced by `pacer`, retried per `policy`.

    `on_settled` hears how every order ended (called on the loop, synchronously, so it may
    submit follow-ups such as a cancel_delay before anything else is sent). `resolve` is asked,
    just before an order's first attempt, which command to send (None: nothing to send).
    `stream_wait` says whether a start whose stream is not live waits to be expedited.
    """

    def __init__(
        self, sender: Sender, pacer: Pacer, policy: RetryPolicy, clock: Clock, *,
        max_lead: float, on_settled: SettledHandler, resolve: Resolver | None = None,
        observer: EngineObserver | None = None, on_clock_jump: ClockJump | None = None,
        stream_wait: StreamWait | None = None, max_in_flight: int = MAX_IN_FLIGHT,
        rng: random.Random | None = None,
    ) -> None:  # fmt: skip
        self._sender = sender
        self._pacer = pacer
        self._group_of, self._pacers = routes(pacer)  # several accounts: each paces its own
        self._policy = policy
        self._clock = clock
        self._max_lead = max_lead
        self._on_settled = on_settled
        self._resolve = resolve
        self._observer: EngineObserver = observer or NullObserver()
        self._on_clock_jump = on_clock_jump
        self._stream_wait = stream_wait
        self._max_in_flight = max_in_flight
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._queue = OrderQueue(self._group_of)
        self._tasks: set[asyncio.Task[None]] = set()
        self._landing = Landing(max_lead)
        self._time = WallMono(clock)
        self._wake = Wakeup(clock, "dispatch-timer")
        self._closing = False
        self._stopped = False
        self._idle = asyncio.Event()
        self._idle.set()

    # -- public -----------------------------------------------------------------------------

    def submit(self, order: Order) -> bool:
        """Queue `order`; False when the same window and command is already queued."""
        if order.key in self._queue.items or self._closing:
            return False
        self.check_clock()
        self._queue.add(
            order, self._time.mono(order.due), self._time.mono(order.chain_due or order.due),
            self._time.mono_or_none(order.deadline),
        )  # fmt: skip
        self._idle.clear()
        self._observer.queue_changed(len(self._queue))
        self._wake.poke()
        return True

    def cancel(self, window_id: str, commands: set[Command] | None = None) -> int:
        """Withdraw the window's queued orders (all, or those `commands`); an attempt in flight
        finishes and is not retried. Each withdrawn order is reported as `cancelled`."""
        # By key, not by a scan: a reload cancels thousands of windows against a long queue.
        items = self._queue.items
        found = (items.get((window_id, cmd)) for cmd in commands or Command)
        hits = [it for it in found if it is not None]
        for it in hits:
            if it.in_flight:
                it.cancel_requested = True
            else:
                self._settle(it, "cancelled")
        return len(hits)

    def update_deadline(self, window_id: str, deadline: datetime | None) -> None:
        """A window's end moved: its queued opening commands retry until the new end."""
        self._queue.set_deadline(window_id, self._time.mono_or_none(deadline), deadline)
        self._wake.poke()

    def expedite(self, window_id: str) -> bool:
        """A stream just came up: a queued opening command waiting for it goes at once (still
        paced and in its lane). True when there was one to hurry."""
        now = self._clock.monotonic()
        hurried = self._queue.retime_waiting(now, lambda _: 0.0, window_id) > 0
        if hurried:
            self._wake.poke()
        return hurried

    def unpark(self) -> int:
        """Whatever waits for its stream to be seen goes back to the backoff timer (the watch
        stopped seeing): each retries within its backoff from now. How many moved."""
        backoff = functools.partial(wait_backoff, policy=self._policy, rng=self._rng)
        moved = self._queue.retime_waiting(self._clock.monotonic(), backoff)
        if moved:
            self._wake.poke()
        return moved

    def set_max_lead(self, max_lead: float) -> None:
        """A reloaded `max_lead` (seconds): queued early starts are planned again with it."""
        self._max_lead = self._landing.max_lead = max_lead
        self._queue.dirty = True
        self._wake.poke()

    def pending(self, window_id: str, command: Command) -> bool:
        """True while that order is queued or in flight."""
        return (window_id, command) in self._queue.items

    def __len__(self) -> int:
        return len(self._queue)

    async def wait_idle(self) -> None:
        """Until nothing is queued or in flight."""
        await self._idle.wait()

    async def run(self) -> None:
        """Dispatch until `drain` finishes. Attempts run as tasks of one TaskGroup."""
        try:
            async with asyncio.TaskGroup() as tg:
                while not self._stopped:
                    self._step(tg)
                    await self._wake.wait()
                for task in self._tasks:
                    task.cancel()
        finally:
            self._wake.cancel()

    async def drain(self, grace: float) -> None:
        """Stop sending; give attempts in flight up to `grace` seconds, then cancel them."""
        self._closing = True
        if self._tasks:
            waiter = asyncio.ensure_future(asyncio.wait(set(self._tasks)))
            timer = asyncio.ensure_future(self._clock.sleep(grace))
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            timer.cancel()
        self._stopped = True
        self._wake.poke()

    def _step(self, tg: asyncio.TaskGroup) -> None:
        now = self._clock.monotonic()
        self.check_clock()
        # A send later than one interval restarts the limiter's grid (see api.ratelimit), so a
        # chain of early starts is planned with headroom for wake-ups that come that late.
        spacing = self._pacer.interval * (1 + CHAIN_HEADROOM)
        if self._queue.dirty or self._landing.moved(spacing):
            self._landing.adopt(spacing)
            self._queue.replan(self._landing.spacing, self._max_lead, self._landing.ahead)
        self._queue.promote(now)
        for group in self._queue.ready_groups():
            pacer = self._pacers(group)
            while self._queue.has_ready(group) and self._can_send():
                if pacer.next_slot() > now:
                    break
                it = self._queue.pop_ready(group)
                if it is not None and self._admit(it, now):
                    self._send(tg, it, now)
        wake = self._queue.next_release()
        if self._can_send():
            for group in self._queue.ready_groups():
                wake = min(wake, self._pacers(group).next_slot())
        if self._queue:
            wake = min(wake, now + CLOCK_CHECK)
        self._wake.at(wake)

    def _pacer_of(self, it: Item) -> Pacer:
        return self._pacers(self._group_of(it.order.stream))

    def _can_send(self) -> bool:
        return not self._closing and len(self._tasks) < self._max_in_flight

    def _admit(self, it: Item, now: float) -> bool:
        """Last checks before a send: useless opening commands and resolver verdicts."""
        if it.order.opens and it.deadline is not None and it.deadline <= now:
            self._settle(it, "window_closed")
            return False
        if it.attempt == 0 and self._resolve is not None:
            command = self._resolve(it.order)
            if command is None:
                self._settle(it, "skipped")
                return False
            it.command = command
        return True

    # -- sending and answers ----------------------------------------------------------------

    def _send(self, tg: asyncio.TaskGroup, it: Item, now: float) -> None:
        self._queue.sending(it)
        it.sent_at = self._clock.wall()
        self._pacer_of(it).take()
        waited = now - it.ready_at
        if waited > 0:
            self._observer.limiter_waited(waited)
        lateness = now - it.due if it.attempt == 0 else None
        task = tg.create_task(self._attempt(it, lateness), name=f"send-{it.order.window_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, it: Item, lateness: float | None) -> None:
        try:
            result = await self._sender(it.command, it.order.stream)
        except Exception:
            log.exception("command_error", window=it.order.window_id, command=it.command.value)
            result = ApiResult(transport_error=TransportError.RESET)
        outcome = hear(it, result, self._pacer_of(it), self._observer, lateness)
        self._queue.answered(it)
        if result.transport_error is None:
            self._landing.answered(result.latency)
        now = self._clock.monotonic()
        verdict = decide(it, result, outcome, self._policy, self._rng, now, self._stream_wait)
        if isinstance(verdict, float):  # retry after `verdict` seconds
            it.retry, it.waiting = True, outcome is Outcome.WAIT_FOR_STREAM
            it.not_before = now + verdict
            self._observer.retry_scheduled(it.command, outcome)
            self._queue.activate(it.order.stream)
        else:
            self._settle(it, verdict, outcome, result)
        self._wake.poke()

    def _settle(
        self, it: Item, reason: str, outcome: Outcome | None = None, result: ApiResult | None = None
    ) -> None:
        if reason in DROPS:
            log.warning(
                "command_dropped", window=it.order.window_id, stream=str(it.order.stream),
                command=it.command.value, reason=reason, attempts=it.attempt,
            )  # fmt: skip
        self._queue.remove(it)
        if not self._queue:
            self._idle.set()
        self._observer.queue_changed(len(self._queue))
        settled = Settled(
            order=it.order, command=it.command, reason=reason, attempts=it.attempt,
            outcome=outcome, result=result, maybe_acted=it.maybe_acted, sent_at=it.sent_at,
        )  # fmt: skip
        try:
            self._on_settled(settled)
        except Exception:
            log.exception("settle_handler_failed", window=it.order.window_id)

    def check_clock(self) -> None:
        """Cheap: compare wall and monotonic progress; after a step of the wall clock, every
        queued order's due time moves with it (and `on_clock_jump` hears of it)."""
        jump = self._time.check()
        if jump is None:
            return
        log.warning("clock_jump", jump_s=round(jump, 3))
        self._queue.rederive(self._time.mono)
        if self._on_clock_jump is not None:
            self._on_clock_jump(jump)
