"""The engines wired in one place: pick one by name, say why the live lab cannot run, run a scenario."""

from __future__ import annotations

from sandbox.engine import Engine
from sandbox.model.scenario import Scenario
from sandbox.runner import RunResult, run_scenario
from sandbox.sim.engine import SimEngine

ENGINES = {"sim": "Simulation", "live": "Live lab"}


def live_unavailable(timeout_s: float = 2.0) -> str | None:
    """Why the live lab cannot run here (RabbitMQ unreachable or refusing us), or None when it can."""
    from sandbox.live.servers import LabUnavailable, check_rabbitmq, rabbitmq_url  # pika loads only when asked for

    try:
        check_rabbitmq(rabbitmq_url(), timeout_s)
    except LabUnavailable as exc:
        return str(exc)
    return None


def make_engine(name: str, scenario: Scenario, seed: int) -> Engine:
    if name == "live":
        from sandbox.live.engine import LiveEngine  # the lab's dependencies load only when asked for

        return LiveEngine(scenario, seed)
    return SimEngine(scenario, seed)


def run_one(scenario: Scenario, seed: int | None = None, engine_name: str = "sim") -> RunResult:
    """Run a scenario on one engine (the lab on its own clock, `[live] duration`) and release the engine."""
    seed = scenario.seed if seed is None else seed
    if engine_name == "live":
        scenario = scenario.on_live_clock()
    engine = make_engine(engine_name, scenario, seed)
    try:
        return run_scenario(scenario, engine, seed)
    finally:
        engine.close()
