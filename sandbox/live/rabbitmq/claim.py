"""One standing lab per broker: the exact names `cache-invalidation` and friends belong to the lab holding the claim.

The claim is an exclusive queue, `post-office-lab.standing-lab`, on a connection the standing lab keeps open, with
the owner's pid and checkout in its arguments. RabbitMQ lets only that connection have it: another lab declaring it
gets RESOURCE_LOCKED (405) and is refused in one line naming the owner (read from the management API when it is
there), and the claim vanishes with its connection, so a lab killed by SIGKILL leaves none behind.
"""

from __future__ import annotations

import contextlib

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingConnection

from sandbox.live.errors import LabError
from sandbox.live.rabbitmq.broker import Urls, each_url
from sandbox.live.rabbitmq.management import ManagementApi, ManagementUnavailable

QUEUE = "post-office-lab.standing-lab"
PID, CHECKOUT = "x-post-office-lab-pid", "x-post-office-lab-checkout"
RESOURCE_LOCKED = 405


class Claimed(LabError):
    """Another standing lab holds the claim on this broker; the message names it and how to stop it."""


class Claim:
    """The standing lab's claim, held for as long as it runs."""

    def __init__(self, urls: Urls, pid: int, checkout: str, management: ManagementApi | None):
        self.urls = each_url(urls)
        self.pid = pid
        self.checkout = checkout
        self.management = management
        self._connection: BlockingConnection | None = None

    def take(self) -> None:
        """Declare the claim; raise Claimed naming the owner when another lab holds it."""
        parameters = []
        for url in self.urls:
            params = pika.URLParameters(url)
            params.heartbeat = 0  # held idle for the lab's life: only the lab's end (or the broker's) closes it
            params.connection_attempts, params.socket_timeout = 1, 3.0
            parameters.append(params)
        connection = pika.BlockingConnection(parameters)
        try:
            connection.channel().queue_declare(QUEUE, exclusive=True, auto_delete=True,
                                               arguments={PID: self.pid, CHECKOUT: self.checkout})
        except pika.exceptions.ChannelClosedByBroker as exc:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
            if exc.reply_code != RESOURCE_LOCKED:
                raise
            raise Claimed(f"another standing lab owns the queue cache-invalidation on this broker ({self._owner()}); "
                          "stop it from its checkout with: python -m sandbox lab down") from None
        self._connection = connection

    def _owner(self) -> str:
        """Who holds the claim, as the management API says; a hint when it cannot say."""
        if self.management is not None:
            with contextlib.suppress(ManagementUnavailable):
                queue = self.management.queue(pika.URLParameters(self.urls[0]).virtual_host, QUEUE) or {}
                arguments = queue.get("arguments") or {}
                if PID in arguments:
                    return f"process {arguments[PID]}, checkout {arguments.get(CHECKOUT, '?')}"
        return "its process and checkout are shown by the management API, which does not answer here"

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()


def held(connection: BlockingConnection) -> bool:
    """Some standing lab holds the claim now (asked on `connection`, which is not the holder's)."""
    try:
        connection.channel().queue_declare(QUEUE, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        return exc.reply_code == RESOURCE_LOCKED
    return True
