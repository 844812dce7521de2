"""`liverecd run` with a `database` block: the service as a cluster member.

`ops.service.serve()` hands over here once it has the API client and the limiter; this module
builds each period's daemon behind its sender gate, on its term store, and runs the member.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from liverecd.api.client import LiveClient
from liverecd.clock import Clock
from liverecd.config import Config
from liverecd.engine.daemon import Daemon
from liverecd.engine.observer import EngineObserver, Lifecycle
from liverecd.engine.timing import Pacer
from liverecd.ha.gate import SenderGate
from liverecd.ha.member import Member
from liverecd.ha.store import PASSWORD_FILE, TermStore
from liverecd.ops import logs

# A member waits this long for an opening intent to reach the shared database, then sends anyway:
# its lease gate still guards the send, and a database failing over must not cost the windows
# that open meanwhile (README "Two servers, one active": database outages).
INTENT_TIMEOUT = 0.5

if TYPE_CHECKING:
    from liverecd.ops.extension import Controlled, Extension


async def serve_member(
    config: Config,
    client: LiveClient,
    pacer: Pacer,
    *,
    clock: Clock,
    observer: EngineObserver | None,
    lifecycle: Lifecycle | None,
    extensions: Sequence[Extension],
    signals: bool,
    watch_files: bool,
    on_ready: Callable[[Daemon], None] | None,
    install: Callable[[Controlled], None],
    remove: Callable[[], None],
) -> int:
    """Run this process as a member of `config.database.cluster` until a stop request."""
    from liverecd.engine.observer import Quiet

    member = Member(config, clock=clock, lifecycle=lifecycle or Quiet(), observer=observer,
                    watch_files=watch_files)  # fmt: skip

    def build(gate: SenderGate, store: TermStore, role_lifecycle: Lifecycle) -> Daemon:
        return Daemon(
            config, sender=gate.sender(client.real_time_record_command), pacer=pacer,
            store=store, clock=clock, observer=observer, lifecycle=role_lifecycle,
            watch_files=watch_files, online_lister=gate.lister(client),
            status_extra=member.status, intent_timeout=INTENT_TIMEOUT,
        )  # fmt: skip

    if signals:
        install(member)
    try:
        return await member.serve(build, extensions, on_ready)
    finally:
        if signals:
            remove()


def register_password() -> None:
    """Keep the database password (credential file or PGPASSWORD) out of every log line."""
    logs.register_secret(os.environ.get("PGPASSWORD"))
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if folder and (Path(folder) / PASSWORD_FILE).is_file():
        logs.register_secret((Path(folder) / PASSWORD_FILE).read_text().strip())
