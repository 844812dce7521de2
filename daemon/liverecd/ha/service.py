"""`liverecd run` with a `database` block: the service as a cluster member.

`ops.service.serve()` hands over here once it has the API client and the limiter; this module
builds each period's daemon behind its sender gate, on its term store, and runs the member.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from liverecd.api.accounts import Accounts
from liverecd.clock import Clock
from liverecd.config import Config, ListenAddress
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver, Lifecycle
from liverecd.engine.tasks import TaskSet
from liverecd.engine.timetable import Timetable
from liverecd.ha.gate import SenderGate
from liverecd.ha.member import DuringTerm, Member
from liverecd.ha.store import PASSWORD_FILE, DatabaseError, TermStore
from liverecd.ops import logs
from liverecd.ops.config_reload import ConfigReloader
from liverecd.ops.extension import listeners_of, status_page
from liverecd.ops.metrics import Metrics
from liverecd.verify.service import VerifyExtension, verify_extensions

log = structlog.get_logger(__name__)

# A member waits this long for an opening intent to reach the shared database, then sends anyway:
# its lease gate still guards the send, and a database failing over must not cost the windows
# that open meanwhile (README "Two servers, one active": database outages).
INTENT_TIMEOUT = 0.5

if TYPE_CHECKING:
    from liverecd.ops.extension import Controlled, Extension


async def serve_member(
    config: Config, accounts: Accounts, *, clock: Clock, observer: EngineObserver | None,
    lifecycle: Lifecycle | None, extensions: Sequence[Extension], signals: bool,
    watch_files: bool, on_ready: Callable[[Daemon], None] | None,
    install: Callable[[Controlled], None], remove: Callable[[], None], timetable: Timetable,
    status: ListenAddress | None = None,
) -> int:  # fmt: skip
    """Run this process as a member of `config.database.cluster` until a stop request."""
    from liverecd.engine.observer import Quiet

    client = accounts.default_client  # verification reads the default account's index
    verifiers: list[VerifyExtension] = []  # those of the period's daemon (one at a time)
    extensions = [*extensions, *status_page(status, observer, accounts, verifiers)]
    member = Member(config, clock=clock, lifecycle=lifecycle or Quiet(), observer=observer,
                    watch_files=watch_files, during_term=_verification(verifiers))  # fmt: skip
    if isinstance(observer, Metrics):
        observer.track_credentials(accounts.expiry_seconds)

    def build(
        gate: SenderGate, store: TermStore, role_lifecycle: Lifecycle, tasks: TaskSet
    ) -> Daemon:
        term = verify_extensions(
            config, client, clock, observer, store=store, caller=gate.caller(client)
        )
        daemon = Daemon(
            config, sender=gate.sender(accounts.send), pacer=accounts.pacer, store=store,
            clock=clock, observer=observer, lifecycle=role_lifecycle, watch_files=watch_files,
            online_lister=gate.lister(accounts), status_extra=member.status,
            reload_config=ConfigReloader(accounts.apply), intent_timeout=INTENT_TIMEOUT,
            tasks=tasks, listeners=listeners_of([*extensions, *term]),
            timetable=timetable,  # each term loads it again; the accounts route by it
        )  # fmt: skip
        verifiers[:] = term  # a standby period's, never started, go
        return daemon

    if signals:
        install(member)
    try:
        # The accounts' credential refresh runs in every period, standby ones included: a
        # standby taking over must not start with expired STS keys.
        return await member.serve(build, [accounts, *extensions], on_ready)
    finally:
        if signals:
            remove()


def _verification(verifiers: list[VerifyExtension]) -> DuringTerm:
    """Verification for the active only, on the shared tables: a term resumes the checks the
    previous active owed (DESIGN §8, §9), and a standby sends no index read. The term's
    extensions were built with its daemon (they hear its settled commands)."""

    @contextlib.asynccontextmanager
    async def during(daemon: Daemon, epoch: int, tasks: TaskSet) -> AsyncIterator[None]:
        started, scope = [], tasks.scope()
        try:
            for ext in verifiers:
                try:
                    await ext.start(daemon)  # before the takeover reconcile settles anything
                except DatabaseError as exc:  # the term goes on: commands matter more
                    log.error("verify_unavailable", error=str(exc), epoch=epoch)  # noqa: TRY400
                    continue
                started.append(ext)
                scope.spawn(ext.run(), "verify")
            yield
        finally:
            await scope.close()
            for ext in reversed(started):
                await ext.close()

    return during


def register_password() -> None:
    """Keep the database password (credential file or PGPASSWORD) out of every log line."""
    logs.register_secret(os.environ.get("PGPASSWORD"))
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if folder and (Path(folder) / PASSWORD_FILE).is_file():
        logs.register_secret((Path(folder) / PASSWORD_FILE).read_text().strip())
