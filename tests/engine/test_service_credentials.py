"""`liverecd run` (a subprocess) takes its credentials from the official chain: here the
emulator's credentials URI. While the source refuses, the daemon retries with error events and
does not become ready; once it answers, the daemon starts and logs the source by kind only."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from conftest import TEST_AK

from .conftest import Workspace

pytestmark = pytest.mark.realtime  # `liverecd run` in a subprocess, on the real clock


def chain_env(workspace: Workspace, uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.pop("CREDENTIALS_DIRECTORY", None)
    return {
        **env,
        "HOME": str(workspace.root),
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
        "ALIBABA_CLOUD_CREDENTIALS_URI": uri,
    }


class Events(list[dict[str, object]]):
    """The daemon's JSON log lines as they arrive; `wait_for` an event by name."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Condition()

    async def read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "<not json>", "line": line.decode(errors="replace")}
            async with self.arrived:
                self.append(event)
                self.arrived.notify_all()

    async def wait_for(self, name: str, seconds: float) -> None:
        async with asyncio.timeout(seconds), self.arrived:
            await self.arrived.wait_for(lambda: any(e.get("event") == name for e in self))


@pytest.mark.slow
async def test_the_daemon_is_not_ready_until_the_credentials_uri_answers(
    workspace: Workspace,
) -> None:
    workspace.write_schedule("a.yaml", "domain: d.example\napp: live\nstreams: []\n")
    emu = workspace.emulator
    emu.sts.answer_code = "Unavailable"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(workspace.config_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=chain_env(workspace, emu.credentials_uri(TEST_AK)),
    )  # fmt: skip
    assert proc.stdout is not None
    events = Events()
    reader = asyncio.create_task(events.read(proc.stdout))
    try:
        await events.wait_for("credentials_unavailable", 15)
        await asyncio.sleep(1.5)  # a second retry, still refused
        assert not any(e["event"] == "daemon_started" for e in events)
        emu.sts.answer_code = "Success"
        await events.wait_for("daemon_started", 20)
    finally:
        proc.terminate()
        async with asyncio.timeout(15):
            await proc.wait()
        await reader
    assert proc.returncode == 0
    refused = [e for e in events if e["event"] == "credentials_unavailable"]
    assert refused[0]["level"] == "error"
    assert "Code 'Unavailable'" in str(refused[0]["error"])
    [loaded] = [e for e in events if e["event"] == "credentials_loaded"]
    assert loaded["source"] == "credentials_uri" and loaded["account"] == "default"
    output = json.dumps(events)
    for key in emu.sts.issued_keys():
        assert key.secret not in output and key.token not in output


async def test_half_a_key_pair_stops_start_up_at_once_naming_the_missing_variable(
    workspace: Workspace,
) -> None:
    workspace.write_schedule("a.yaml", "domain: d.example\napp: live\nstreams: []\n")
    env = chain_env(workspace, "")
    del env["ALIBABA_CLOUD_CREDENTIALS_URI"]
    env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = TEST_AK
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(workspace.config_path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    async with asyncio.timeout(20):
        _, err = await proc.communicate()
    assert proc.returncode == 1
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set" in err.decode()
    assert "Traceback" not in err.decode()
