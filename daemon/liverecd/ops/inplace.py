"""The engine's side of a main-config reload (DESIGN.md §12): `max_lead`, `watch.interval` and
`verify` (grace, min_coverage, confirm, qps) take their new values in the running daemon.

`ops.config_reload` decides what may change in place; this hands it to the parts that read it:
the engine (alarms and the dispatcher's release plan), the online watch (its poll loop restarts
at the new interval; 0 turns it off), and the verifier beside the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from liverecd.config import Config
    from liverecd.engine.daemon import Daemon
    from liverecd.verify.service import VerifyExtension


def engine_settings(
    daemon: Daemon, verifiers: Sequence[VerifyExtension] = ()
) -> Callable[[Config], None]:
    """A `ConfigReloader.also` hook applying a reloaded config's engine settings to `daemon`
    (and to the verification extensions beside it)."""

    def apply(config: Config) -> None:
        daemon.engine.set_max_lead(config.max_lead)
        if daemon.watch_link is not None:
            daemon.watch_link.set_interval(config.watch.interval.total_seconds())
        for verifier in verifiers:
            verifier.reconfigure(config.verify)

    return apply
