"""Ports on 127.0.0.1: a free one to listen on, whether one is taken, and keeping one while its server is down."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_handed_out: set[int] = set()
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
FIXED_PORTS = range(20_000, 32_768)
"""Where `free_port` looks: below Linux's default ephemeral range (32768-60999)."""
RABBITMQ_PORTS = frozenset({25_672})
"""A default RabbitMQ node's distribution port, left to it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral range, and never
    handed out before by this process.

    The kernel never picks such a port as the source port of an outgoing connection (nor for a bind to port 0), so
    between the moment a port is chosen and the moment its server listens no client of this or another run on the
    machine takes it, and a server that is killed and started again (a RabbitMQ node) finds its port free."""
    low = _ephemeral_low()
    stop = min(FIXED_PORTS.stop, low) if low > FIXED_PORTS.start + 1000 else FIXED_PORTS.stop
    while True:
        port = random.randrange(FIXED_PORTS.start, stop)
        if port not in _handed_out and port not in RABBITMQ_PORTS and not port_in_use(port):
            _handed_out.add(port)
            return port


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return FIXED_PORTS.stop


def port_in_use(port: int) -> bool:
    """Something listens on 127.0.0.1:port (connections lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def hold_port(port: int) -> socket.socket | None:
    """Bind `port` without listening, until the returned socket is closed; None when it is taken already.

    While a server is down its port is free, and the kernel may hand it out as the source port of an
    outgoing connection — even of a client reconnecting to that very port, which then connects to
    itself — so the server could not listen there again. A bound socket keeps the kernel off the port;
    connecting to it is still refused, and a server binding it with SO_REUSEADDR may listen beside it.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", port))
    except OSError:
        holder.close()
        return None
    return holder
