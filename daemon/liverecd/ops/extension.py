"""What the service (ops/service.py) and the HA member (ha/) hold each other to: the
companions they start next to the daemon, and what the signal handlers drive. A module of its
own so ha/ can name them without importing the service that imports ha/."""

from __future__ import annotations

from typing import Protocol

from liverecd.engine.daemon import Daemon


class Extension(Protocol):
    """A long-lived companion of the daemon (status endpoint, watchdog...)."""

    async def start(self, daemon: Daemon) -> None:
        """Get ready; raise a LiverecdError to refuse (the service exits 1)."""
        ...

    async def run(self) -> None:
        """Serve until cancelled."""
        ...

    async def close(self) -> None:
        """Release what `start` took; idempotent."""
        ...


class Controlled(Protocol):
    """What the signal handlers drive: a Daemon, or an HA member."""

    def request_stop(self) -> None: ...

    def request_reload(self, trigger: str = "sighup") -> None: ...
