"""Reading the broker from outside: how many messages wait in a queue, right now.

Ready messages come from a passive queue_declare, which RabbitMQ answers from the queue itself, so the
count is exact at that moment. Unacked messages come from the management HTTP API when it is enabled;
the API refreshes its numbers once per statistics interval (5 s by default), so they trail a little.
"""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import httpx
import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel


class QueueProbe:
    def __init__(self, amqp_url: str, management_url: str, timeout_s: float = 1.0):
        self._params = pika.URLParameters(amqp_url)
        self._params.connection_attempts = 1
        self._params.socket_timeout = timeout_s
        self._management_url = management_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout_s)
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def depth(self, queue: str) -> tuple[int, int]:
        """(ready, unacked) for `queue`; (0, 0) while the broker cannot be reached or the queue does not exist."""
        return self.ready(queue) or 0, self.unacked(queue)

    def ready(self, queue: str) -> int | None:
        """Messages ready in `queue` now: 0 when it does not exist, None when the broker cannot be reached."""
        try:
            if self._channel is None or self._channel.is_closed:
                if self._connection is None or self._connection.is_closed:
                    self._connection = pika.BlockingConnection(self._params)
                self._channel = self._connection.channel()
            return self._channel.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:  # 404: not declared (yet, or any more)
            self._channel = None
            return 0
        except pika.exceptions.AMQPError:
            self._connection = self._channel = None
            return None

    def unacked(self, queue: str) -> int:
        credentials = self._params.credentials
        auth = (credentials.username, credentials.password) if isinstance(credentials, pika.PlainCredentials) else None
        url = f"{self._management_url}/api/queues/{quote(self._params.virtual_host, safe='')}/{quote(queue, safe='')}"
        try:
            response = self._http.get(url, auth=auth)
            return int(response.json().get("messages_unacknowledged", 0)) if response.status_code == 200 else 0
        except (httpx.HTTPError, ValueError):
            return 0

    def close(self) -> None:
        self._http.close()
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()
        self._connection = self._channel = None
