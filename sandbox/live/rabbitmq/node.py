"""RabbitMQ on this machine, through RabbitMQ's own tools: rabbitmq-server starts a node, rabbitmqctl controls one.

The lab starts nodes of its own (cluster.py) only when RABBITMQ_URL names this machine and RabbitMQ is installed
here. Run by root, a node and the tools that talk to it run as the `rabbitmq` user, whose home holds the Erlang
cookie every local node shares, by way of setpriv (not a set-user-ID program, so the parent-death signal it sets
survives: a node dies with the lab that started it, even when the lab is killed by SIGKILL). Run by anyone else,
they run as that user, with that user's cookie.

On a node it did not start, the lab uses rabbitmqctl only to set policies when the management API is not there
and to ask the version; it never stops or starts such a node.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost")
TIMEOUT_S = 90
SERVICE_USER = "rabbitmq"


@dataclass(frozen=True)
class Tools:
    """Where RabbitMQ's scripts are (the real ones, not Debian's `su` wrappers in /usr/sbin) and whom they run as."""

    bin_dir: Path
    user: str | None  # run as this user by way of setpriv; None: as ourselves
    home: str  # HOME for the tools and nodes: where the Erlang cookie is

    def argv(self, tool: str, *args: str, die_with_parent: bool = False) -> list[str]:
        """The command line that runs `tool args` as the right user (`die_with_parent`: SIGKILL when we die)."""
        command = [str(self.bin_dir / tool), *args]
        if self.user is None:
            return command
        death = ["--pdeathsig=KILL"] if die_with_parent else []
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--init-groups", *death, *command]

    def env(self) -> dict[str, str]:
        return {"HOME": self.home}

    def chown(self, path: Path) -> None:
        """Give `path` to the user the nodes run as."""
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)


@functools.cache
def tools() -> Tools | None:
    """RabbitMQ's tools on this machine; None when rabbitmq-server is not installed (or, as root, setpriv is not)."""
    found = shutil.which("rabbitmq-server")
    if found is None:
        return None
    bin_dir = Path(os.path.realpath(found)).parent  # Debian: /usr/sbin/rabbitmq-server -> /usr/lib/rabbitmq/bin/...
    if not (bin_dir / "rabbitmq-server").is_file() or not (bin_dir / "rabbitmqctl").is_file():
        return None
    if os.geteuid() != 0:
        return Tools(bin_dir, None, os.environ.get("HOME", str(Path.home())))
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return Tools(bin_dir, None, os.environ.get("HOME", "/root"))
    if shutil.which("setpriv") is None:
        return None
    return Tools(bin_dir, SERVICE_USER, entry.pw_dir)


def is_local(amqp_url: str) -> bool:
    """The broker of `amqp_url` runs on this machine, where rabbitmqctl could reach it."""
    return urlsplit(amqp_url).hostname in LOCAL_HOSTS and tools() is not None


def own_nodes_missing(amqp_url: str) -> str:
    """What this machine lacks for the lab to start RabbitMQ nodes of its own; "" when nothing."""
    if urlsplit(amqp_url).hostname not in LOCAL_HOSTS:
        return f"RABBITMQ_URL names {urlsplit(amqp_url).hostname}, not this machine (127.0.0.1 or localhost)"
    if tools() is None:
        return ("RabbitMQ is not installed here (no rabbitmq-server on PATH"
                + (", or no setpriv to run it as the rabbitmq user" if os.geteuid() == 0 else "") + ")")
    return ""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    output: str  # standard output, or what went wrong


def rabbitmqctl(*args: str, node: str | None = None, timeout_s: float = TIMEOUT_S) -> Outcome:
    """`rabbitmqctl -q [-n node] args...` as the right user; `node` None: the node rabbitmqctl finds by default."""
    return _tool("rabbitmqctl", args, node, timeout_s)


def tool(name: str, *args: str, node: str | None = None, timeout_s: float = TIMEOUT_S) -> Outcome:
    """`name -q [-n node] args...` for another of RabbitMQ's tools (rabbitmq-queues, rabbitmq-diagnostics)."""
    return _tool(name, args, node, timeout_s)


def _tool(tool: str, args: tuple[str, ...], node: str | None, timeout_s: float) -> Outcome:
    found = tools()
    if found is None:
        return Outcome(False, f"{tool} is not installed")
    target = ("-n", node) if node else ()
    try:
        done = subprocess.run(found.argv(tool, "-q", *target, *args), capture_output=True, text=True,
                              timeout=timeout_s, env={**os.environ, **found.env()})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(False, str(exc))
    if done.returncode != 0:
        return Outcome(False, " ".join((done.stderr or done.stdout).split()) or f"exit code {done.returncode}")
    return Outcome(True, done.stdout)


def server_version(node: str | None = None) -> str | None:
    """A local node's RabbitMQ version, e.g. "3.10.8"; None when rabbitmq-diagnostics cannot tell."""
    outcome = _tool("rabbitmq-diagnostics", ("server_version",), node, 30)
    version = outcome.output.strip()
    return version if outcome.ok and version else None
