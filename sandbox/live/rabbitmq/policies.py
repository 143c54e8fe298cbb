"""Dead-lettering and the delivery limit as RabbitMQ policies, set on the broker by whoever owns the queue.

RabbitMQ recommends policies over queue arguments for both: arguments are fixed in every client's code, a
policy can change at any time (docs/dlx.md, docs/queues.md). A policy here matches exactly one queue name and
applies to queues only, so a plain `queue_declare(queue, durable=True)` from any client matches the queue and
it still dead-letters. The owner of the queue — the live engine, or a test — sets the policy before the
queue is used and clears it when the queue is deleted.

They go through the management HTTP API (PUT /api/policies/<vhost>/<name>), or, without it, `rabbitmqctl
set_policy` on a local node (always so on the lab's own nodes, which run without the management plugin). A queue
length limit is `max-length` with `overflow` (docs/maxlength.md recommends a policy too). A quorum
queue's delivery limit is `delivery-limit`; "no limit" (the knob's 0) is `-1` since RabbitMQ 4.0, whose quorum
queues are otherwise limited to 20 deliveries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pika

from sandbox.live.errors import LabError
from sandbox.live.rabbitmq import node
from sandbox.live.rabbitmq.broker import Topology
from sandbox.live.rabbitmq.management import ManagementApi, ManagementUnavailable

PRIORITY = 10
"""Above a blanket policy at the default priority 0: at most one policy applies to a queue, the highest."""
PREFIX = "post-office-lab."


class PolicyUnavailable(LabError):
    """Neither the management API nor rabbitmqctl could set a policy; the message says what to enable."""


@dataclass(frozen=True)
class QueuePolicy:
    """A policy for one queue, matched by its exact name."""

    queue: str
    definition: dict[str, Any]

    @property
    def name(self) -> str:
        return PREFIX + self.queue

    @property
    def pattern(self) -> str:
        return f"^{re.escape(self.queue)}$"

    def document(self) -> dict[str, Any]:
        """The body of PUT /api/policies/<vhost>/<name>."""
        return {"pattern": self.pattern, "definition": self.definition, "priority": PRIORITY, "apply-to": "queues"}


def major_version(version: str | None) -> int | None:
    """3 for "3.10.8"; None when unknown."""
    match = re.match(r"(\d+)\.", version or "")
    return int(match.group(1)) if match else None


def invalidation_policy(topology: Topology, delivery_limit: int, version: str | None, max_length: int = 0,
                        overflow: str = "drop-head") -> QueuePolicy:
    """The invalidation queue's policy: its dead-letter exchange, a quorum queue's delivery limit, and a length
    limit (`max-length`, with its `overflow`: drop-head, RabbitMQ's default, or reject-publish)."""
    definition: dict[str, Any] = {"dead-letter-exchange": topology.dead_letter_exchange}
    if max_length:
        definition |= {"max-length": max_length, "overflow": overflow}
    if topology.queue_type == "quorum":
        if delivery_limit:
            definition["delivery-limit"] = delivery_limit
        elif (major_version(version) or 0) >= 4:
            definition["delivery-limit"] = -1  # RabbitMQ 4's default is 20; the knob's 0 means none
    return QueuePolicy(topology.queue, definition)


class Policies:
    """Sets and clears the lab's policies in the virtual host of an AMQP URL."""

    def __init__(self, amqp_url: str, management: ManagementApi | None, node_name: str | None = None):
        """`node_name`: the local node rabbitmqctl talks to (None: the one it finds by default)."""
        params = pika.URLParameters(amqp_url)
        self.vhost, self.host = params.virtual_host, params.host
        self.management = management
        self.local = node.is_local(amqp_url)
        self.node_name = node_name

    def set(self, policy: QueuePolicy) -> str:
        """Set `policy`; return how ("the management API" or "rabbitmqctl"), or raise PolicyUnavailable."""
        problem = "no management API"
        if self.management is not None:
            try:
                self.management.put_policy(self.vhost, policy.name, policy.document())
                return "the management API"
            except ManagementUnavailable as exc:
                problem = str(exc)
        if self.local and node.rabbitmqctl(
                "set_policy", "-p", self.vhost, "--priority", str(PRIORITY), "--apply-to", "queues",
                policy.name, policy.pattern, json.dumps(policy.definition), node=self.node_name).ok:
            return "rabbitmqctl"
        rabbitmqctl = "rabbitmqctl failed" if self.local else f"no rabbitmqctl controls the node at {self.host}"
        raise PolicyUnavailable(
            f"cannot set the policy {policy.name!r} ({problem}; {rabbitmqctl}): enable the management API "
            "(rabbitmq-plugins enable rabbitmq_management) and check RABBITMQ_MANAGEMENT_URL")

    def clear(self, policy: QueuePolicy) -> None:
        """Clear `policy`, best effort: a policy left behind matches only a queue name nobody else uses."""
        self.delete(policy.name)

    def delete(self, name: str) -> None:
        """Delete the policy called `name`, best effort."""
        if self.management is not None:
            try:
                self.management.delete_policy(self.vhost, name)
                return
            except ManagementUnavailable:
                pass
        if self.local:
            node.rabbitmqctl("clear_policy", "-p", self.vhost, name, node=self.node_name)
