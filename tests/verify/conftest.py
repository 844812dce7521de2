"""Verification runs beside the daemon in-process, against an emulator whose index reports
milliseconds (so windows of a few seconds measure coverage to the percent)."""

from __future__ import annotations

import pytest

from conftest import EmulatorFactory
from engine.conftest import workspace  # noqa: F401 - the fixture, shared with the engine tests
from liverecd.emulator import Emulator


@pytest.fixture
async def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """Stop delay 0.5 s; index times with milliseconds."""
    return await emulator_factory(index_millis=True)
