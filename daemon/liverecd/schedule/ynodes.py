"""YAML values that remember where they were written, read by the YAML 1.2 core schema.

Only `true`/`false` (any case) are booleans; `yes`/`no`/`on`/`off`, `10:30` and `2026-12-25`
stay strings, unlike YAML 1.1 (PyYAML's default), where they would silently become booleans,
the integer 630 and a `date`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from yaml import Mark

Value = str | int | float | bool | None


# Not frozen, and holding PyYAML's own mark objects rather than copies of line and column:
# a loaded file makes hundreds of thousands of these, and a frozen dataclass's __init__ is four
# times slower. Nothing mutates them after the builder returns.
@dataclass(slots=True)
class _Marked:
    mark: Mark  # PyYAML's, 0-based

    @property
    def line(self) -> int:
        """1-based line."""
        return int(self.mark.line) + 1

    @property
    def col(self) -> int:
        """1-based column."""
        return int(self.mark.column) + 1


@dataclass(slots=True)
class YScalar(_Marked):
    """A scalar, its core-schema value, its source text, and whether it was plain (unquoted)."""

    value: Value
    text: str
    plain: bool


@dataclass(slots=True)
class YMap(_Marked):
    """A mapping with string keys, in file order; `key(name)` gives a key's own place."""

    entries: dict[str, YNode]
    key_marks: dict[str, Mark]

    def key(self, name: str) -> YScalar:
        """The key `name` as a scalar, for messages that point at the key."""
        return YScalar(self.key_marks[name], name, name, True)


@dataclass(slots=True)
class YSeq(_Marked):
    items: tuple[YNode, ...]


YNode = YScalar | YMap | YSeq

# https://yaml.org/spec/1.2.2/#1032-tag-resolution, with booleans accepted in any case.
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_NUMBER = re.compile(
    r"(?P<int>[-+]?[0-9]+)"
    r"|0o(?P<oct>[0-7]+)"
    r"|0x(?P<hex>[0-9a-fA-F]+)"
    r"|(?P<float>[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)"
    r"|(?P<inf>[-+]?\.(inf|Inf|INF))"
    r"|(?P<nan>\.(nan|NaN|NAN))"
)
_MAYBE_NUMBER = frozenset("0123456789+-.")


@lru_cache(maxsize=1 << 14)  # durations, instants, booleans and zones repeat across windows
def resolve_plain(text: str) -> Value:
    """The YAML 1.2 core-schema value of a plain (unquoted, untagged) scalar."""
    first = text[:1]
    if first in _MAYBE_NUMBER and first:
        return _number(text)
    if text in _NULLS:
        return None
    lowered = text.lower() if len(text) in (4, 5) else ""
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def _number(text: str) -> Value:
    match = _NUMBER.fullmatch(text)
    if match is None:
        return text  # e.g. a duration such as 1h30m or an instant such as 2026-12-18T20:00
    kind = match.lastgroup
    if kind == "int":
        return int(text)
    if kind == "oct":
        return int(match["oct"], 8)
    if kind == "hex":
        return int(match["hex"], 16)
    if kind == "inf":
        return float("-inf") if text.startswith("-") else float("inf")
    if kind == "nan":
        return float("nan")
    return float(text)


def to_python(node: YNode) -> Any:
    """Plain Python data (dicts, lists, scalars) of a Y-node, e.g. for JSON Schema checks."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_python(item) for item in node.items]
    return {name: to_python(value) for name, value in node.entries.items()}
