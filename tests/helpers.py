"""Shared test helpers: scenarios built from plain dicts, and the live-server switch."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.engine import RunResult, run_scenario
from sandbox.model.scenario import Scenario, parse_scenario
from sandbox.sim.engine import SimEngine

REQUIRE_LIVE = os.environ.get("SANDBOX_REQUIRE_LIVE") == "1"
# a broker in a service container (the GitHub workflow) is no node of the lab's to restart: CI says so with 0
REQUIRE_NODE_RESTART = REQUIRE_LIVE and os.environ.get("SANDBOX_REQUIRE_NODE_RESTART", "1") == "1"
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MANAGEMENT_URL = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")


def scenario(duration: float = 30, **fields: Any) -> Scenario:
    """A valid scenario document with sensible defaults, overridden by `fields`."""
    doc: dict[str, Any] = {"title": "test", "duration": duration, **fields}
    return parse_scenario(doc, "<test>")


def run(s: Scenario, seed: int | None = None) -> RunResult:
    seed = s.seed if seed is None else seed
    return run_scenario(s, SimEngine(s, seed), seed)


def observe(result: RunResult, variant: str, metric: str, start: float = 0, end: float | None = None) -> float:
    end = result.scenario.duration_s if end is None else end
    value = result.engine.measurements(variant).observe(metric, start, end)
    assert value is not None, f"nothing measured for {variant} {metric} in [{start}, {end})"
    return value


@contextlib.contextmanager
def one_at_a_time(name: str) -> Iterator[None]:
    """Hold the machine-wide lock `name` for the block: for the few tests that are not independent of each other
    (one standing lab per broker), so that they never overlap, not even on two pytest-xdist workers."""
    with open(Path(tempfile.gettempdir()) / f"pol-tests-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def unavailable(reason: str, start_with: str, required: bool = REQUIRE_LIVE) -> None:
    """Skip a test that needs a server, or fail it when CI requires the live lab."""
    message = f"{reason}; start it with: {start_with}"
    if required:
        pytest.fail(f"SANDBOX_REQUIRE_LIVE=1 but {message}")
    pytest.skip(message)


@contextlib.contextmanager
def serving(app, port: int | None = None):
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; yield its base URL; stop it after."""
    import uvicorn

    from sandbox.live.processes.ports import free_port

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def classroom_of_two() -> Iterator[tuple[str, Any]]:
    """`open --workers 2`: nginx and two Streamlit workers of this tree's code on a free loopback port; the proxy's
    URL and the running classroom. Unavailable without nginx; every process is stopped afterwards."""
    from pathlib import Path

    from sandbox.live.processes.ports import free_port
    from sandbox.ui import classroom
    from sandbox.ui.launch import LaunchError

    try:
        classroom.find_nginx()
    except LaunchError as exc:
        unavailable(str(exc), classroom.INSTALL_NGINX)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    port = free_port()
    with classroom.classroom(2, port, env=env, extra_flags=("--server.fileWatcherType", "none")) as running:
        yield f"http://127.0.0.1:{port}", running
