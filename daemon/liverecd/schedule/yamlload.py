"""Safe YAML with line and column marks, read the YAML 1.2 way.

PyYAML composes the file into nodes (its C parser when available); we build the values ourselves
so that every value keeps its 1-based line and column, duplicate keys and unknown tags are
caught, and YAML 1.1's surprises cannot change a value's meaning silently: only `true`/`false`
are booleans, `10:30` and `2026-12-25` stay strings, `yes`/`no`/`on`/`off` stay strings.

Whole-file failures (too large, binary, not UTF-8, YAML syntax, empty) raise `ConfigError`;
findings inside a readable document (duplicate keys, tags) are returned as problems so that the
caller can report them together with its own.
"""

from __future__ import annotations

import gc
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from liverecd.errors import ConfigError, Problem
from liverecd.schedule.lines import first_mask, line_at_byte, mask_breaks, position
from liverecd.schedule.yamlbuild import CORE, PLAIN_TAG, STR_TAG, build_document
from liverecd.schedule.yamlevents import build_plain
from liverecd.schedule.ynodes import YMap, YNode, YScalar, YSeq, resolve_plain, to_python

__all__ = [
    "MAX_BYTES",
    "YMap",
    "YNode",
    "YScalar",
    "YSeq",
    "YamlDoc",
    "file_digest",
    "gc_paused",
    "load_yaml",
    "resolve_plain",
    "to_python",
]

MAX_BYTES = 10 * 1024 * 1024

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Composes only; our resolver marks plain scalars instead of applying YAML 1.1 rules."""

    def resolve(self, kind: type[Node], value: object, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else STR_TAG
        return CORE + ("map" if kind is MappingNode else "seq")


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed document: its root and the non-fatal problems found while building it."""

    root: YNode
    problems: tuple[Problem, ...]
    digest: str  # of the file's bytes, see `file_digest`


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic trees.

    Loading allocates hundreds of thousands of small objects and no cycles; each collection
    would walk every object built so far, which more than doubles the load time at scale.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_yaml(path: Path, display: str) -> YamlDoc:
    """Read `path` and build its single document; raise ConfigError for whole-file failures."""
    data = _read_bounded(path, display)
    text, masked = mask_breaks(_decode(data, display))
    with gc_paused():
        plain = _build_plain(text, masked)
    if plain is not None:
        return YamlDoc(plain, (), _digest(data))
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(exc, display, text)]) from None
    except yaml.YAMLError as exc:  # ReaderError: a control character the decoder let through
        raise ConfigError([_reader_problem(exc, display, text)]) from None
    except RecursionError:  # the pure-Python composer on deep nesting
        raise ConfigError([Problem(display, None, None, "nesting is too deep")]) from None
    if node is None or (isinstance(node, ScalarNode) and node.tag == PLAIN_TAG and not node.value):
        raise ConfigError([Problem(display, None, None, "empty file (a truncated save?)")])
    # Without an `&` there is no anchor, hence no alias: the build may skip alias bookkeeping.
    with gc_paused():
        root, problems = build_document(node, display, has_anchors="&" in text, masked=masked)
    return YamlDoc(root, tuple(problems), _digest(data))


def _build_plain(text: str, masked: bool) -> YNode | None:
    loader = _Loader(text)
    try:
        return build_plain(loader, masked=masked)
    finally:
        loader.dispose()


def file_digest(path: Path) -> str | None:
    """The digest `load_yaml` would record for `path` now, or None if it cannot be read."""
    try:
        return _digest(_read_bounded(path, str(path)))
    except ConfigError:
        return None


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _read_bounded(path: Path, display: str) -> bytes:
    def fail(message: str) -> ConfigError:
        return ConfigError([Problem(display, None, None, message)])

    try:
        # Not blocking: opening a FIFO would wait for a writer (a reload, or the event loop
        # reading the main config, would hang). Only a regular file is read, and one byte past
        # the limit instead of trusting stat: a growing file must not make us read without bound.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            kind = os.fstat(fd).st_mode
            if stat.S_ISDIR(kind):
                raise fail("is a directory, not a YAML file")
            if not stat.S_ISREG(kind):
                raise fail("is not a regular file (a FIFO, socket or device), not a YAML file")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(MAX_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise fail("file is larger than 10 MB")
    return data


def _decode(data: bytes, display: str) -> str:
    def fail(message: str) -> ConfigError:
        return ConfigError([Problem(display, None, None, message)])

    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail("file is UTF-16 text; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise fail(f"binary file (NUL byte at byte offset {nul}), not YAML text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = line_at_byte(data, exc.start)
        bad = data[exc.start : exc.start + 1].hex()
        raise fail(
            f"not UTF-8 text: invalid byte 0x{bad} at line {line} (byte offset {exc.start}); "
            "save the file as UTF-8"
        ) from None
    clash = first_mask(text)
    if clash >= 0:
        line, col = position(text, clash)
        what = f"U+{ord(text[clash]):04X} is a Unicode noncharacter, not text"
        raise ConfigError([Problem(display, line, col, what)])
    return text


def _syntax_problem(exc: yaml.MarkedYAMLError, display: str, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    if "alias" in (exc.context or "") and exc.context_mark is not None:
        mark = exc.context_mark  # point at the `*` itself, not at the character after it
    context, problem = exc.context or "", exc.problem or ""
    glue = ", " if problem.startswith("but ") else ": "
    message = glue.join(p for p in (context, problem) if p) or "invalid YAML"
    message = f"YAML syntax error: {message}"
    if mark is None:
        return Problem(display, None, None, message)
    hint = _syntax_hint(exc, text, mark.index)
    return Problem(display, mark.line + 1, mark.column + 1, message + hint)


def _syntax_hint(exc: yaml.MarkedYAMLError, text: str, index: int) -> str:
    char = text[index] if 0 <= index < len(text) else ""
    context = exc.context or ""
    problem = exc.problem or ""
    if "alias" in context:
        return ' (a value starting with * must be quoted, e.g. cron: "*/15 * * * *")'
    if "cannot start any token" in problem and char == "\t":
        return " (indent with spaces, not tabs)"
    if "cannot start any token" in problem and char in "@`":
        return f" (a value starting with {char} must be quoted)"
    if "mapping values are not allowed" in problem:
        return ' (quote a value that contains ": ")'
    return ""


def _reader_problem(exc: yaml.YAMLError, display: str, text: str) -> Problem:
    """A ReaderError has no mark, only an offset: turn it into the editor's line and column."""
    offset = getattr(exc, "position", None)
    character = getattr(exc, "character", None)
    line = col = None
    if isinstance(offset, int):
        # libyaml reports a byte offset into the UTF-8 text, PyYAML's reader a character index.
        index = offset if _BaseLoader is yaml.SafeLoader else _char_index(text, offset)
        line, col = position(text, index)
    code = f" #x{character:04x}" if isinstance(character, int) else ""
    message = f"unacceptable character{code}: control characters are not allowed in YAML"
    return Problem(display, line, col, message)


def _char_index(text: str, byte_offset: int) -> int:
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))
