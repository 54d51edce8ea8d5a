"""Free loopback ports for the processes a test, benchmark or local stack starts.

A port the kernel picks (bind to port 0) comes from its ephemeral range, which is also where every outgoing
connection (Kafka and PostgreSQL clients) gets its local port: between picking the port and the process binding
it, a client could take it ("Address already in use", seen in CI). So ports come from below that range, are
checked free, and are never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["PORTS_FROM", "free_port"]

PORTS_FROM = 20_000
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free now, below the ephemeral range, not handed out before by this process."""
    low = _ephemeral_low()
    for _ in range(500):
        port = random.randint(PORTS_FROM, low - 1) if low > PORTS_FROM else 0
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            # SO_REUSEADDR like the JVM's and PostgreSQL's server sockets: a port whose last connections linger in
            # TIME_WAIT is free to them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port found below the ephemeral range")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default
