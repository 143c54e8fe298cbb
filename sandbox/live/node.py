"""The local RabbitMQ node through its own command-line tools: rabbitmqctl and rabbitmq-diagnostics.

The lab uses them only for a node on this machine (RABBITMQ_URL on 127.0.0.1 or localhost): to restart it for
real (`restart broker`), to set its policies when the management API is not there, and to ask its version.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost")
TIMEOUT_S = 90


def run(tool: str, *args: str) -> str | None:
    """`tool -q args...`: its standard output, or None when it is missing or fails."""
    try:
        done = subprocess.run([tool, "-q", *args], capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def rabbitmqctl(*args: str) -> bool:
    """One rabbitmqctl command (with a 60 s timeout of its own); True when it succeeded."""
    return run("rabbitmqctl", "--timeout", "60", *args) is not None


def is_local(amqp_url: str) -> bool:
    """The broker of `amqp_url` runs on this machine, where rabbitmqctl could reach it."""
    return urlsplit(amqp_url).hostname in LOCAL_HOSTS and shutil.which("rabbitmqctl") is not None


def controls(amqp_url: str) -> bool:
    """rabbitmqctl controls the node of `amqp_url`: it is local and answers `rabbitmqctl status`."""
    return is_local(amqp_url) and rabbitmqctl("status")


def start() -> None:
    """Start the node's app again (after `rabbitmqctl stop_app`) and wait until it is up."""
    if rabbitmqctl("start_app"):
        rabbitmqctl("await_startup")


def server_version() -> str | None:
    """The local node's RabbitMQ version, e.g. "3.10.8"; None when rabbitmq-diagnostics cannot tell."""
    output = run("rabbitmq-diagnostics", "server_version")
    if output is None or not output.strip():
        return None
    return output.strip()


class LocalNode:
    """The RabbitMQ node `restart broker` (for every variant) restarts for real, when rabbitmqctl controls it.

    Its commands run one after another on a thread of their own, so a slow stop (seconds, while the node closes
    connections) does not hold up the lab's clock."""

    def __init__(self, amqp_url: str):
        self.amqp_url = amqp_url
        self._controlled: bool | None = None
        self._commands = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabbitmqctl")
        self._timers: list[threading.Timer] = []

    @property
    def controlled(self) -> bool:
        """Asked once: the node is local and answers `rabbitmqctl status`."""
        if self._controlled is None:
            self._controlled = controls(self.amqp_url)
        return self._controlled

    @property
    def asked(self) -> bool:
        return self._controlled is not None

    def no_restart(self) -> str:
        """What `restart broker` does when the lab cannot restart the node (a broker in another container, say)."""
        host = urlsplit(self.amqp_url).hostname or "127.0.0.1"
        return (f"the lab does not control the RabbitMQ node at {host} (that takes a node on 127.0.0.1 or localhost "
                "and rabbitmqctl), so `restart broker` only cuts every connection at the proxies: the node keeps "
                "its queues and messages, and nothing a real restart loses is lost")

    def restart(self, down_s: float) -> None:
        """Stop the node's app (what is not durable and persistent is gone), start it again after `down_s`."""
        self._commands.submit(rabbitmqctl, "stop_app")
        timer = threading.Timer(down_s, self._commands.submit, (start,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def close(self) -> None:
        """Never leave the node stopped: start its app (a no-op when it runs) and wait for the commands."""
        for timer in self._timers:
            timer.cancel()
        if self._controlled:
            self._commands.submit(start)
        self._commands.shutdown(wait=True)
