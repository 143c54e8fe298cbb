"""Ports on 127.0.0.1: a free one to listen on, whether one is taken, and keeping one while its server is down."""

from __future__ import annotations

import socket

_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and this process has not handed out before
    (the kernel may offer a just-released port again, to a proxy binding port 0, say)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


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
