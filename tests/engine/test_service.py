"""`liverecd run` refuses cleanly (exit 1, one line on stderr, no traceback) when it cannot
start: a broken config, missing credentials, an unreadable state store; and in-process
(`service.running`) it raises the reason on entry."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from liverecd.errors import StateError
from liverecd.ops import service
from liverecd.schedule.config import load_config

from .conftest import CREDENTIALS, TEST_AK, TEST_SECRET, Workspace


async def run(config: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "run", "-c", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    async with asyncio.timeout(20):
        _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.pop("CREDENTIALS_DIRECTORY", None)
    return {**env, **extra}


CREDS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": TEST_AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": TEST_SECRET}


async def test_refusals_exit_1_with_one_clear_line(workspace: Workspace) -> None:
    workspace.write_schedule("a.yaml", "streams: []\n")
    code, err = await run(workspace.config_path, environ())
    assert code == 1 and "ALIBABA_CLOUD_ACCESS_KEY_ID" in err and "Traceback" not in err

    (workspace.root / "state").mkdir()
    (workspace.root / "state" / "state.sqlite3").write_bytes(b"garbage" * 1000)
    code, err = await run(workspace.config_path, environ(**CREDS))
    assert code == 1 and "state.sqlite3" in err and "Traceback" not in err
    assert TEST_SECRET not in err

    bad = workspace.root / "bad.yaml"
    bad.write_text("api: [\n")
    code, err = await run(bad, environ(**CREDS))
    assert code == 1 and "bad.yaml" in err and "Traceback" not in err


async def test_running_in_process_raises_what_stopped_the_service_before_it_was_ready(
    workspace: Workspace,
) -> None:
    workspace.write_schedule("a.yaml", "streams: []\n")
    (workspace.root / "state").mkdir()
    (workspace.root / "state" / "state.sqlite3").write_bytes(b"garbage" * 1000)
    with pytest.raises(StateError, match=r"state\.sqlite3"):
        async with service.running(load_config(workspace.config_path), CREDENTIALS):
            pytest.fail("entered although the service could not start")


async def test_running_in_process_is_ready_on_entry_and_drained_on_exit(
    workspace: Workspace,
) -> None:
    workspace.write_schedule("a.yaml", "streams: []\n")
    before = asyncio.all_tasks()
    async with service.running(load_config(workspace.config_path), CREDENTIALS) as daemon:
        assert daemon.ready.is_set()
        assert daemon.snapshot()["config_loaded"] is True
    assert asyncio.all_tasks() - before == set()
