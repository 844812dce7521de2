"""Reloading the main config (DESIGN.md §12): what changes in place, what waits for a restart.

On SIGHUP or a write to `liverecd.yaml` the file is read again. Keys that can change in place
take their new values (`IN_PLACE`, and each account's limits); any other changed key is named in
one `config_restart_needed` warning and keeps its running value. A file that does not load is
one error-level `config_invalid` event, and the last good config stays in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import structlog

from liverecd.config import AccountConfig, ApiConfig, Config, VerifyConfig
from liverecd.errors import ConfigError
from liverecd.schedule.config import load_config

log = structlog.get_logger(__name__)

# Keys applied without a restart. The others wait for one: what binds a socket, opens a file
# or identifies an account (listen addresses, state_dir, database, endpoints, credentials),
# api.retry and api.signature (read as the clients are built), and verify.enabled (it decides
# at start whether the verifier exists at all).
IN_PLACE = frozenset({
    "schedules", "horizon", "log.level", "api.qps", "api.timeout", "max_lead", "watch.interval",
    "verify.grace", "verify.min_coverage", "verify.confirm", "verify.qps", "missing_file_grace",
})  # fmt: skip
_VERIFY_IN_PLACE = ("grace", "min_coverage", "confirm", "qps")
_ACCOUNT_IN_PLACE = ("qps", "timeout")


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """The config to run with now, and the keys that changed (applied, or waiting)."""

    config: Config
    applied: tuple[str, ...]
    restart_needed: tuple[str, ...]


def _flat(config: Config) -> dict[str, object]:
    out: dict[str, object] = {
        "schedules": config.schedules,
        "state_dir": config.state_dir,
        "max_lead": config.max_lead,
        "horizon": config.horizon,
        "missing_file_grace": config.missing_file_grace,  # read at each schedule load
        "log.format": config.log.format,
        "log.level": config.log.level,
        "status.listen": config.status.listen,
        "watch.interval": config.watch.interval,
        "watch.callback_listen": config.watch.callback_listen,
        "database": config.database,
    }
    out.update({f"api.{f.name}": getattr(config.api, f.name) for f in fields(ApiConfig)})
    out.update({f"verify.{f.name}": getattr(config.verify, f.name) for f in fields(VerifyConfig)})
    for account in config.accounts:
        base = f"accounts.{account.name}"
        out[base] = True  # added or removed accounts show as this key
        out[f"{base}.profile"] = account.profile
        out[f"{base}.credentials_prefix"] = account.credentials_prefix
        out.update({f"{base}.{f.name}": getattr(account.api, f.name) for f in fields(ApiConfig)})
    return out


def _in_place(key: str, kept_accounts: set[str]) -> bool:
    """`kept_accounts`: in both configs (an added or removed account waits for a restart)."""
    if key in IN_PLACE:
        return True
    parts = key.split(".")
    return (
        len(parts) == 3
        and parts[0] == "accounts"
        and parts[1] in kept_accounts
        and parts[2] in _ACCOUNT_IN_PLACE
    )


def _limits(running: ApiConfig, new: ApiConfig) -> ApiConfig:
    return replace(running, qps=new.qps, timeout=new.timeout)


def diff_config(running: Config, new: Config) -> ConfigChange:
    """What of `new` applies to a daemon running `running`, and what needs a restart."""
    before, after = _flat(running), _flat(new)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    by_name = {a.name: a for a in new.accounts}
    kept = {a.name for a in running.accounts} & set(by_name)
    applied = tuple(k for k in changed if _in_place(k, kept))
    waiting = tuple(k for k in changed if not _in_place(k, kept))
    accounts: list[AccountConfig] = [
        replace(a, api=_limits(a.api, by_name[a.name].api)) if a.name in by_name else a
        for a in running.accounts
    ]
    config = replace(
        running,
        schedules=new.schedules,
        schedule_sources=new.schedule_sources,
        horizon=new.horizon,
        missing_file_grace=new.missing_file_grace,
        max_lead=new.max_lead,
        log=replace(running.log, level=new.log.level),
        watch=replace(running.watch, interval=new.watch.interval),
        verify=replace(running.verify, **{k: getattr(new.verify, k) for k in _VERIFY_IN_PLACE}),
        api=_limits(running.api, new.api),
        accounts=tuple(accounts),
    )
    return ConfigChange(config, applied, waiting)


class ConfigReloader:
    """Called by the daemon's reload path with the running config; returns the one to use.
    `apply_limits(config)` hands new qps and timeouts to the clients and limiters; the daemon
    hands what else changes in place to the engine and its companions (`Daemon._use`)."""

    def __init__(self, apply_limits: Callable[[Config], None]) -> None:
        self._apply_limits = apply_limits
        self.problems: tuple[str, ...] = ()  # of the last read; /healthz shows them
        # The keys a restart would take: the running values stay, so every later reload finds
        # them changed again; they are said once, and again only when they change.
        self._waiting: tuple[str, ...] = ()

    def __call__(self, running: Config) -> Config:
        """Re-read `running.path`; never raises for a bad file (it is logged)."""
        try:
            new = load_config(running.path)
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
        else:
            problems = []
        self.problems = tuple(problems)
        if problems:
            log.error("config_invalid", file=str(running.path), kept="last good config",
                      errors=problems)  # fmt: skip
            return running
        change = diff_config(running, new)
        if change.restart_needed and tuple(change.restart_needed) != self._waiting:
            log.warning("config_restart_needed", keys=list(change.restart_needed))
        self._waiting = tuple(change.restart_needed)
        if change.applied:
            self._apply_limits(change.config)
            _set_level(change.config.log.level)
            log.info("config_reloaded", keys=list(change.applied))
        return change.config


def _set_level(name: str) -> None:
    level = logging.getLevelNamesMapping()[name.upper()]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
    logging.getLogger().setLevel(level)
