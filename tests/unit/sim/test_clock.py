"""The engine's clock and tasks keep SimPy's order of events exactly (golden frames depend on it)."""

from __future__ import annotations

from functools import partial

import simpy
from simpy.events import URGENT

from sandbox.sim.clock import Clock
from sandbox.sim.task import Task


def _note(fired: list[str], name: str, _: object) -> None:
    fired.append(name)


def _schedule_mixed(env: simpy.Environment, fired: list[str], use_calls: bool) -> None:
    """Timeouts (or calls) at equal and distinct times, and URGENT events at the stop time."""
    for name, delay in (("a", 1.0), ("b", 2.0), ("c", 1.0), ("d", 2.0), ("e", 0.5)):
        note = partial(_note, fired, name)
        if use_calls and isinstance(env, Clock):
            env.call_in(delay, note)
        else:
            env.timeout(delay).callbacks.append(note)
    urgent = env.event()
    urgent._ok, urgent._value = True, None
    urgent.callbacks.append(lambda _: fired.append("urgent at 2"))
    env.schedule(urgent, URGENT, 2.0)


def _fired(env: simpy.Environment, use_calls: bool, *stops: float) -> list[list[str]]:
    """What fired by each stop, running `env` with run(until=...) or, for a Clock, with run_to."""
    fired: list[str] = []
    _schedule_mixed(env, fired, use_calls)
    seen = []
    for stop in stops:
        env.run_to(stop) if isinstance(env, Clock) else env.run(until=stop)
        seen.append(list(fired))
    return seen


def test_run_to_processes_what_run_until_processes():
    by_simpy = _fired(simpy.Environment(), False, 2.0, 3.0)
    by_clock = _fired(Clock(), False, 2.0, 3.0)
    assert by_clock == by_simpy
    assert by_clock[0] == ["e", "a", "c", "urgent at 2"]


def test_a_call_fires_where_a_timeout_made_at_that_moment_would():
    assert _fired(Clock(), True, 5.0) == _fired(simpy.Environment(), False, 5.0)


def test_call_soon_goes_before_the_moments_other_events_as_a_process_start_does():
    clock = Clock()
    fired: list[str] = []
    clock.call_in(0, lambda _: fired.append("timeout now"))
    clock.call_soon(lambda _: fired.append("soon"))
    clock.run_to(1.0)
    assert fired == ["soon", "timeout now"]


def _waiter(env: simpy.Environment, log: list[tuple[float, str]]):
    try:
        yield env.timeout(5.0)
        log.append((env.now, "slept"))
    except simpy.Interrupt as interrupt:
        log.append((env.now, f"interrupted: {interrupt.cause}"))
        yield env.timeout(1.0)
    return "done"


def test_a_task_steps_and_is_interrupted_as_a_process_is():
    env, clock = simpy.Environment(), Clock()
    by_process: list[tuple[float, str]] = []
    by_task: list[tuple[float, str]] = []
    process = env.process(_waiter(env, by_process))
    returned: list[str] = []
    task = Task(clock, _waiter(clock, by_task), returned.append)
    env.run(until=2.0)
    clock.run_to(2.0)
    assert task.is_alive and task.target is not None
    process.interrupt("killed")
    task.interrupt("killed")
    env.run(until=10.0)
    clock.run_to(10.0)
    assert by_task == by_process == [(2.0, "interrupted: killed")]
    assert returned == [process.value] == ["done"]
    assert not task.is_alive


def test_while_a_task_steps_it_is_the_active_process():
    clock = Clock()
    seen = []

    def steps():
        seen.append(clock.active_process)
        yield clock.timeout(1.0)
        seen.append(clock.active_process)

    task = Task(clock, steps(), lambda _: None)
    clock.run_to(2.0)
    assert seen == [task, task]
    assert clock.active_process is None
