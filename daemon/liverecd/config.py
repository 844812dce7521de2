"""The main config (`liverecd.yaml`), validated: frozen dataclasses that the daemon, the API
client and the command line trust. schedule/config.py parses the file into them.

Durations are `timedelta`; `Source` remembers where in which YAML file a value came from (the
schedules use it too), so later errors can point at the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """A place in a YAML file (1-based line and column)."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# Where the default account's keys and the notify key are read from (DESIGN.md §3): files in
# `$CREDENTIALS_DIRECTORY` (systemd LoadCredential= IDs), else these environment variables.
ENV_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name, not a secret
ENV_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105
ENV_NOTIFY_KEY = "LIVERECD_NOTIFY_AUTH_KEY"
FILE_KEY_ID = "access_key_id"
FILE_SECRET = "access_key_secret"  # noqa: S105
FILE_TOKEN = "security_token"  # noqa: S105
FILE_NOTIFY_KEY = "notify_auth_key"

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


class ConfigSource(Protocol):
    """Re-reads the main config on each reload (`ops.config_reload.ConfigReloader`)."""

    problems: tuple[str, ...]  # of the last read (FILE:LINE:COL: message); empty when it loaded

    def __call__(self, running: Config) -> Config:
        """The config to run with now (`running`, when the file does not load)."""
        ...
