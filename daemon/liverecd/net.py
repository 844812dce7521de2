"""Which hosts count as this machine (the one rule for plain `http://` endpoints, callback
listeners and the emulator's bind and control checks), and a loopback port to listen on."""

from __future__ import annotations

import contextlib
import ipaddress
import random
import socket
from pathlib import Path


def is_loopback(host: str) -> bool:
    """True for `localhost` (any case) and loopback addresses: 127.0.0.0/8, ::1, an IPv4
    loopback address mapped into IPv6 (what a dual-stack socket reports), with or without
    the brackets of a URL."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def free_port() -> int:
    """A free loopback port for a listener whose port is written down before it binds (the
    demo's callback receiver, a test's server). Taken below the kernel's ephemeral range, where
    no port the kernel hands out (another listener's port 0, any outgoing connection) can take
    it in between."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()  # noqa: S311 - a port, not a secret
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    with socket.socket() as sock:  # a crowded host: any port the kernel gives
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
