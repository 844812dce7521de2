"""Which hosts count as this machine: the one rule for plain `http://` endpoints, callback
listeners and the emulator's bind and control checks."""

from __future__ import annotations

import ipaddress


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
