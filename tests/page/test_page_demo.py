"""`liverecd demo` prints the status page's address and serves the page while it runs."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import aiohttp
import pytest

URL = re.compile(rb"Status page: (http://127\.0\.0\.1:\d+/)")
DEMO_STREAMS = {"news", "sports", "concert", "talk", "lecture"}


@pytest.mark.slow
async def test_the_demo_prints_the_page_url_and_the_page_shows_its_streams() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liverecd", "demo", "--duration", "10", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            while not (found := URL.search(await proc.stdout.readline())):
                pass
            url = found.group(1).decode()
            seen: set[str] = set()
            async with aiohttp.ClientSession() as session:
                while not seen >= DEMO_STREAMS:
                    async with session.get(url + "api/status") as response:
                        doc = await response.json()
                    items = doc["recording"]["items"] + doc["upcoming"]["items"]
                    seen |= {i["stream"].rsplit("/", 1)[1] for i in items}
                    await asyncio.sleep(0.2)
                async with session.get(url) as response:
                    assert response.status == 200 and "Recording now" in await response.text()
            await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
