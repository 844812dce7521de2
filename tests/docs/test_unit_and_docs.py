"""What the unit and the docs promise matches what the daemon does."""

from __future__ import annotations

import re
from pathlib import Path

from liverecd.durations import parse_duration

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "liverecd.service"


def section(text: str, name: str) -> dict[str, str]:
    body = text.split(f"[{name}]\n", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r"^(\w+)=(.*)$", body, re.MULTILINE))


def test_the_unit_stops_restarting_a_daemon_that_keeps_failing_to_start() -> None:
    text = UNIT.read_text()
    unit, service = section(text, "Unit"), section(text, "Service")
    burst = int(unit["StartLimitBurst"])
    interval = parse_duration(unit["StartLimitIntervalSec"].replace("min", "m"))
    restart_every = parse_duration(service["RestartSec"])
    # failing at once, burst restarts fit inside the interval: the limit is reachable
    assert burst > 1 and burst * restart_every < interval


def test_the_docs_say_what_a_sighup_reloads_and_what_needs_a_restart() -> None:
    """SIGHUP reloads liverecd.yaml and the schedules (README "Reloading the main config");
    keys that cannot change in place need a restart, and the unit and systemd/README say so."""
    for path in (UNIT, REPO / "systemd" / "README.md", REPO / "README.md"):
        text = path.read_text()
        assert "liverecd.yaml" in text and "config_restart_needed" in text, path
        assert "read at start only" not in text, path
    sample = (REPO / "config" / "liverecd.yaml").read_text()  # its header said: restart only
    assert "config_restart_needed" in sample and "take effect at restart" not in sample
