"""Telling the daemon that a schedule file changed, without polling.

On Linux the kernel's inotify says so: the descriptor sits in the event loop's selector, so an
idle daemon does not wake up at all and a change is seen within milliseconds. watchfiles (the
declared dependency) is the fallback elsewhere; its Rust loop wakes every `step` (default 50 ms,
20 wake-ups a second, measured), which is why it is not the first choice for a process that
should sleep for hours between two recordings.

Directories are watched, not files: editors save by writing a temporary file and renaming it
over the old one, which replaces the inode a file watch would follow. Events whose name matches
no schedule glob (editor swap files) are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import fnmatch
import os
import struct
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

RETRY = 30.0  # seconds between tries to get an inotify instance
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ISDIR = 0x40000000
IN_ONLYDIR = 0x01000000
_MASK = (
    IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
    | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR
)  # fmt: skip
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of NUL-padded name)


def watch_roots(base: Path, patterns: Iterable[str]) -> tuple[list[Path], list[str]]:
    """The directories to watch for `patterns` (globs relative to `base`) and the file-name
    patterns that matter. A pattern's directory that does not exist yet is watched through its
    nearest existing ancestor, so its creation is noticed too; `**` adds every subdirectory."""
    dirs: dict[str, Path] = {}
    names: list[str] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        full = path if path.is_absolute() else base / path
        parts = full.parts
        cut = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts) - 1)
        root = Path(*parts[:cut]) if cut else Path(full.anchor)
        names.append(parts[-1])
        while not root.is_dir() and root != root.parent:
            root = root.parent
        dirs.setdefault(str(root), root)
        if "**" in parts:
            for sub in root.rglob("*"):
                if sub.is_dir():
                    dirs.setdefault(str(sub), sub)
    return list(dirs.values()), names


class _Inotify:
    def __init__(self) -> None:
        libc_name = ctypes.util.find_library("c") or "libc.so.6"
        self._libc = ctypes.CDLL(libc_name, use_errno=True)
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self.fd: int = fd

    def add(self, path: Path) -> None:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            log.warning("watch_failed", path=str(path), error=os.strerror(err))

    def read(self) -> list[tuple[int, str]]:
        """Pending events as (mask, name)."""
        out: list[tuple[int, str]] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            pos = 0
            while pos + _EVENT.size <= len(data):
                _, mask, _, length = _EVENT.unpack_from(data, pos)
                raw = data[pos + _EVENT.size : pos + _EVENT.size + length]
                out.append((mask, os.fsdecode(raw.rstrip(b"\0"))))
                pos += _EVENT.size + length

    def close(self) -> None:
        os.close(self.fd)


def _relevant(mask: int, name: str, names: list[str]) -> bool:
    if mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_Q_OVERFLOW):
        return True  # a watched directory went away, or events were lost: look again
    if mask & IN_ISDIR:
        return True  # a directory appeared or went: it may hold schedules
    if mask & IN_CREATE:
        return False  # the write that follows (IN_CLOSE_WRITE) is the one that matters
    return bool(name) and not name.startswith(".") and any(fnmatch.fnmatch(name, p) for p in names)


async def watch(
    base: Path, patterns: Callable[[], Iterable[str]], on_change: Callable[[], None],
    rebuild: asyncio.Event | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:  # fmt: skip # pragma: no cover - exercised through the daemon's reload tests
    """Call `on_change()` whenever a file matching `patterns()` (under `base`) may have changed.

    Runs until cancelled. The watch set is rebuilt from `patterns()` after each batch of
    events, so new subdirectories and re-created directories are followed, and whenever
    `rebuild` is set (the patterns changed: a main config reloaded in place). When the watch
    cannot be set up (the kernel has no inotify instance to give: the per-user limit), that is
    an error-level `watch_files_failed` event and another try after `RETRY` seconds of `sleep`,
    with an `on_change()` for what changed meanwhile.
    """
    if not sys.platform.startswith("linux"):
        await _watch_fallback(base, list(patterns()), on_change)
        return
    loop = asyncio.get_running_loop()
    rebuild = rebuild or asyncio.Event()
    while True:
        rebuild.clear()
        try:
            dirs, names = watch_roots(base, patterns())
            ino = _Inotify()
        except OSError as exc:  # until it works again, only SIGHUP and the retry reload
            log.error("watch_files_failed", error=str(exc), retry_s=RETRY)  # noqa: TRY400
            await sleep(RETRY)
            on_change()
            continue
        changed = asyncio.Event()
        waits = [asyncio.ensure_future(e.wait()) for e in (changed, rebuild)]
        try:
            for d in dirs:
                ino.add(d)

            loop.add_reader(ino.fd, _on_readable, ino, names, changed)
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(ino.fd)
            ino.close()
        if changed.is_set():
            on_change()


def _on_readable(ino: _Inotify, names: list[str], changed: asyncio.Event) -> None:
    if any(_relevant(m, n, names) for m, n in ino.read()):
        changed.set()


async def _watch_fallback(
    base: Path, patterns: list[str], on_change: Callable[[], None]
) -> None:  # pragma: no cover - not Linux
    import watchfiles

    dirs, names = watch_roots(base, patterns)
    async for changes in watchfiles.awatch(*dirs, step=250, recursive=True):
        if any(fnmatch.fnmatch(Path(p).name, n) for _, p in changes for n in names):
            on_change()
