"""Do `check` and `plan` stay fast and small on a large timetable?

Generates 100,000 windows over 20,000 streams in 20 schedule files (in a temporary folder):
five windows per stream, mostly recurring (daily, weekday, every-few-hours rules), some one-offs,
with padding, except dates, split and delayed-finalize streams, in ten zones (DST ones among
them; the range covers New York's spring-forward night). Then runs `liverecd check` and
`liverecd plan --hours 24` as subprocesses and prints, for each, the wall time and the peak RSS
of that process (`os.wait4`), next to the targets for the 2-core machine:
check < 5 s, plan < 10 s, RSS < 400 MB.

Run: .venv/bin/python bench/scale.py [--streams 20000] [--files 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FROM = "2027-03-13T12:00:00Z"
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "America/Sao_Paulo",
]
RULES = ["{m} {h} * * *", "{m} {h} * * mon-fri", "{m} {h} * * sat,sun", "{m} */6 * * *",
         "{m} {h} 1,15 * *", "{m} {h} * * 0"]  # fmt: skip
DURATIONS = ["15m", "30m", "45m", "1h", "1h30m", "2h"]
TARGETS = {"check": (5.0, 400.0), "plan": (10.0, 400.0)}


@dataclass(frozen=True)
class Run:
    wall: float
    peak_mb: float
    code: int
    output_lines: int


def window(rng: random.Random) -> str:
    if rng.random() < 0.15:
        day = rng.randint(13, 16)
        hour, minute = rng.randint(0, 21), rng.choice((0, 15, 30, 45))
        return (
            f"      - start: 2027-03-{day:02d}T{hour:02d}:{minute:02d}\n"
            f"        end: 2027-03-{day:02d}T{hour + 2:02d}:{minute:02d}\n"
        )
    rule = rng.choice(RULES).format(m=rng.choice((0, 5, 30, 45)), h=rng.randint(0, 23))
    text = f'      - cron: "{rule}"\n        duration: {rng.choice(DURATIONS)}\n'
    if rng.random() < 0.1:
        text += "        pad_before: 2m\n"
    return text


def stream(rng: random.Random, index: int) -> str:
    text = f"  - name: s{index:05d}\n"
    if index % 10 == 0:
        text += "    split: true\n"
    if index % 7 == 0:
        text += "    finalize: delayed\n"
    if index % 13 == 0:
        text += "    except: [2027-03-14]\n"
    text += "    windows:\n" + "".join(window(rng) for _ in range(5))
    return text


def generate(root: Path, streams: int, files: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    sched = root / "schedules"
    sched.mkdir(parents=True, exist_ok=True)
    (root / "liverecd.yaml").write_text("schedules:\n  - schedules/*.yaml\nmax_lead: 60s\n")
    per_file = streams // files
    for f in range(files):
        head = f"timezone: {ZONES[f % len(ZONES)]}\ndomain: play{f}.example.com\napp: live\n"
        body = "".join(stream(rng, f * per_file + i) for i in range(per_file))
        (sched / f"f{f:02d}.yaml").write_text(f"{head}streams:\n{body}")


def measure(root: Path, *args: str) -> Run:
    """Run `liverecd ARGS` in `root`; wall time and that child's own peak RSS."""
    out_path = root / "out.txt"
    with out_path.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "liverecd", *args],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    with out_path.open("rb") as fh:
        lines = sum(1 for _ in fh)
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, lines)  # ru_maxrss: KiB on Linux


def report(name: str, run: Run) -> bool:
    wall_target, rss_target = TARGETS[name]
    ok = run.code == 0 and run.wall < wall_target and run.peak_mb < rss_target
    print(
        f"{name:6s} wall {run.wall:6.2f} s (target < {wall_target:g})   "
        f"peak RSS {run.peak_mb:6.1f} MB (target < {rss_target:g})   "
        f"exit {run.code}   {run.output_lines} lines of output   {'ok' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=20000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="liverecd-scale-") as tmp:
        root = args.keep or Path(tmp)
        started = time.perf_counter()
        generate(root, args.streams, args.files)
        size = sum(p.stat().st_size for p in (root / "schedules").iterdir()) / 1e6
        print(
            f"generated {args.streams * 5} windows, {args.streams} streams, {args.files} files "
            f"({size:.1f} MB) in {time.perf_counter() - started:.1f} s; range from {FROM}"
        )
        check = measure(root, "check", "-c", "liverecd.yaml", "--from", FROM)
        plan = measure(root, "plan", "-c", "liverecd.yaml", "--from", FROM, "--hours", "24")
        ok = report("check", check) & report("plan", plan)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
