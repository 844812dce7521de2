"""`GET /` and `GET /api/status` (HEAD too; any other method is 405) on `status.listen`.

The handlers run on the status server's own thread (see ops/status.py), so a slow render never
holds the daemon's event loop. Only `collect` runs on the daemon's loop (it reads live engine
structures, and stays O(recordings + page)); the window index is built and queried, and the
page rendered, here. When the daemon's loop does not answer within `COLLECT_TIMEOUT`, the page
says so with a 503 rather than waiting: that is exactly when an operator opens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from liverecd.engine.daemon import Daemon
from liverecd.engine.dispatch.orders import Settled
from liverecd.ops.page import render
from liverecd.ops.page.collect import Ahead, Context, Feeds, collect, upcoming
from liverecd.ops.page.index import IndexCache
from liverecd.ops.page.ledger import Ledger
from liverecd.ops.page.model import PageModel, Query, Role

if TYPE_CHECKING:
    from liverecd.ops.status import StatusServer

COLLECT_TIMEOUT = 2.0
Health = Callable[[], tuple[int, Mapping[str, Any]]]


class StatusPage:
    """The operator's page for one daemon. Create on the daemon's loop, before it runs."""

    def __init__(self, daemon: Daemon, *, feeds: Feeds | None = None) -> None:
        self._daemon = daemon
        self._loop = asyncio.get_running_loop()
        self.ledger = Ledger()
        self.context = Context(
            started_at=daemon.clock.wall(), ledger=self.ledger, feeds=feeds or Feeds()
        )
        self._cache = IndexCache()
        self._health: Health | None = None

    def settled(self, settled: Settled) -> None:
        """What the page's ledger keeps of a settled command (its owner passes it on)."""
        self.ledger.settled(settled, self._daemon.clock.wall())

    def add_routes(self, app: web.Application, server: StatusServer) -> None:
        """Register `/` and `/api/status` (GET and HEAD) on the status server's app."""
        self._health = server.health
        app.router.add_get("/", self._html)
        app.router.add_get("/api/status", self._json)

    async def model(self, query: Query) -> PageModel:
        """The model, collected on the daemon's loop (TimeoutError when it does not answer)."""
        ahead = await asyncio.to_thread(self._ahead, query)
        health = self._health()[1] if self._health is not None else {}
        problems = [str(p) for p in health.get("problems", ())]
        future = asyncio.run_coroutine_threadsafe(self._collect(query, ahead, problems), self._loop)
        try:
            async with asyncio.timeout(COLLECT_TIMEOUT):
                model = await asyncio.wrap_future(future)
        finally:
            future.cancel()
        role = _role(self._daemon, health)
        return model if model.role is not None or role is None else replace(model, role=role)

    def _ahead(self, query: Query) -> Ahead:
        index = self._cache.get(self._daemon.engine.windows)  # replaced, never mutated
        return upcoming(self._daemon, index, self._daemon.clock.wall(), query)

    async def _collect(self, query: Query, ahead: Ahead, problems: Sequence[str]) -> PageModel:
        now = self._daemon.clock.wall()
        return collect(self._daemon, now, query, self.context, ahead, problems)

    async def _html(self, request: web.Request) -> web.Response:
        return await self._answer(request, render.html, "text/html")

    async def _json(self, request: web.Request) -> web.Response:
        return await self._answer(request, render.as_json, "application/json")

    async def _answer(
        self, request: web.Request, fmt: Callable[[PageModel], str], content_type: str
    ) -> web.Response:
        try:
            body = fmt(await self.model(Query.parse(request.query)))
            status = 200
        except TimeoutError:
            status, content_type = 503, "text/plain"
            body = "liverecd: the daemon's event loop did not answer; see /healthz\n"
        return web.Response(
            text=body, status=status, content_type=content_type, charset="utf-8",
            headers=render.HEADERS,
        )  # fmt: skip


def _role(daemon: Daemon, health: Mapping[str, Any]) -> Role | None:
    """A cluster member's role (DESIGN §9, §11) as its /healthz states it; None without HA."""
    database, role, epoch = daemon.config.database, health.get("role"), health.get("epoch")
    if database is None or role is None:
        return None
    differs = [str(m) for m in health.get("timetable_differs") or ()]
    detail = f"members run different timetables: {', '.join(differs)}" if differs else None
    return Role(role=str(role), cluster=database.cluster,
                epoch=epoch if isinstance(epoch, int) else None, detail=detail)  # fmt: skip
