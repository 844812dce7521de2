"""The main config file (`liverecd.yaml`, DESIGN.md §3) into a validated `Config`.

Every section is optional except `schedules`; missing keys take the defaults of `model.py`.
Project extensions beyond DESIGN.md §3: `api.connect_timeout`, `api.retry`, `horizon`, and
`off` (or null) for `status.listen` / `watch.callback_listen` / `verify.callback_listen`;
`database` is DESIGN §9.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from liverecd.config import (
    DEFAULT_ACCOUNT,
    AccountConfig,
    ApiConfig,
    Config,
    DatabaseConfig,
    ListenAddress,
    LogConfig,
    RetryConfig,
    Source,
    StatusConfig,
    VerifyConfig,
    WatchConfig,
)
from liverecd.errors import ConfigError
from liverecd.net import is_loopback
from liverecd.schedule.fields import Reader, display_path, join, kind_of
from liverecd.schedule.yamlload import YMap, YNode, YScalar, load_yaml

_Field = Callable[[Reader, YNode, str], Any]
MAX_HORIZON = timedelta(days=7)
_OFF = object()  # a listen address turned off: distinct from None, which means "invalid"


def load_config(path: str | Path, *, display_base: Path | None = None) -> Config:
    """Read and validate the main config; raise ConfigError listing every problem."""
    absolute = Path(path).absolute()
    display = display_path(absolute, display_base)
    doc = load_yaml(absolute, display)
    reader = Reader(display)
    reader.extend(doc.problems)
    root = reader.mapping(doc.root, "", _TOP_FIELDS)
    values: dict[str, Any] = {}
    if root is not None:
        if "schedules" not in root.entries:
            reader.report(root, "", "missing required key 'schedules' (a list of globs)")
        values = _read_fields(reader, root.entries, "", _TOP_FIELDS)
    if reader.failed:
        raise ConfigError(sorted(reader.problems, key=lambda p: (p.line or 0, p.col or 0)))
    globs: tuple[tuple[str, Source], ...] = values.pop("schedules", ())
    state_dir: Path = values.pop("state_dir", Path("/var/lib/liverecd"))
    api: ApiConfig = values.get("api", ApiConfig())
    values["accounts"] = tuple(
        dataclasses.replace(a, api=dataclasses.replace(api, **overrides))
        for a, overrides in values.get("accounts", ())
    )
    return Config(
        path=absolute,
        schedules=tuple(g for g, _ in globs),
        schedule_sources=tuple(s for _, s in globs),
        state_dir=state_dir if state_dir.is_absolute() else absolute.parent / state_dir,
        source=Source(display, 1, 1),
        **values,
    )


def _read_fields(
    reader: Reader, entries: Mapping[str, YNode], path: str, fields: Mapping[str, _Field]
) -> dict[str, Any]:
    """Read each known key present; invalid values are left out (the problem is recorded)."""
    values: dict[str, Any] = {}
    for key, node in entries.items():
        read = fields.get(key)
        if read is None:
            continue  # already reported as unknown
        value = read(reader, node, join(path, key))
        if value is not None:
            values[key] = None if value is _OFF else value
    return values


def _section(cls: Callable[..., Any], fields: Mapping[str, _Field], required: str = "") -> _Field:
    def read(reader: Reader, node: YNode, path: str) -> Any:
        mapping = reader.mapping(node, path, fields)
        if mapping is None:
            return None
        if required and required not in mapping.entries:
            reader.report(node, path, f"missing required key {required!r}")
        values = _read_fields(reader, mapping.entries, path, fields)
        return None if required and required not in values else cls(**values)

    return read


def _checked(read: _Field, valid: Callable[[Any], bool], expected: str) -> _Field:
    """`read`, reporting a value `valid` refuses as `expected` ({kind}, {value}: what was found)."""

    def check(reader: Reader, node: YNode, path: str) -> Any:
        value = read(reader, node, path)
        if value is not None and not valid(value):
            reader.report(node, path, expected.format(kind=kind_of(node), value=value))
            return None
        return value

    return check


def _endpoint(reader: Reader, node: YNode, path: str) -> str | None:
    text = reader.string(node, path)
    if text is None:
        return None
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        reader.report(node, path, "is not a valid URL")
        return None
    problem = None
    if parts.username or parts.password:
        problem = "credentials never go in the endpoint URL"
    elif parts.scheme not in ("http", "https") or not host:
        problem = "expected a URL such as https://live.aliyuncs.com"
    elif parts.scheme == "http" and not is_loopback(host):
        problem = "http:// is allowed for loopback hosts only; use https://"
    elif parts.query or parts.fragment:
        problem = "must not have a query or fragment"
    if problem:
        reader.report(node, path, problem)
        return None
    return text.strip().rstrip("/")


def _database_url(reader: Reader, node: YNode, path: str) -> tuple[str, Source] | None:
    text = reader.string(node, path)
    if text is None:
        return None
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        reader.report(node, path, "is not a valid URL")
        return None
    problem = None
    if parts.password is not None:
        problem = ("no password in the URL: use PGPASSWORD, ~/.pgpass (PGPASSFILE) or the"
                   " credential file database_password")  # fmt: skip
    elif parts.scheme not in ("postgresql", "postgres"):
        problem = "expected a URL such as postgresql://liverecd@db:5432/liverecd"
    if problem:
        reader.report(node, path, problem)
        return None
    return text.strip(), Source(reader.file, node.line, node.col)


def _listen(reader: Reader, node: YNode, path: str) -> object:
    if isinstance(node, YScalar) and (node.value in (None, "off") or node.value is False):
        return _OFF
    text = reader.string(node, path)
    if text is None:
        return None
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # an IPv6 address needs brackets: [::1]:9325
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        why = f"expected HOST:PORT such as 127.0.0.1:9325 or [::1]:9325, or off; got {text!r}"
        reader.report(node, path, why)
        return None
    return ListenAddress(host, int(port))


def _schedules(reader: Reader, node: YNode, path: str) -> tuple[tuple[str, Source], ...] | None:
    items: tuple[YNode, ...] | None = (node,)
    if not (isinstance(node, YScalar) and isinstance(node.value, str)):
        items = reader.sequence(node, path)
    if items is None:
        return None
    globs = []
    for i, item in enumerate(items):
        text = reader.string(item, join(path, i))
        if text is not None:
            globs.append((text.strip(), Source(reader.file, item.line, item.col)))
    return tuple(globs)


def _state_dir(reader: Reader, node: YNode, path: str) -> Path | None:
    text = reader.string(node, path)
    return None if text is None else Path(text.strip()).expanduser()


_RETRY_FIELDS: dict[str, _Field] = {
    "base": partial(Reader.duration, positive=True),
    "cap": partial(Reader.duration, positive=True),
    "max_attempts": partial(Reader.number, positive=True, integer=True),
    "wait_for_stream_cap": partial(Reader.duration, positive=True),
    "stop_cap": partial(Reader.duration, positive=True),
}
_API_FIELDS: dict[str, _Field] = {
    "endpoint": _endpoint,
    "region": _checked(
        Reader.string,
        lambda text: text.replace("-", "").isalnum(),
        "expected a region id such as cn-shanghai, got {kind}",
    ),
    "signature": partial(Reader.choice, choices=("v3", "v1")),
    "qps": partial(Reader.number, positive=True),
    "timeout": partial(Reader.duration, positive=True),
    "connect_timeout": partial(Reader.duration, positive=True),
    "retry": _section(RetryConfig, _RETRY_FIELDS),
}
_LOG_FIELDS: dict[str, _Field] = {
    "format": partial(Reader.choice, choices=("json", "console")),
    "level": partial(Reader.choice, choices=("debug", "info", "warning", "error")),
}
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ACCOUNT_API = ("endpoint", "region", "signature", "qps", "timeout", "connect_timeout")
_ACCOUNT_FIELDS: dict[str, _Field] = {
    "profile": Reader.string,
    "credentials_prefix": Reader.string,
    **{key: _API_FIELDS[key] for key in _ACCOUNT_API},
}


def _accounts(
    reader: Reader, node: YNode, path: str
) -> tuple[tuple[AccountConfig, dict[str, Any]], ...] | None:
    """`accounts:` as (account, its api overrides) pairs; the api block is applied later."""
    if not isinstance(node, YMap):
        reader.report(node, path, f"expected a mapping of account names, got {kind_of(node)}")
        return None
    found = []
    for name, body in node.entries.items():
        where = join(path, name)
        if name == DEFAULT_ACCOUNT or not _ACCOUNT_NAME.fullmatch(name):
            why = "is the api block's account" if name == DEFAULT_ACCOUNT else "is not a valid name"
            reader.report(node.key(name), where, f"{name!r} {why} (use letters, digits, _ or -)")
            continue
        entry = reader.mapping(body, where, _ACCOUNT_FIELDS)
        if entry is None:
            continue
        values = _read_fields(reader, entry.entries, where, _ACCOUNT_FIELDS)
        profile, prefix = values.pop("profile", None), values.pop("credentials_prefix", None)
        if (profile is None) == (prefix is None):
            reader.report(entry, where, "needs exactly one of profile, credentials_prefix")
            continue
        source = Source(reader.file, entry.line, entry.col)
        found.append((AccountConfig(name, ApiConfig(), profile, prefix, source), values))
    return tuple(found)


_VERIFY_FIELDS: dict[str, _Field] = {
    "enabled": Reader.boolean,
    "grace": Reader.duration,
    "min_coverage": _checked(
        Reader.number, lambda v: 0 <= v <= 1, "expected a ratio between 0 and 1, got {value}"
    ),
    "qps": partial(Reader.number, positive=True),
    "callback_listen": _listen,
    "callback_host": Reader.string,
    "confirm": partial(Reader.duration, positive=True),
}
_DATABASE_FIELDS: dict[str, _Field] = {
    "url": _database_url,
    "cluster": _checked(
        Reader.string,
        lambda text: 0 < len(text) <= 63 and text.replace("-", "").isalnum(),
        "expected a short name of letters, digits and '-'",
    ),
    # Under 3 s a busy database's hiccup would cost the lease; over a minute, failover is slow.
    "lease": partial(Reader.duration, minimum=timedelta(seconds=3), maximum=timedelta(minutes=1)),
}
_TOP_FIELDS: dict[str, _Field] = {
    # `url` comes with where it is written, for errors about reaching it
    "database": _section(
        lambda url, **rest: DatabaseConfig(url[0], source=url[1], **rest), _DATABASE_FIELDS, "url"
    ),
    "api": _section(ApiConfig, _API_FIELDS),
    "accounts": _accounts,
    "schedules": _schedules,
    "state_dir": _state_dir,
    "max_lead": partial(Reader.duration, maximum=timedelta(hours=1)),
    # At most a week (it rolls hourly): 3650d made a minute cron millions of windows, unending.
    "horizon": partial(Reader.duration, minimum=timedelta(hours=1), maximum=MAX_HORIZON),
    "missing_file_grace": partial(Reader.duration, maximum=timedelta(hours=1)),
    "log": _section(LogConfig, _LOG_FIELDS),
    "status": _section(StatusConfig, {"listen": _listen}),
    "watch": _section(WatchConfig, {"interval": Reader.duration, "callback_listen": _listen}),
    "verify": _section(VerifyConfig, _VERIFY_FIELDS),
}
