"""Two (or more) `liverecd run` processes sharing one PostgreSQL database, against one emulator.

Each member has its own folder (config, schedules, state) and its own AccessKeyId, so the
emulator's request log tells who sent what; the quota checks count all keys together. A cuttable
TCP proxy stands between a member and the database for partition tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from pathlib import Path

import yaml

from liverecd.emulator import Emulator, RequestRecord
from liverecd.net import free_port
from reliability.procs import DaemonProcess, daemon_env
from reliability.rig import account, http_get, write_config, write_schedule


def member_config(
    root: Path, emulator_url: str, db_url: str, *, lease: str, schedule: str
) -> tuple[Path, int]:
    """`root/liverecd.yaml` with a `database` block, its schedule, and its status port."""
    port = free_port()
    path = write_config(root, emulator_url, status=f"127.0.0.1:{port}")
    config = yaml.safe_load(path.read_text())
    config["database"] = {"url": db_url, "cluster": "test", "lease": lease}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    write_schedule(root, "s.yaml", schedule)
    return path, port


class Member:
    """One member process: its key, its folder, its status port."""

    def __init__(self, name: str, root: Path, config: Path, port: int) -> None:
        self.name = name
        self.key = account(f"Ha{name}")
        self.root = root
        self.config = config
        self.port = port
        self.proc: DaemonProcess | None = None

    async def start(self) -> DaemonProcess:
        self.proc = await DaemonProcess.spawn(self.config, daemon_env(self.key, sts=False))
        return self.proc

    def events(self, name: str) -> list[dict[str, object]]:
        assert self.proc is not None
        return [e for e in self.proc.events if e.get("event") == name]

    async def wait(self, name: str, count: int = 1, within: float = 15.0) -> dict[str, object]:
        """The `count`-th event called `name`."""
        assert self.proc is not None
        async with asyncio.timeout(within):
            while len(found := self.events(name)) < count:
                if self.proc.process.returncode is not None:
                    raise AssertionError(f"{self.name} exited: {self.proc.output()[-2000:]}")
                await asyncio.sleep(0.02)
        return found[count - 1]

    async def health(self, path: str = "/healthz") -> dict[str, object]:
        """The JSON of `/healthz` (or of `path`, e.g. `/api/status`)."""
        import json

        _, body = await http_get(f"http://127.0.0.1:{self.port}{path}")
        return dict(json.loads(body))


def stamp(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]))


def sent_by(emu: Emulator, member: Member) -> list[RequestRecord]:
    """The RealTimeRecordCommand requests `member` sent."""
    return [r for r in emu.requests if r.access_key_id == member.key and r.command]


def same_second(emu: Emulator, a: Member, b: Member) -> list[tuple[datetime, datetime]]:
    """Pairs of requests of `a` and `b` less than a second apart (any API action)."""
    ra = [r.wall for r in emu.requests if r.access_key_id == a.key]
    rb = [r.wall for r in emu.requests if r.access_key_id == b.key]
    return [(x, y) for x in ra for y in rb if abs((x - y).total_seconds()) < 1.0]


class Proxy:
    """TCP forwarding 127.0.0.1:port -> target; `cut()` turns it into a black hole (bytes are
    swallowed, nothing is refused: a partition, not a reset); `heal()` forwards again."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.cut_off = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.cut_off = True

    def heal(self) -> None:
        """Forward again; connections from before the cut are dropped (their bytes are lost)."""
        self.cut_off = False
        for w in list(self._writers):
            w.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_w)
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await src.read(65536):
                if not self.cut_off:
                    dst.write(data)
                    await dst.drain()
        dst.close()
        self._writers.discard(dst)

    async def close(self) -> None:
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            self._server.close()
