"""One daemon per state directory (issue 12, case 6): an exclusive `flock` on
`STATE_DIR/liverecd.lock`, held for the daemon's life.

Two daemons on one state would each reconcile the other's recordings away. The lock is taken
before the state is read; the second daemon refuses to start and names the holder's pid, which
the holder writes into the lock file. The kernel drops the lock when the holder dies, however it
dies, so a stale file never blocks a restart; the file itself is never deleted (deleting it would
let a third daemon lock a new file while the second still holds the old one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from liverecd.errors import StateError

LOCK_NAME = "liverecd.lock"


class StateLock:
    """The exclusive lock on one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise StateError naming the pid that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"state lock {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateError(
                f"state_dir {self.path.parent} is in use by another liverecd "
                f"(pid {holder or 'unknown'}, lock {self.path}): two daemons on one state "
                "would stop each other's recordings"
            ) from None
        # The pid only names the holder to a second daemon: a full disk must not stop this one
        # (the flock is the lock; its state writes are retried until the disk has room).
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _read_pid(fd: int) -> str | None:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return text if text.isdigit() else None
    return None
