"""Make the README's screenshot of the status page from `liverecd demo`.

Runs the demo (`python -m liverecd demo`), reads the status page URL it prints, waits until
the timetable has every stream recording, and has Debian's headless Chromium (/usr/bin/chromium;
nothing is downloaded) save the page as a PNG.

Run: .venv/bin/python tools/page_screenshot.py [--out docs/status-page.png] [--at 12]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1",
]  # fmt: skip
URL = re.compile(r"Status page: (http://127\.0\.0\.1:\d+/)")


def page_url(demo: subprocess.Popen[str], within: float = 30.0) -> str:
    """The URL the demo prints once its daemon is ready."""
    assert demo.stdout is not None
    deadline = time.monotonic() + within
    for line in demo.stdout:
        if found := URL.search(line):
            return found.group(1)
        if time.monotonic() > deadline:
            break
    raise SystemExit("the demo printed no status page URL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/status-page.png"))
    parser.add_argument("--at", type=float, default=12.0, help="seconds after the page is up")
    parser.add_argument("--size", default="1180,640", help="window width,height in pixels")
    args = parser.parse_args()
    demo = subprocess.Popen(
        [sys.executable, "-m", "liverecd", "demo"], stdout=subprocess.PIPE, text=True
    )
    try:
        url = page_url(demo)
        time.sleep(args.at)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(  # noqa: S603 - our fixed binary, a loopback URL the demo printed
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={args.size}",
                 f"--screenshot={args.out.resolve()}", url],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
    finally:
        demo.terminate()
        demo.wait(30)
    print(f"{args.out}: {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
