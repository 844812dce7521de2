"""The one loopback rule (liverecd.net): plain http:// endpoints, the emulator's bind and
control checks and the config all ask it."""

from __future__ import annotations

import pytest

from liverecd.net import is_loopback


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"],
)
def test_this_machine_is_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["", "example.com", "localhost.example.com", "10.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1"],
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)
