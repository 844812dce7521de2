"""A real PostgreSQL server for the tests: Debian's binaries, a temporary cluster, loopback.

`initdb` refuses to run as root, so as root every server command runs as the `postgres` user
(`runuser -u postgres --`) in a directory it owns. Trust authentication on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from liverecd.net import free_port


def binaries() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version)
    return found[-1].parent if found else None


def _version(path: Path) -> int:
    part = path.parent.parent.name
    return int(part) if part.isdigit() else 0




@dataclass
class PgServer:
    """One running cluster: `url(db)` for a database on it; `stop()` / `start()` restart it."""

    bin: Path
    data: Path
    port: int

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)

    @classmethod
    def create(cls, bin_dir: Path) -> PgServer:
        root = Path(tempfile.mkdtemp(prefix="liverecd-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server = cls(bin_dir, root / "data", free_port())
        server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8")  # fmt: skip
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {server.port}\n"
                f"unix_socket_directories = '{root}'\nfsync = off\nmax_connections = 200\n"
                "synchronous_commit = off\nfull_page_writes = off\n"
            )
        server.start()
        return server

    def start(self) -> None:
        """Start (waits until it accepts connections)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop (`fast` ends sessions; `immediate` is a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, db: str = "postgres", port: int | None = None) -> str:
        """A password-less URL for `db` (trust authentication), optionally via `port`."""
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{db}"

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run `sql` with psql; its output."""
        out = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-d", db, "-At", "-c", sql)  # fmt: skip
        return out.stdout

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data.parent, ignore_errors=True)
