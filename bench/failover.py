"""Failover under load: 20 kill -9s of the active member of a two-member cluster.

    .venv/bin/python bench/failover.py [--kills 20] [--lease 3] [--streams 30]

A real PostgreSQL (Debian's binaries, a temporary cluster), the bundled emulator on loopback,
two `liverecd run` processes. `--streams` streams each run back-to-back windows of 4-8 s with
gaps of 2-4 s, so commands are always due. Each round waits until the standby is ready, kills the
active with SIGKILL at a random instant, waits for the other to take over, restarts the killed
one (it comes back as standby). Printed: failover time (kill -> `leader_acquired`, and kill ->
the new active's `daemon_started`, i.e. reconciled) p50 / max; windows lost (no recording at all
although the window was not entirely inside a failover gap); doubled restarts; TaskAlreadyStarted
re-assertions; the most calls the emulator counted in any 1 s; pairs of requests from both
members less than 1 s apart.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import percentile, quiet
from ha.cluster import Member, member_config, same_second, stamp
from ha.pg import PgServer, binaries
from liverecd.emulator import Emulator, EmulatorConfig
from reliability.rig import key, now, schedule_text, seconds

SECRET = "FakeSecretForTestVectorsOnly0123"


def timetable(rng: random.Random, t0: datetime, span: float, streams: int) -> dict[str, list]:
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for i in range(streams):
        at, wins = rng.uniform(2.0, 6.0), []
        while at + 4 < span:
            length = rng.uniform(4.0, 8.0)
            wins.append((t0 + seconds(at), t0 + seconds(at + length)))
            at += length + rng.uniform(2.0, 4.0)
        out[f"f{i}"] = wins
    return out


async def run(kills: int, lease: float, streams: int, seed: int) -> None:
    bin_dir = binaries()
    if bin_dir is None:
        sys.exit("PostgreSQL binaries not found (apt-get install postgresql)")
    rng = random.Random(seed)
    pg = PgServer.create(bin_dir)
    span = 10 + kills * (lease + 8)
    try:
        with TemporaryDirectory() as tmp:
            pg.psql("CREATE DATABASE bench")
            a0, b0 = (Member(n, Path(), Path(), 0) for n in ("A", "B"))
            emu = Emulator(EmulatorConfig(accounts={a0.key: SECRET, b0.key: SECRET},
                                          stop_delay=0.2))  # fmt: skip
            await emu.start(host="127.0.0.1", port=0)
            t0 = now()
            wins = timetable(rng, t0, span, streams)
            pair = []
            for name in ("A", "B"):
                root = Path(tmp) / name
                root.mkdir()
                config, port = member_config(root, emu.url, pg.url("bench"), lease=f"{lease}s",
                                             schedule=schedule_text(wins))  # fmt: skip
                pair.append(Member(name, root, config, port))
            gaps, acquired, reconciled = await rounds(pair, kills, rng)
            end = now()
            await asyncio.gather(*(m.proc.terminate() for m in pair if m.proc is not None))
            report(emu, pair, wins, gaps, acquired, reconciled, end, lease)
            await emu.close()
    finally:
        pg.destroy()


async def rounds(
    pair: list[Member], kills: int, rng: random.Random
) -> tuple[list[tuple[datetime, datetime]], list[float], list[float]]:
    active, standby = pair
    await active.start()
    await active.wait("leader_acquired", within=30)
    await standby.start()
    await standby.wait("member_standby", within=30)
    gaps, acquired, reconciled = [], [], []
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        n_acq = len(standby.events("leader_acquired"))
        n_ready = len(standby.events("daemon_started"))
        assert active.proc is not None
        await active.proc.kill()
        killed = active.proc.killed
        assert killed is not None
        got = await standby.wait("leader_acquired", count=n_acq + 1, within=60)
        ready = await standby.wait("daemon_started", count=n_ready + 1, within=60)
        acquired.append((stamp(got) - killed).total_seconds())
        reconciled.append((stamp(ready) - killed).total_seconds())
        gaps.append((killed, stamp(ready)))
        old_events = active.proc.events
        await active.start()
        active.proc.events[:0] = old_events  # keep counting events across lives
        await active.wait(
            "member_standby",
            count=len([e for e in old_events if e.get("event") == "member_standby"]) + 1,
            within=30,
        )
        active, standby = standby, active
    return gaps, acquired, reconciled


def report(
    emu: Emulator, pair: list[Member], wins: dict[str, list], gaps: list, acquired: list[float],
    reconciled: list[float], end: datetime, lease: float,
) -> None:  # fmt: skip
    lost = 0
    total = 0
    for name, spans in wins.items():
        for a, b in spans:
            if b > end:
                continue
            total += 1
            inside_gap = any(g0 - timedelta(seconds=1) <= a and b <= g1 + seconds(3)
                             for g0, g1 in gaps)  # fmt: skip
            recorded = any(iv.start < b and (iv.end is None or iv.end > a)
                           for iv in emu.recordings(key(name)))  # fmt: skip
            lost += not recorded and not inside_gap
    restarts = [r for r in emu.requests if r.command == "restart"]
    reasserted = [r for r in emu.requests if r.code == "TaskAlreadyStarted"]
    print(f"kills: {len(acquired)}, lease {lease} s, windows ended: {total}")
    print(f"failover kill->leader_acquired: p50 {percentile(acquired, 50):.2f} s, "
          f"max {max(acquired):.2f} s (target <= lease + 2 = {lease + 2:.1f} s)")  # fmt: skip
    print(f"failover kill->reconciled:      p50 {percentile(reconciled, 50):.2f} s, "
          f"max {max(reconciled):.2f} s")  # fmt: skip
    print(f"windows lost beyond the failover gap: {lost}")
    print(f"restart commands: {len(restarts)} (doubled: 0 unless listed) ; "
          f"TaskAlreadyStarted re-assertions: {len(reasserted)}")  # fmt: skip
    per_key = ", ".join(f"{m.name} {emu.max_in_any_second(m.key)}" for m in pair)
    print(f"most calls in any 1 s (emulator, both members): {emu.max_in_any_second()}"
          f" (each member: {per_key})")  # fmt: skip
    print(f"requests of both members less than 1 s apart: {len(same_second(emu, *pair))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261218)
    args = parser.parse_args()
    quiet()
    asyncio.run(run(args.kills, args.lease, args.streams, args.seed))


if __name__ == "__main__":
    main()
