"""Who owns the daemon's tasks: one `asyncio.TaskGroup` for the whole service.

The service enters one `TaskSet`; the daemon's loops (alarms, dispatcher, reloads, the watches),
the engine's hand-overs and the ops companions all run in it, so nothing outlives the service
and nothing is left unawaited. Two kinds of task:
- `start`: a loop the service cannot do without (the dispatcher, the alarms): its failure ends
  the service, and systemd restarts it;
- `spawn`: work on the side (an opening command waiting for its intent, a horizon refresh): its
  failure is logged as `task_failed` and the service goes on.
A `Scope` is the part of the set one owner cancels when it stops (the daemon at shutdown), while
the set itself lives on until the service leaves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class TaskSet:
    """The service's TaskGroup. Enter it once (`async with`); tasks start only inside."""

    def __init__(self) -> None:
        self._group = asyncio.TaskGroup()
        self._entered = False

    async def __aenter__(self) -> TaskSet:
        await self._group.__aenter__()
        self._entered = True
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._group.__aexit__(et, exc, tb)
        finally:
            self._entered = False

    @property
    def open(self) -> bool:
        """True between entering and leaving."""
        return self._entered

    def start(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run an essential loop: if it fails, the whole set is cancelled and the error raised."""
        return self._group.create_task(coro, name=name)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run side work whose failure is logged, not fatal."""
        task = self._group.create_task(_logged(coro), name=name)
        # Cancelled before its first step, the wrapper never awaited `coro`: close it (a no-op
        # once it ran), or Python warns that it was never awaited.
        task.add_done_callback(lambda _: coro.close())
        return task

    def scope(self) -> Scope:
        """A part of the set that its owner can cancel on its own."""
        return Scope(self)


class Scope:
    """Tasks of one owner inside a `TaskSet`; `close()` cancels them and refuses new ones."""

    def __init__(self, tasks: TaskSet) -> None:
        self._set = tasks
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def start(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """An essential loop of this owner (see `TaskSet.start`)."""
        return self._keep(self._set.start(coro, name))

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None:
        """Side work of this owner; None (and the coroutine closed) once it is closing: what
        it would have done is the next start-up's reconcile."""
        if self._closing or not self._set.open:
            coro.close()
            return None
        return self._keep(self._set.spawn(coro, name))

    def _keep(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, *keep: asyncio.Task[None]) -> None:
        """Cancel this owner's tasks but `keep`, wait until they are gone, take no more."""
        self._closing = True
        doomed = [t for t in self._tasks if t not in keep]
        for task in doomed:
            task.cancel()
        if doomed:
            await asyncio.wait(doomed)


async def _logged(coro: Coroutine[Any, Any, None]) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        task = asyncio.current_task()
        log.exception("task_failed", task=task.get_name() if task else "?")
