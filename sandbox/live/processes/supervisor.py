"""Run each lab service as its own process on 127.0.0.1, kill it for real, bring it back, leave nothing behind.

Children get SIGKILL when the supervisor's process dies, even by SIGKILL (Linux PR_SET_PDEATHSIG). That
signal follows the *thread* that forked the child, so every child is forked by one launcher thread that
lives as long as the supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sandbox.live.errors import LabError
from sandbox.live.processes.ports import hold_port, port_in_use

_PR_SET_PDEATHSIG = 1


class SupervisorError(LabError):
    """A service could not be started or did not become healthy; the message says what to do."""


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service: its command, environment, and (for HTTP services) port and health path."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    health_path: str = "/health"


def python_module(module: str, *args: str) -> tuple[str, ...]:
    """argv that runs `python -m module args` with this interpreter."""
    return (sys.executable, "-m", module, *args)


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _Launcher(threading.Thread):
    """The one thread that forks children, so their parent-death signal lasts as long as the supervisor."""

    def __init__(self) -> None:
        super().__init__(name="lab-launcher", daemon=True)
        self._jobs: queue.Queue[tuple[Callable[[], subprocess.Popen], queue.Queue] | None] = queue.Queue()
        self.start()

    def run(self) -> None:
        while (job := self._jobs.get()) is not None:
            spawn, answer = job
            try:
                answer.put(spawn())
            except Exception as exc:  # handed back to the caller's thread
                answer.put(exc)

    def spawn(self, spawn: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        answer: queue.Queue = queue.Queue()
        self._jobs.put((spawn, answer))
        result = answer.get()
        if isinstance(result, Exception):
            raise result
        return result

    def stop(self) -> None:
        self._jobs.put(None)
        self.join(timeout=5)


class Supervisor:
    """Starts, kills (SIGKILL), revives and finally stops the lab's processes."""

    def __init__(self, log_dir: Path, health_timeout_s: float = 20.0):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.health_timeout_s = health_timeout_s
        self.specs: dict[str, ServiceSpec] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self._held_ports: dict[str, socket.socket] = {}  # a killed service's port, kept for its revival
        self._launcher = _Launcher()
        self._closed = False

    def start(self, spec: ServiceSpec) -> subprocess.Popen:
        """Run `spec`; for an HTTP service, return once its health endpoint answers 200."""
        if spec.port is not None and port_in_use(spec.port):
            raise SupervisorError(f"port {spec.port} on 127.0.0.1 is in use, so {spec.name} cannot listen there; "
                                  "stop what holds it or let the lab pick a free port")
        self.specs[spec.name] = spec
        log = open(self.log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115 - the child owns it
        env = {**os.environ, **spec.env}
        try:
            process = self._launcher.spawn(lambda: subprocess.Popen(
                spec.argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, close_fds=True))
        finally:
            log.close()
        self.processes[spec.name] = process
        if spec.port is not None:
            try:
                self._await_health(spec, process)
            finally:
                self._release_port(spec.name)
        return process

    def _await_health(self, spec: ServiceSpec, process: subprocess.Popen) -> None:
        url = f"http://127.0.0.1:{spec.port}{spec.health_path}"
        deadline = time.monotonic() + self.health_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise SupervisorError(f"{spec.name} exited with code {process.returncode} while starting: "
                                          f"{self.last_log_line(spec.name)}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(url).status_code == 200:
                        return
                time.sleep(0.05)
        self.kill(spec.name)
        raise SupervisorError(f"{spec.name} did not answer {url} within {self.health_timeout_s:g} s; "
                              f"its log: {self.log_dir / (spec.name + '.log')}")

    def last_log_line(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        return lines[-1] if lines else "(no output)"

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str) -> None:
        """A real death: SIGKILL, no chance to clean up or answer in-flight requests."""
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
            port = self.specs[name].port
            if port is not None and name not in self._held_ports:
                holder = hold_port(port)
                if holder is not None:
                    self._held_ports[name] = holder

    def _release_port(self, name: str) -> None:
        holder = self._held_ports.pop(name, None)
        if holder is not None:
            holder.close()

    def revive(self, name: str) -> subprocess.Popen:
        """Start a killed service again with the same command and port."""
        if self.alive(name):
            return self.processes[name]
        return self.start(self.specs[name])

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items() if p.poll() is None}

    def close(self, grace_s: float = 3.0) -> None:
        """SIGTERM every child, SIGKILL those still running after `grace_s`; idempotent."""
        if self._closed:
            return
        self._closed = True
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for name in list(self._held_ports):
            self._release_port(name)
        self._launcher.stop()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
