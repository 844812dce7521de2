"""The dispatcher's queue: orders in lanes (one per stream), and two heaps that say who may go.

- a *lane* holds one stream's orders in chain order (due time, class, arrival); only its head
  may be sent, and only while no attempt of the lane is in flight: one stream's commands go
  out one at a time, in order;
- the *timed* heap holds lane heads that are not released yet (first attempts: their release
  time; retries: their backoff), keyed by when they become sendable;
- the *ready* heap holds released lane heads by priority: (waiting-for-stream, due, class,
  retry, arrival).

Heap entries carry the item's generation; any change of an item bumps it, so stale entries are
skipped when popped instead of searched for and removed.
"""

from __future__ import annotations

import heapq
import math
from bisect import insort
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from liverecd.api.result import Outcome
from liverecd.engine.dispatch.orders import Order
from liverecd.engine.dispatch.release import plan_releases
from liverecd.streams import Command, StreamKey

Priority = tuple[bool, float, int, bool, int]


@dataclass(eq=False, slots=True)
class Item:
    """One order in the queue, with its monotonic times and its attempts so far."""

    order: Order
    seq: int
    command: Command
    due: float
    deadline: float | None
    chain: tuple[float, int, int]
    release: float
    latest: float
    attempt: int = 0
    not_before: float = -math.inf
    retry: bool = False
    waiting: bool = False  # the last answer was WAIT_FOR_STREAM
    in_flight: bool = False
    done: bool = False
    cancel_requested: bool = False
    maybe_acted: bool = False  # an attempt may have been carried out (or, reassert: before us)
    sent_at: datetime | None = None
    gen: int = 0
    per_class: Counter[Outcome] = field(default_factory=Counter)

    @property
    def early(self) -> bool:
        """A first attempt that may leave before its due time (a start)."""
        return self.order.early and self.attempt == 0

    @property
    def ready_at(self) -> float:
        return self.release if self.attempt == 0 else self.not_before

    def priority(self) -> Priority:
        when = self.latest if self.early else self.due
        return (self.waiting, when, self.command.rank, self.retry, self.seq)


class OrderQueue:
    """Items by key, lanes by stream, and the timed and ready heaps."""

    def __init__(self, group_of: Callable[[StreamKey], str | None] = lambda _: None) -> None:
        # One ready heap per group (account): each group is paced by its own limiter, so the
        # dispatcher takes from the heaps whose limiter has a slot, never scanning the others.
        self._group_of = group_of
        self.items: dict[tuple[str, Command], Item] = {}
        self._lanes: dict[StreamKey, list[Item]] = {}
        self._busy: set[StreamKey] = set()  # lanes with an attempt in flight
        self._timed: list[tuple[float, int, int, Item]] = []
        self._ready: dict[str | None, list[tuple[Priority, int, Item]]] = {}
        self._seq = 0
        self.dirty = False  # an early item arrived: the release plan must be recomputed

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())

    def add(self, order: Order, due: float, chain_due: float, deadline: float | None) -> Item:
        """Queue a new item (the caller checked `order.key` is not queued)."""
        self._seq += 1
        # A reassert stands for a command that may have been carried out before (by a process
        # that crashed, or earlier in this one): dropping it must not forget that a stop is owed.
        it = Item(
            order=order, seq=self._seq, command=order.command, due=due, deadline=deadline,
            chain=(chain_due, order.command.rank, self._seq), release=due, latest=due,
            maybe_acted=order.reassert,
        )  # fmt: skip
        self.items[order.key] = it
        insort(self._lanes.setdefault(order.stream, []), it, key=lambda i: i.chain)
        self.dirty = self.dirty or it.early
        self.activate(order.stream)
        return it

    def remove(self, it: Item) -> None:
        """Take a finished item out; the next in its lane becomes schedulable."""
        it.done = True
        self.items.pop(it.order.key, None)
        lane = self._lanes[it.order.stream]
        lane.remove(it)
        if lane:
            self.activate(it.order.stream)
        else:
            del self._lanes[it.order.stream]

    def activate(self, stream: StreamKey) -> None:
        """(Re)schedule the lane's head, unless an attempt of the lane is in flight."""
        lane = self._lanes.get(stream)
        if not lane or stream in self._busy:
            return
        it = lane[0]
        it.gen += 1
        heapq.heappush(self._timed, (it.ready_at, it.seq, it.gen, it))

    def sending(self, it: Item) -> None:
        """`it` is about to be sent: its lane waits for the answer."""
        it.in_flight = True
        self._busy.add(it.order.stream)

    def answered(self, it: Item) -> None:
        """`it`'s attempt is over (the caller then retries or removes it)."""
        it.in_flight = False
        self._busy.discard(it.order.stream)

    def _valid(self, it: Item, gen: int) -> bool:
        if it.done or it.in_flight or it.gen != gen:
            return False
        stream = it.order.stream
        return stream not in self._busy and self._lanes[stream][0] is it

    def promote(self, now: float) -> None:
        """Move every released lane head into the ready heap."""
        while self._timed and self._timed[0][0] <= now:
            _, _, gen, it = heapq.heappop(self._timed)
            if self._valid(it, gen):
                heap = self._ready.setdefault(self._group_of(it.order.stream), [])
                heapq.heappush(heap, (it.priority(), it.gen, it))

    def ready_groups(self) -> list[str | None]:
        """The groups whose ready heap holds entries (possibly stale ones)."""
        return [group for group, heap in self._ready.items() if heap]

    def has_ready(self, group: str | None = None) -> bool:
        """True when `group`'s ready heap holds entries (possibly stale ones)."""
        return bool(self._ready.get(group))

    def pop_ready(self, group: str | None = None) -> Item | None:
        """`group`'s best sendable item, or None when only stale entries were left."""
        heap = self._ready.get(group)
        while heap:
            _, gen, it = heapq.heappop(heap)
            if self._valid(it, gen):
                return it
        return None

    def next_release(self) -> float:
        """When the next not-yet-released lane head becomes sendable (inf: none)."""
        while self._timed and not self._valid(self._timed[0][3], self._timed[0][2]):
            heapq.heappop(self._timed)
        return self._timed[0][0] if self._timed else math.inf

    def set_deadline(self, window_id: str, deadline: float | None, wall: datetime | None) -> None:
        """The window's opening items retry until `deadline` (`wall` on the wall clock, kept
        for `rederive`); one waiting for its stream past it wakes then instead (and leaves as
        window_closed, freeing its lane for the stop)."""
        for it in self._opening(window_id):
            it.deadline = deadline
            it.order = replace(it.order, deadline=wall)
            if deadline is not None and it.waiting and it.not_before > deadline:
                it.not_before = deadline
                self.activate(it.order.stream)

    def _opening(self, window_id: str) -> list[Item]:
        keys = ((window_id, c) for c in (Command.START, Command.RESTART))
        return [it for k in keys if (it := self.items.get(k)) is not None]

    def retime_waiting(
        self, now: float, delay: Callable[[Item], float], window_id: str | None = None
    ) -> int:
        """Bring forward the retries waiting for their stream (of `window_id`, or all): each to
        `now + delay(item)` where that is sooner. How many moved."""
        found = list(self.items.values()) if window_id is None else self._opening(window_id)
        moved = 0
        for it in found:
            if it.waiting and not it.in_flight and it.not_before > now:
                at = now + delay(it)
                if at < it.not_before:
                    it.not_before = at
                    moved += 1
                    self.activate(it.order.stream)
        return moved

    def replan(self, spacing: float, max_lead: float, ahead: float) -> None:
        """Recompute early releases (see release.py); `ahead` aims starts to land, not leave,
        by their instant."""
        self.dirty = False
        early = sorted(
            (it for it in self.items.values() if it.early and not it.in_flight),
            key=lambda it: (it.due, it.seq),
        )
        plan = plan_releases([it.due - ahead for it in early], spacing, max_lead - ahead)
        for it, rel in zip(early, plan, strict=True):
            if (it.release, it.latest) != (rel.release, rel.latest):
                it.release, it.latest = rel.release, rel.latest
                if self._lanes[it.order.stream][0] is it:
                    self.activate(it.order.stream)

    def rederive(self, mono: Callable[[datetime], float]) -> None:
        """The wall clock jumped: recompute every monotonic time from the orders' wall times."""
        for it in self.items.values():
            it.due = mono(it.order.due)
            it.deadline = None if it.order.deadline is None else mono(it.order.deadline)
            it.release = it.latest = it.due
            it.chain = (mono(it.order.chain_due or it.order.due), it.chain[1], it.chain[2])
        for stream, lane in self._lanes.items():
            lane.sort(key=lambda it: it.chain)
            self.activate(stream)
        self.dirty = True
