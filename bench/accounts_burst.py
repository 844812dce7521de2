"""Two accounts, 400 starts each due at one instant, qps 50 each, max_lead 0.

The daemon runs in-process against the bundled emulator (two accounts, 50 calls/s each over
any sliding second) over real HTTP on loopback. Each account's starts go through its own client
and limiter, so the two bursts drain side by side: targets 0 throttled, >= 0.98 of each
account's quota, both done about 8 s after the instant (one after the other would take 16 s).
Figures come from the emulator's request log (arrival times as the server saw them).

Run: .venv/bin/python bench/accounts_burst.py [--starts 400]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import APP, DOMAIN, iso, quiet, write_config
from liverecd.api.credentials import Credentials, Secret
from liverecd.api.credsource import CredentialSource
from liverecd.clock import SystemClock
from liverecd.emulator import Emulator, EmulatorConfig
from liverecd.ops import service
from liverecd.schedule.config import load_config

QPS = 50
ACCOUNTS = {
    "default": ("LTAI5tBENCHaccountA00001", "BenchSecretOfAccountAxxxxxxxxxx1"),
    "partner": ("LTAI5tBENCHaccountB00002", "BenchSecretOfAccountBxxxxxxxxxx2"),
}


def write_schedules(root: Path, starts: int, instant: datetime) -> None:
    end = instant + timedelta(hours=1)
    for account in ACCOUNTS:
        lines = [f"domain: {DOMAIN}", f"app: {APP}", f"account: {account}", "streams:"]
        for i in range(starts):
            lines += [f"  - name: {account}{i:04}", "    windows:",
                      f"      - start: {iso(instant)}", f"        end: {iso(end)}"]  # fmt: skip
        (root / "schedules" / f"{account}.yaml").write_text("\n".join(lines) + "\n")


async def run(starts: int) -> dict[str, tuple[int, float, float, int]]:
    """Per account: starts landed, last one after the instant (s), rate / quota, max in 1 s."""
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        emu = Emulator(EmulatorConfig(accounts=dict(ACCOUNTS.values()), qps=QPS, stop_delay=0.5))
        await emu.start(host="127.0.0.1", port=0)
        try:
            write_config(root, emu.url, max_lead="0s")
            with (root / "liverecd.yaml").open("a") as f:
                f.write("accounts:\n  partner:\n    credentials_prefix: partner_\n")
            instant = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
            write_schedules(root, starts, instant)
            sources = {
                name: CredentialSource.fixed(Credentials(ak, Secret(secret)), clock)
                for name, (ak, secret) in ACCOUNTS.items()
            }
            config = load_config(root / "liverecd.yaml")
            async with service.running(config, sources, watch_files=False) as d:
                await asyncio.sleep((instant - datetime.now(UTC)).total_seconds() + starts / QPS)
                await asyncio.wait_for(d.engine.dispatcher.wait_idle(), 60)
            out = {}
            for name, (ak, _) in ACCOUNTS.items():
                sent = sorted((r.wall - instant).total_seconds() for r in emu.requests
                              if r.command == "start" and r.access_key_id == ak)  # fmt: skip
                span = sent[-1] - sent[0] if len(sent) > 1 else float("inf")
                ratio = (len(sent) - 1) / span / QPS
                out[name] = (len(sent), sent[-1], ratio, emu.max_in_any_second(ak))
            out["throttled"] = (sum(1 for r in emu.requests if r.throttled), 0.0, 0.0, 0)
            return out
        finally:
            await emu.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=400)
    args = parser.parse_args()
    quiet()
    result = await run(args.starts)
    throttled = result.pop("throttled")[0]
    print("| account | starts landed | last lands after the instant | rate / quota | max in 1 s |")
    print("|---|---|---|---|---|")
    for name, (n, last, ratio, peak) in result.items():
        print(f"| {name} | {n} | {last:.2f} s | {ratio:.3f} | {peak} |")
    print(f"throttled: {throttled}")


if __name__ == "__main__":
    asyncio.run(main())
