"""The page in a real browser: Debian's headless Chromium, driven by Selenium through
/usr/bin/chromedriver (nothing is downloaded; `.ci/run` installs both when missing).

The daemon and the emulator run in this test's event loop, so every (blocking) WebDriver call
goes through a thread: the page is collected on that same loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from liverecd.emulator import Emulator

from .conftest import Serve, in_seconds, schedule

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1000",
)  # fmt: skip
PWNED = "pwned"
HOSTILE = f"<img src=x onerror=\"document.title='{PWNED}'\">"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile."""
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.access(path, os.X_OK), f"{path} missing: apt-get install chromium chromium-driver"
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch anything
    profile = tempfile.mkdtemp(prefix="liverecd-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def row_texts(driver: WebDriver, section: str) -> list[list[str]]:
    """The visible text of each body row of a section's table, cell by cell."""
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{section} tr")
    return [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows[1:]]


async def load(driver: WebDriver, url: str) -> None:
    await asyncio.to_thread(driver.get, url)


async def test_a_person_sees_recording_next_and_failed_with_hostile_text_inert(
    serve: Serve, emulator: Emulator, browser: WebDriver, tmp_path: Path
) -> None:
    emulator.respond_with("CodeConfigNotFound", 400, command="start", message=HOSTILE)
    files = {
        "a.yaml": schedule({
            "broken": [(in_seconds(0.3), in_seconds(60))],
            "news": [(in_seconds(1.0), in_seconds(60))],
            "later": [(in_seconds(3600), in_seconds(7200))],
        }, zone="Asia/Shanghai"),
        f"{HOSTILE}.yaml": "streams: [\n",
    }  # fmt: skip
    async with serve(files) as served:
        await asyncio.sleep(2.0)  # news is recording; broken has failed
        await load(browser, served.url + "/")
        recording = await asyncio.to_thread(row_texts, browser, "recording")
        upcoming = await asyncio.to_thread(row_texts, browser, "upcoming")
        errors = await asyncio.to_thread(row_texts, browser, "errors")
        files_shown = await asyncio.to_thread(row_texts, browser, "files")
        images = await asyncio.to_thread(browser.find_elements, By.TAG_NAME, "img")
        title = browser.title
        shot = tmp_path / "page.png"
        assert await asyncio.to_thread(browser.save_screenshot, str(shot))

    assert ["play.example.com/live/news", "recording"] in [r[:2] for r in recording]
    assert upcoming[0][0] == "play.example.com/live/later"
    assert "CST" in upcoming[0][2]  # local time in the schedule's zone (Asia/Shanghai)
    (error,) = errors
    assert error[1] == "play.example.com/live/broken" and error[3] == "CodeConfigNotFound"
    assert error[5] == HOSTILE  # shown as text, literally
    assert any(HOSTILE in cell for row in files_shown for cell in row)
    # "(unhealthy)": the refused start of "broken" keeps the daemon unhealthy for 10 min
    assert images == [] and title == "liverecd (unhealthy)" and PWNED not in title
    assert shot.stat().st_size > 10_000


async def test_the_stream_filter_form_works_without_javascript(
    serve: Serve, browser: WebDriver
) -> None:
    files = {"a.yaml": schedule({
        "news": [(in_seconds(3600), in_seconds(7200))],
        "sports": [(in_seconds(3700), in_seconds(7200))],
    })}  # fmt: skip
    async with serve(files) as served:
        await load(browser, served.url + "/")
        box = await asyncio.to_thread(browser.find_element, By.NAME, "stream")
        await asyncio.to_thread(box.send_keys, "sport")
        await asyncio.to_thread(box.submit)
        upcoming = await asyncio.to_thread(row_texts, browser, "upcoming")
        url = browser.current_url
    assert url.endswith("/?stream=sport")
    assert [r[0] for r in upcoming] == ["play.example.com/live/sports"]
