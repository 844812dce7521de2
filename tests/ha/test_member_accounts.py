"""A cluster member drives every account like the single daemon: each stream's commands go out
with its own account's key (not all with the default one), through the running service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import EmulatorFactory
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.credsource import CredentialSource
from liverecd.clock import SystemClock
from liverecd.ops import service
from liverecd.schedule.config import load_config
from reliability.rig import now, schedule_text, seconds, write_schedule

from .cluster import member_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

A = ("LTAI5tHAACCOUNTa00000001", "SecretOfHaAccountAxxxxxxxxxxxxx1")
B = ("LTAI5tHAACCOUNTb00000002", "SecretOfHaAccountBxxxxxxxxxxxxx2")


async def test_the_active_member_sends_each_stream_with_its_own_account(
    emulator_factory: EmulatorFactory, pg_url: str, tmp_path: Path
) -> None:
    emu = await emulator_factory(accounts=dict([A, B]))
    t = now() + seconds(2)
    window = [(t, t + seconds(20))]
    config, _ = member_config(tmp_path, emu.url, pg_url, lease="3s",
                              schedule=schedule_text({"a0": window, "a1": window}))  # fmt: skip
    config.write_text(
        config.read_text() + "accounts:\n  partner:\n    credentials_prefix: partner_\n"
    )
    theirs = schedule_text({"b0": window, "b1": window})
    write_schedule(tmp_path, "b.yaml", theirs.replace("streams:", "account: partner\nstreams:"))
    clock = SystemClock()
    sources = {
        "default": CredentialSource.fixed(Credentials(A[0], Secret(A[1])), clock),
        "partner": CredentialSource.fixed(Credentials(B[0], Secret(B[1])), clock),
    }
    async with service.running(load_config(config), sources, watch_files=False):
        await asyncio.sleep((t + seconds(2.5) - now()).total_seconds())
    starts = {
        r.stream.stream: r.access_key_id
        for r in emu.requests
        if r.command == "start" and r.stream is not None
    }
    assert starts == {"a0": A[0], "a1": A[0], "b0": B[0], "b1": B[0]}
