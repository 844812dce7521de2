"""Typed field readers over marked YAML that collect problems instead of stopping at the first.

Shared by the main config and the schedule format. Each getter returns the value, or None after
recording a problem that names the field path (`streams[2].windows[0].cron`) at the value's
line and column. Checks common to every mapping live here too: unknown keys (with a
did-you-mean), credentials written into YAML, and YAML 1.1 spellings that YAML 1.2 reads as text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from liverecd.durations import format_duration, parse_duration
from liverecd.errors import Problem, Severity
from liverecd.schedule.yamlload import YMap, YNode, YScalar, YSeq

_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
_SEXAGESIMAL = re.compile(r"[-+]?\d+(:[0-5]?\d)+(\.\d*)?")
_CREDENTIAL_NAMES = {  # normalised key -> (file in $CREDENTIALS_DIRECTORY, variable)
    "accesskeyid": ("access_key_id", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
    "accesskeysecret": ("access_key_secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    "securitytoken": ("security_token", "ALIBABA_CLOUD_SECURITY_TOKEN"),
    "notifyauthkey": ("notify_auth_key", "LIVERECD_NOTIFY_AUTH_KEY"),
}


def join(path: str, key: str | int) -> str:
    """`streams` + 2 -> `streams[2]`; `streams[2]` + `name` -> `streams[2].name`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def kind_of(node: YNode) -> str:
    """How a value reads in a message: `a mapping`, `a list`, `boolean true`, `'abc'`."""
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    if node.value is None:
        return "nothing (an empty value)"
    if isinstance(node.value, bool):
        return f"boolean {node.text}"
    if isinstance(node.value, int | float):
        return f"number {node.text}"
    return repr(node.text)


def _credential_hint(key: str) -> str | None:
    """Where a credential-looking key really comes from, or None if it does not look like one."""
    norm = re.sub(r"[^a-z]", "", key.lower())
    if norm in _CREDENTIAL_NAMES:
        file, variable = _CREDENTIAL_NAMES[norm]
        return f"the file {file} in $CREDENTIALS_DIRECTORY or the variable {variable}"
    if any(word in norm for word in ("secret", "password", "token", "authkey", "credential")):
        return "files in $CREDENTIALS_DIRECTORY or environment variables"
    return None


@lru_cache(maxsize=4096)
def _cached_duration(text: str) -> timedelta:
    return parse_duration(text)


def display_path(path: Path, base: Path | None = None) -> str:
    """`path` as messages show it: relative to `base` (default: the working folder) when it
    lies below it, else absolute. Relative to `/` would only hide the leading slash."""
    base = Path.cwd() if base is None else base
    if base != Path(base.anchor):
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)


class Reader:
    """Reads fields of one file, collecting every problem with its place."""

    def __init__(self, display: str) -> None:
        self.file = display
        self.problems: list[Problem] = []
        self.error_count = 0

    @property
    def failed(self) -> bool:
        """True once any error (not a warning) was recorded."""
        return self.error_count > 0

    def extend(self, problems: Iterable[Problem]) -> None:
        """Adopt problems found elsewhere (e.g. while reading the YAML)."""
        for problem in problems:
            self.problems.append(problem)
            self.error_count += problem.severity == "error"

    def report(self, node: YNode, path: str, message: str, severity: Severity = "error") -> None:
        """Record a problem at `node`'s line and column, naming the field path."""
        text = f"{path}: {message}" if path else message
        self.problems.append(Problem(self.file, node.line, node.col, text, severity))
        self.error_count += severity == "error"

    def mapping(self, node: YNode, path: str, allowed: Collection[str]) -> YMap | None:
        """`node` as a mapping whose keys are all in `allowed`; each other key is a problem."""
        if not isinstance(node, YMap):
            self.report(node, path, f"expected a mapping, got {kind_of(node)}")
            return None
        for name in node.entries:
            if name not in allowed:
                self._unknown(node.key(name), path, name, allowed)
        return node

    def _unknown(self, key: YScalar, path: str, name: str, allowed: Collection[str]) -> None:
        where = _credential_hint(name)
        if where is not None:
            self.report(
                key,
                join(path, name),
                "credentials never go in YAML (this value was not read); "
                f"liverecd reads them from {where}",
            )
            return
        close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f"; known keys: {', '.join(sorted(allowed))}"
        )
        self.report(key, path, f"unknown key {name!r}{hint}")

    def required(self, node: YMap, key: str, path: str) -> YNode | None:
        """The value of a required key, or a problem at the mapping."""
        value = node.entries.get(key)
        if value is None:
            self.report(node, path, f"missing required key {key!r}")
        return value

    def string(self, node: YNode, path: str) -> str | None:
        """A non-empty string; plain numbers count as their text (a stream named `123`)."""
        if isinstance(node, YScalar) and isinstance(node.value, str | int | float):
            if isinstance(node.value, str) and not node.value.strip():
                self.report(node, path, "must not be empty")
                return None
            if not isinstance(node.value, bool):
                return node.text if isinstance(node.value, str) else node.text.strip()
        hint = "; quote it if you mean the text" if isinstance(node, YScalar) else ""
        self.report(node, path, f"expected a string, got {kind_of(node)}{hint}")
        return None

    def boolean(self, node: YNode, path: str) -> bool | None:
        """`true` or `false`; YAML 1.1's yes/no/on/off get a specific hint."""
        if isinstance(node, YScalar) and isinstance(node.value, bool):
            return node.value
        hint = ""
        if isinstance(node, YScalar) and node.text.lower() in _YAML11_BOOLS:
            hint = f" (liverecd reads YAML 1.2, where {node.text!r} is a string, not a boolean)"
        self.report(node, path, f"expected true or false, got {kind_of(node)}{hint}")
        return None

    def choice(self, node: YNode, path: str, choices: Collection[str]) -> str | None:
        """One of `choices` (exact spelling)."""
        if isinstance(node, YScalar) and isinstance(node.value, str) and node.value in choices:
            return node.value
        close = []
        if isinstance(node, YScalar):
            close = difflib.get_close_matches(node.text.lower(), list(choices), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        quoted = [repr(c) for c in choices]
        options = " or ".join(quoted) if len(quoted) <= 2 else "one of " + ", ".join(quoted)
        self.report(node, path, f"expected {options}, got {kind_of(node)}{hint}")
        return None

    def number(
        self, node: YNode, path: str, *, positive: bool = False, integer: bool = False
    ) -> float | None:
        """A finite number (a whole one when `integer`), greater than 0 when `positive`."""
        value = node.value if isinstance(node, YScalar) else None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and not isinstance(value, int))
            or value != value  # NaN
            or value in (float("inf"), float("-inf"))
        ):
            what = "a whole number" if integer else "a number"
            self.report(node, path, f"expected {what}, got {kind_of(node)}")
            return None
        if value < 0 or (positive and value == 0):
            bound = "greater than 0" if positive else "at least 0"
            self.report(node, path, f"must be {bound}, got {_text(node)}")
            return None
        return value if integer else float(value)

    def duration(
        self,
        node: YNode,
        path: str,
        *,
        minimum: timedelta = timedelta(0),
        positive: bool = False,
        maximum: timedelta | None = None,
    ) -> timedelta | None:
        """A duration (`90s`, `1h30m`, plain seconds) within the bounds given."""
        value = self._duration_value(node, path)
        if value is None:
            return None
        if positive and value <= timedelta(0):
            self.report(node, path, f"must be longer than 0s, got {_text(node)}")
        elif value < minimum:
            self.report(
                node, path, f"must be at least {format_duration(minimum)}, got {_text(node)}"
            )
        elif maximum is not None and value > maximum:
            self.report(
                node, path, f"must be at most {format_duration(maximum)}, got {_text(node)}"
            )
        else:
            return value
        return None

    def _duration_value(self, node: YNode, path: str) -> timedelta | None:
        if not isinstance(node, YScalar):
            self.report(
                node, path, f"expected a duration such as 90s, 15m or 1h30m, got {kind_of(node)}"
            )
            return None
        if node.plain and _SEXAGESIMAL.fullmatch(node.text):
            self.report(
                node,
                path,
                f"{node.text!r} is not a duration (YAML 1.1 would read it as base-60 "
                f"seconds); write it with units, e.g. {_units_hint(node.text)}",
            )
            return None
        try:
            if isinstance(node.value, str):
                return _cached_duration(node.value)
            return parse_duration(node.value)
        except ValueError as exc:
            self.report(node, path, str(exc))
            return None

    def sequence(self, node: YNode, path: str) -> tuple[YNode, ...] | None:
        """A list; an empty value is not one (write `[]`)."""
        if isinstance(node, YSeq):
            return node.items
        hint = (
            "; write [] for an empty list"
            if isinstance(node, YScalar) and node.value is None
            else ""
        )
        self.report(node, path, f"expected a list, got {kind_of(node)}{hint}")
        return None


def _text(node: YNode) -> str:
    return node.text if isinstance(node, YScalar) else kind_of(node)


def _units_hint(text: str) -> str:
    parts = text.lstrip("+-").split(":")
    if len(parts) == 2:
        return f"{int(parts[0])}h{int(parts[1])}m or {int(parts[0])}m{int(parts[1])}s"
    return "1h30m"
