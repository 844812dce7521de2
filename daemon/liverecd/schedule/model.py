"""Parsed, validated config and schedules: frozen dataclasses that the rest of liverecd trusts.

Durations are `timedelta`; instants are aware UTC `datetime`; every node remembers where in
which YAML file it came from (`Source`), so later findings can point at the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from liverecd.errors import Problem
from liverecd.streams import StreamKey

__all__ = ["StreamKey"]  # re-exported: schedules name streams by it


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """A place in a YAML file (1-based line and column)."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Finalize(StrEnum):
    """How a window's recording is closed."""

    IMMEDIATE = "immediate"  # stop, then cancel_delay: the file appears at once
    DELAYED = "delayed"  # stop only: the file appears after the stream's delay


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A standard 5-field crontab expression, already expanded to value sets.

    Weekdays use crontab numbering: 0 = Sunday ... 6 = Saturday (7 is folded into 0).
    `dom_restricted`/`dow_restricted` record whether the field was something other than `*`:
    when both are restricted a day matches if EITHER matches (crontab's rule).
    """

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive range of local dates (in the file's zone) on which a stream does not record."""

    first: date
    last: date
    source: Source

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class OneOffWindow:
    """A single window between two instants (already resolved to UTC by the DST rule)."""

    start: datetime
    end: datetime
    source: Source
    pad_before: timedelta | None = None  # None: inherit the stream's
    pad_after: timedelta | None = None
    excepts: tuple[DateRange, ...] = ()


@dataclass(frozen=True, slots=True)
class CronWindow:
    """A recurring window: opens at each cron match (local time), lasts `duration` (elapsed)."""

    cron: CronSpec
    duration: timedelta
    source: Source
    pad_before: timedelta | None = None
    pad_after: timedelta | None = None
    excepts: tuple[DateRange, ...] = ()


Window = OneOffWindow | CronWindow


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream's settings and windows as written in one schedule file."""

    key: StreamKey
    source: Source
    timezone: ZoneInfo
    windows: tuple[Window, ...]
    finalize: Finalize = Finalize.IMMEDIATE
    delay: timedelta = timedelta(seconds=180)
    ingest_domain: str | None = None
    pad_before: timedelta = timedelta(0)
    pad_after: timedelta = timedelta(0)
    split: bool = False
    enabled: bool = True
    excepts: tuple[DateRange, ...] = ()
    account: str = "default"  # an account of the main config (DESIGN.md §10)
    account_source: Source | None = None  # where `account:` was written, for located errors


@dataclass(frozen=True, slots=True)
class ScheduleFile:
    """One schedule file, validated."""

    path: str
    timezone: ZoneInfo
    streams: tuple[Stream, ...]
    warnings: tuple[Problem, ...] = ()
    # Hash of the bytes it was read from: a reload skips files whose bytes did not change.
    digest: str = ""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Every schedule file in force. The same stream may appear in several files."""

    files: tuple[ScheduleFile, ...] = ()

    def streams(self) -> tuple[Stream, ...]:
        """Every stream entry of every file, in file order."""
        return tuple(s for f in self.files for s in f.streams)


# ---------------------------------------------------------------------------------------------
# Main config (liverecd.yaml)

# Where `-c` looks when it is not given: the unit's ConfigurationDirectory= (systemd/README.md).
DEFAULT_CONFIG = "/etc/liverecd/liverecd.yaml"
CONFIG_HELP = f"main config file (default: {DEFAULT_CONFIG})"


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """Backoff for transient failures: full jitter between 0 and min(cap, base * 2**attempt)."""

    base: timedelta = timedelta(milliseconds=200)
    cap: timedelta = timedelta(seconds=30)
    max_attempts: int = 8  # per command for starts and restarts; stops retry until they land
    wait_for_stream_cap: timedelta = timedelta(seconds=10)  # StreamNotFound on start (DESIGN §5)
    stop_cap: timedelta = timedelta(seconds=30)  # stop / cancel_delay (DESIGN §5)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """How to reach and pace the Live API."""

    endpoint: str = "https://live.aliyuncs.com"
    region: str = "cn-shanghai"
    signature: Literal["v3", "v1"] = "v3"
    qps: float = 50.0
    timeout: timedelta = timedelta(seconds=10)
    connect_timeout: timedelta = timedelta(seconds=5)
    retry: RetryConfig = field(default_factory=RetryConfig)


@dataclass(frozen=True, slots=True)
class LogConfig:
    format: Literal["json", "console"] = "json"
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class StatusConfig:
    listen: ListenAddress | None = ListenAddress("127.0.0.1", 9325)  # None: no endpoint


@dataclass(frozen=True, slots=True)
class WatchConfig:
    interval: timedelta = timedelta(seconds=10)  # 0 turns online-list polling off
    callback_listen: ListenAddress | None = None


DEFAULT_ACCOUNT = "default"  # the account of the `api` block


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One more Alibaba Cloud account (DESIGN.md §10): where its credentials come from
    (`profile` of the credentials file, or `credentials_prefix` of the files in
    `$CREDENTIALS_DIRECTORY`; neither for the default account) and its API settings, resolved
    over the `api` block's."""

    name: str
    api: ApiConfig
    profile: str | None = None
    credentials_prefix: str | None = None
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class VerifyConfig:
    """Proof of recording (DESIGN §8): when and how each ended window is checked."""

    enabled: bool = True
    grace: timedelta = timedelta(seconds=60)  # after a window's file is due
    min_coverage: float = 0.98
    qps: float = 15.0  # DescribeLiveStreamRecordIndexFiles calls/s per account (its limit)
    callback_listen: ListenAddress | None = None
    callback_host: str | None = None  # None: the host part of callback_listen
    confirm: timedelta = timedelta(seconds=20)


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """Shared state and the leader lease in PostgreSQL (DESIGN §9). `url` never holds a
    password: libpq's PGPASSWORD / ~/.pgpass, or the credential file `database_password`."""

    url: str
    cluster: str = "main"
    lease: timedelta = timedelta(seconds=6)
    source: Source | None = None  # where `url` is written, for errors about reaching it


@dataclass(frozen=True, slots=True)
class Config:
    """The main config file, validated. `path` is absolute; globs are relative to its folder."""

    path: Path
    api: ApiConfig = field(default_factory=ApiConfig)
    schedules: tuple[str, ...] = ()
    state_dir: Path = Path("/var/lib/liverecd")
    max_lead: timedelta = timedelta(seconds=60)
    horizon: timedelta = timedelta(hours=6)
    missing_file_grace: timedelta = timedelta(seconds=5)  # a vanished file's windows stay this long
    log: LogConfig = field(default_factory=LogConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    database: DatabaseConfig | None = None  # None: SQLite in state_dir, one daemon
    source: Source | None = None
    # Where each entry of `schedules` is written, in the same order (for "matches no file").
    schedule_sources: tuple[Source, ...] = ()
    accounts: tuple[AccountConfig, ...] = ()  # besides the default account (`api`)

    def account(self, name: str) -> AccountConfig:
        """The account called `name` (`default`: the `api` block's); KeyError when unknown."""
        if name == DEFAULT_ACCOUNT:
            return AccountConfig(DEFAULT_ACCOUNT, self.api)
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    @property
    def account_names(self) -> tuple[str, ...]:
        """Every account, the default first."""
        return (DEFAULT_ACCOUNT, *(a.name for a in self.accounts))
