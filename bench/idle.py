"""Does an idle daemon sleep? Nothing due for an hour: count wake-ups and CPU over 30 s.

Runs `python -m liverecd run -c CONFIG` as a subprocess with one window two hours ahead, lets it
settle, then samples every thread's context switches (/proc/PID/task/*/status: a thread that
wakes up is switched in once per wake-up) and the process's CPU time (psutil) over `--seconds`.
Twice: with the status endpoint and the online watch off, and with the defaults (the status
heartbeat beats once a second by design, so /healthz can tell a wedged loop; the online watch
ticks every `watch.interval`, 10 s, and lists nothing while no window is open). Target: no
periodic wake-up below 1 s.

Run: .venv/bin/python bench/idle.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))

from common import AK, SECRET, write_config, write_schedule
from liverecd.net import free_port

SETTLE = 3.0


def switches(pid: int) -> dict[str, int]:
    """Context switches per thread (name#tid)."""
    out: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = dict(
            line.split(":", 1) for line in (task / "status").read_text().splitlines() if ":" in line
        )
        total = int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
        out[f"{fields['Name'].strip()}#{task.name}"] = total
    return out




def measure(seconds: float, status: str, watch: str) -> tuple[int, float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_config(root, "http://127.0.0.1:9", max_lead="60s", status=status, watch=watch)
        later = datetime.now(UTC) + timedelta(hours=2)
        write_schedule(root, [("idle", later, later + timedelta(hours=1))])
        env = {
            **os.environ,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "liverecd", "run", "-c", str(root / "liverecd.yaml")],
            stdout=subprocess.DEVNULL,
            env=env,
        )
        try:
            time.sleep(SETTLE)
            p = psutil.Process(proc.pid)
            s0, c0 = switches(proc.pid), p.cpu_times()
            time.sleep(seconds)
            s1, c1 = switches(proc.pid), p.cpu_times()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    per_thread = {k: s1[k] - s0.get(k, 0) for k in s1}
    cpu = (c1.user + c1.system) - (c0.user + c0.system)
    return sum(per_thread.values()), cpu, per_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(f"| daemon | wake-ups in {args.seconds:g} s | per second | CPU seconds |")
    print("|---|---|---|---|")
    runs = (
        ("status off, online watch off", "off", "0s"),
        ("defaults: status on (heartbeat 1 s), watch 10 s", f"127.0.0.1:{free_port()}", "10s"),
    )
    details = []
    for label, status, watch in runs:
        wakeups, cpu, per_thread = measure(args.seconds, status, watch)
        details.append((label, per_thread))
        print(f"| {label} | {wakeups} | {wakeups / args.seconds:.2f} | {cpu:.3f} |")
    for label, per_thread in details:
        busy = {k: v for k, v in per_thread.items() if v}
        print(f"threads that woke up ({label}): {busy or 'none'}")


if __name__ == "__main__":
    main()
