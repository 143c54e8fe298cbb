"""Reading the broker from outside: how many messages wait in a queue, right now.

Ready messages come from a passive queue_declare, which RabbitMQ answers from the queue itself, so the
count is exact at that moment (an exclusive queue answers only its own connection: its worker reports it). A classic
queue whose node is down cannot be counted at all: its messages wait on that node's disk, and the count is unknown.
Unacked messages come from the management HTTP API when it is there; the API refreshes its numbers once per
statistics interval (5 s by default), so they trail a little.
"""

from __future__ import annotations

import contextlib

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from sandbox.live.rabbitmq.broker import Urls, each_url
from sandbox.live.rabbitmq.management import ManagementApi, ManagementUnavailable

HOME_NODE_DOWN = "is down or inaccessible"
"""RabbitMQ's words (404) for a classic queue whose node is down."""


class QueueProbe:
    def __init__(self, urls: Urls, management: ManagementApi | None, timeout_s: float = 1.0):
        self._params = [pika.URLParameters(url) for url in each_url(urls)]
        for params in self._params:
            params.connection_attempts = 1
            params.socket_timeout = timeout_s
        self._vhost = self._params[0].virtual_host
        self._management = management
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def ready(self, queue: str) -> int | None:
        """Messages ready in `queue` now: 0 when it does not exist, None when the broker or the queue's node cannot be
        reached."""
        try:
            if self._channel is None or self._channel.is_closed:
                if self._connection is None or self._connection.is_closed:
                    self._connection = pika.BlockingConnection(self._params)
                self._channel = self._connection.channel()
            return self._channel.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker as exc:  # 404: not declared (yet, or any more), or its node down
            self._channel = None
            return None if HOME_NODE_DOWN in exc.reply_text else 0
        except pika.exceptions.AMQPError:
            self._connection = self._channel = None
            return None

    def unacked(self, queue: str) -> int:
        """Messages delivered from `queue` and not yet acked, as the management API last counted them (0 without it)."""
        if self._management is None:
            return 0
        try:
            stats = self._management.queue(self._vhost, queue)
        except ManagementUnavailable:
            return 0
        return int((stats or {}).get("messages_unacknowledged", 0) or 0)

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()
        self._connection = self._channel = None
