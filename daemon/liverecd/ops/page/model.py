"""The status page's view model: plain frozen data, the same for `GET /` and `GET /api/status`.

Everything the page shows is here and nothing else is: the template and the JSON are two
renderings of one `PageModel`, so they cannot disagree. Instants are aware UTC datetimes
(JSON: ISO 8601 with `Z`); local times are derived for display only.

Sections whose feature is not in the daemon yet are `None` (absent from the page, `null` in the
JSON): `role` (high availability, DESIGN §9), `results` (verification, §8) and each account's
`credential_source`/`credential_expires_at` (§10). Whoever lands the feature fills them through
`collect.Feeds`; the page renders them as soon as they are not `None`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

SCHEMA_VERSION = 1
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """What the request asked for: `?stream=` (a substring of DOMAIN/APP/STREAM) and `?page=`
    (0-based, for the long lists: recordings now and next windows)."""

    stream: str = ""
    page: int = 0

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Query:
        """From query parameters; nonsense is ignored rather than refused (a read-only page)."""
        stream = params.get("stream", "")[:200]
        try:
            page = max(0, min(int(params.get("page", "0")), 1_000_000))
        except ValueError:
            page = 0
        return cls(stream=stream, page=page)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileProblem:
    """A problem of a schedule file, located as `FILE:LINE:COL`."""

    location: str
    severity: str  # error | warning
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Quota:
    """One API's budget on one account: calls in the last second against the limit."""

    api: str
    limit: float
    rate: float  # the current pace: below `limit` for a while after the API throttled us
    used_last_second: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An account the daemon calls the API with (never a key or secret)."""

    name: str
    region: str
    quotas: tuple[Quota, ...] = ()
    credential_source: str | None = None  # e.g. credentials_directory, environment, ecs_ram_role
    credential_expires_at: datetime | None = None  # STS credentials only


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """High availability (DESIGN §9): this daemon's role in its cluster."""

    role: str  # active | standby
    cluster: str
    epoch: int | None = None
    detail: str | None = None  # e.g. "members run different timetables"


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """A recording the daemon believes is running now."""

    stream: str
    window: str
    start: datetime
    end: datetime
    since: datetime | None  # when its opening command succeeded
    phase: str
    last_command: str | None
    last_outcome: str | None  # the settled reason of that command (succeeded, fatal...)
    source: str  # FILE:LINE of the window


@dataclass(frozen=True, slots=True, kw_only=True)
class Upcoming:
    """A window that has not opened yet."""

    stream: str
    window: str
    start: datetime
    end: datetime
    command: str  # start, or restart at a split boundary
    zone: str  # the schedule file's time zone, for the local times
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """An uncovered stretch of a verified window (DESIGN §8)."""

    start: datetime
    end: datetime
    cause: str  # absent | missed


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowResult:
    """A verified window (DESIGN §8): fed by the verifier when it exists."""

    stream: str
    window: str
    start: datetime
    end: datetime
    result: str  # ok | absent | gap | unverified | pending
    coverage: float | None
    gaps: tuple[Gap, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEntry:
    """A command that failed for good (fatal, retries exhausted, window closed first)."""

    time: datetime
    stream: str
    window: str
    command: str
    reason: str
    code: str | None
    request_id: str | None
    message: str | None  # the API's message: hostile text, escaped wherever it is shown


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing(Generic[T]):
    """One page of a long list: `items` from `offset`, out of `total`."""

    items: tuple[T, ...]
    total: int
    offset: int
    page_size: int

    @property
    def has_next(self) -> bool:
        """More items after this page."""
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True, slots=True, kw_only=True)
class PageModel:
    """Everything `GET /` shows and `GET /api/status` returns."""

    time: datetime
    version: str
    started_at: datetime
    healthy: bool
    problems: tuple[str, ...]  # why not healthy (empty when healthy)
    query: Query
    windows_total: int
    files_loaded: int
    file_problems: tuple[FileProblem, ...]
    accounts: tuple[Account, ...]
    recording: Listing[Recording]
    upcoming: Listing[Upcoming]
    errors: tuple[ErrorEntry, ...]
    role: Role | None = None
    results: tuple[WindowResult, ...] | None = None

    @property
    def uptime_seconds(self) -> float:
        """Seconds since the daemon started."""
        return (self.time - self.started_at).total_seconds()


def iso(when: datetime) -> str:
    """ISO 8601 UTC with `Z`, as every JSON time of liverecd."""
    return when.isoformat().replace("+00:00", "Z")


def to_json(value: Any) -> Any:
    """The model as JSON values: datetimes ISO 8601 UTC, listings as objects with `has_next`,
    plus `uptime_seconds` and `schema` on the root."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Gap):  # named as in `liverecd report`'s JSON (DESIGN §8)
        return {"from": iso(value.start), "to": iso(value.end), "cause": value.cause}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Listing):
            out["has_next"] = value.has_next
        if isinstance(value, PageModel):
            out = {"schema": SCHEMA_VERSION, **out, "uptime_seconds": value.uptime_seconds}
        return out
    return value
