"""The User Service's PUT /user/{id}: in the queue variant, a user.updated event the blog's directory applies."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sandbox.sim.broker import Broker
from sandbox.sim.context import Context
from sandbox.sim.directory import Directory
from sandbox.sim.faults import DOWN
from sandbox.sim.outcome import OK, Outcome


class User:
    def __init__(self, ctx: Context, broker: Broker | None, names: Directory | None = None):
        self.ctx = ctx
        self.broker = broker
        self.names = names
        self.directory = {"applied": 0, "missed": 0}
        """Profile changes the blog's local directory applied, and those a down broker never carried."""

    def update(self) -> Generator[Any, Any, Outcome]:
        if self.broker is None:
            return OK
        if self.broker.state == DOWN:
            self.directory["missed"] += 1
            return OK
        yield self.ctx.env.timeout(self.ctx.knobs.broker.rtt_ms / 1000.0)
        self.directory["applied"] += 1
        if self.names is not None:
            self.names.publish()
        return OK
