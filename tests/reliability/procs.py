"""`liverecd run -c CONFIG` as a real process: its JSON log lines as they come, SIGKILL and
SIGTERM, and everything it printed (for the secret scan)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .rig import SECRET, TOKEN, now


def daemon_env(access_key_id: str, *, sts: bool) -> dict[str, str]:
    """The environment `liverecd run` reads its credentials from (no systemd sockets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    for name in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(name, None)
    env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = access_key_id
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = SECRET
    if sts:
        env["ALIBABA_CLOUD_SECURITY_TOKEN"] = TOKEN
    return env


@dataclass
class DaemonProcess:
    """One life of the daemon, from spawn to exit."""

    process: asyncio.subprocess.Process
    spawned: datetime
    events: list[dict[str, object]] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    stderr: str = ""
    killed: datetime | None = None
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def spawn(
        cls, config: Path, env: dict[str, str], *, nofile: int | None = None
    ) -> DaemonProcess:
        """Start `python -m liverecd run -c CONFIG` (with RLIMIT_NOFILE `nofile` if given)."""

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "liverecd", "run", "-c", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            preexec_fn=limit,
        )  # fmt: skip
        proc = cls(process, now())
        proc._readers = [
            asyncio.create_task(proc._read_out()),
            asyncio.create_task(proc._read_err()),
        ]
        return proc

    async def _read_out(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace")
            self.stdout.append(line)
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "unparsed", "line": line})

    async def _read_err(self) -> None:
        assert self.process.stderr is not None
        self.stderr = (await self.process.stderr.read()).decode(errors="replace")

    def event(self, name: str) -> dict[str, object] | None:
        """The first event called `name`, if it came."""
        return next((e for e in self.events if e.get("event") == name), None)

    def ready_at(self) -> datetime | None:
        """When the daemon said `daemon_started` (its own timestamp), if it did."""
        started = self.event("daemon_started")
        return None if started is None else datetime.fromisoformat(str(started["timestamp"]))

    async def wait_event(self, name: str, *, within: float = 10.0) -> dict[str, object]:
        """The first event called `name`; AssertionError if the process exits first."""
        async with asyncio.timeout(within):
            while (found := self.event(name)) is None:
                if self.process.returncode is not None:
                    raise AssertionError(f"daemon exited: {self.stderr or self.stdout[-5:]}")
                await asyncio.sleep(0.02)
        return found

    async def kill(self) -> None:
        """kill -9, and wait for the process and its output to end."""
        self.killed = now()
        self.process.send_signal(signal.SIGKILL)
        await self.finish()

    async def terminate(self) -> int:
        """SIGTERM; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await self.finish()

    async def finish(self) -> int:
        """Wait (bounded) for exit and for the output to be read; kill on timeout."""
        try:
            async with asyncio.timeout(15):
                code = await self.process.wait()
                await asyncio.gather(*self._readers)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        return code

    def output(self) -> str:
        """Everything the process printed, stdout then stderr."""
        return "".join(self.stdout) + self.stderr
