"""What the live benchmarks share: running a scenario on the lab while something else may restart RabbitMQ.

The lab shares its RabbitMQ node with whatever else runs on the machine. An idle AMQP connection is held
through each run; if something restarts the node meanwhile (which closes every connection) the run is
repeated once when the wall budget allows.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pika

from sandbox.engine import run_scenario
from sandbox.live.engine import LiveEngine
from sandbox.live.servers import LabUnavailable, check_rabbitmq
from sandbox.model.measurements import Measurements
from sandbox.model.scenario import Scenario

MAX_ATTEMPTS = 2  # a live run is repeated at most once
BROKER_WAIT_S = 20.0
RABBITMQ_URL = os.environ.get("RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass
class LiveRun:
    measurements: dict[str, Measurements]
    broker_restarted: bool
    attempts: int
    wall_s: float


class BrokerWatch:
    """An idle AMQP connection held through a run: a node restart (stop_app/start_app) closes it."""

    def __init__(self, url: str):
        params = pika.URLParameters(url)
        params.heartbeat = 0  # idle for the whole run: no heartbeats, so only the broker can close it
        params.connection_attempts = 1
        params.socket_timeout = 2.0
        self.connection = pika.BlockingConnection(params)

    def restarted(self) -> bool:
        try:
            self.connection.process_data_events(time_limit=0)
        except Exception:  # pika raises several types (and plain ValueErrors) from a connection that died
            return True
        return not self.connection.is_open

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except Exception:  # already gone: nothing to release
            pass


def wait_for_broker(deadline_s: float) -> None:
    """Return once RabbitMQ answers (something else may be restarting the node), or raise LabUnavailable."""
    while True:
        try:
            check_rabbitmq(RABBITMQ_URL)
            return
        except LabUnavailable:
            if time.monotonic() > deadline_s:
                raise
            time.sleep(0.5)


def run_live_once(scenario: Scenario, seed: int) -> tuple[dict[str, Measurements], bool]:
    wait_for_broker(time.monotonic() + BROKER_WAIT_S)
    watch = BrokerWatch(RABBITMQ_URL)
    try:
        engine = LiveEngine(scenario)
        try:
            run_scenario(scenario, engine, seed)
        finally:
            engine.close()
        return {v.name: engine.measurements(v.name) for v in scenario.variants}, watch.restarted()
    finally:
        watch.close()


def run_live(scenario: Scenario, seed: int, started_s: float, runs_left: int, budget_s: float,
             reserve_s: float = 0.0) -> LiveRun:
    """The scenario on the lab; once more if the broker was restarted under it and the wall budget allows."""
    attempts = 0
    while True:
        attempts += 1
        t0 = time.monotonic()
        measurements, restarted = run_live_once(scenario, seed)
        wall_s = time.monotonic() - t0
        used_s = time.monotonic() - started_s
        if not restarted or attempts == MAX_ATTEMPTS or used_s + wall_s * (runs_left + 1) + reserve_s > budget_s:
            return LiveRun(measurements, restarted, attempts, wall_s)
