"""The vocabulary shared by schedules, the engine and the API client: streams and commands."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True, order=True)
class StreamKey:
    """One live stream as the API names it: DomainName/AppName/StreamName."""

    domain: str
    app: str
    stream: str

    def __str__(self) -> str:
        return f"{self.domain}/{self.app}/{self.stream}"

    @classmethod
    def parse(cls, text: str) -> StreamKey:
        """Parse `DOMAIN/APP/STREAM`; raise ValueError otherwise."""
        parts = text.split("/")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ValueError(f"expected DOMAIN/APP/STREAM, got {text!r}")
        return cls(parts[0], parts[1], parts[2])


class Command(StrEnum):
    """RealTimeRecordCommand's `Command` values."""

    START = "start"
    STOP = "stop"
    CANCEL_DELAY = "cancel_delay"
    RESTART = "restart"

    @property
    def rank(self) -> int:
        """Dispatch class when several are due together: a late start loses content, a late
        stop only costs money, so starts (and restarts, which open windows) go first."""
        return _RANK[self]


_RANK = {Command.START: 0, Command.RESTART: 0, Command.STOP: 1, Command.CANCEL_DELAY: 2}
