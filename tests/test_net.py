"""The one loopback rule (liverecd.net): plain http:// endpoints, the emulator's bind and
control checks and the config all ask it; and the port a listener writes down before binding."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from liverecd.net import free_port, is_loopback


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


def test_free_port_is_below_the_ephemeral_range_and_can_be_bound() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    port = free_port()
    assert 1024 <= port < low
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing took it
