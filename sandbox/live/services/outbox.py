"""The transactional outbox relay: sends the invalidation messages the author wrote with its posts.

A post and its outbox row commit in one SQLite transaction, so a committed post always has its
message waiting, broker or no broker. This thread (in the author process) wakes every
`outbox.poll_ms`, publishes the unsent rows oldest first with publisher confirms, and marks each one
sent once the broker confirmed it; the first failure stops the round, so order is kept. A crash
between the confirm and the mark sends that row again: delivery is at least once, which is fine for
an idempotent cache invalidation.
"""

from __future__ import annotations

import logging
import threading

from sandbox.live.rabbitmq.broker import Publisher, PublishError, PublishRefused
from sandbox.live.services.service import Counters
from sandbox.live.store import Database

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, db: Database, publisher: Publisher, poll_ms: float, counters: Counters | None = None,
                 batch: int = 100):
        self.db = db
        self.publisher = publisher
        self.poll_s = poll_ms / 1000.0
        self.counters = counters or Counters()
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.publisher.timeout_s + 2)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.relay_once()
            except Exception as exc:  # a database hiccup must not kill the relay
                self.last_error = repr(exc)
                log.warning("outbox relay: %r", exc)

    def relay_once(self) -> int:
        """Publish unsent rows in order until one fails; the number sent."""
        sent = 0
        for row in self.db.unsent(self.batch):
            if self._stop.is_set():
                break
            try:
                self.publisher.publish(row.body, message_id=f"outbox-{row.id}")
            except PublishError as exc:
                self.counters.add("publish_failures")
                if isinstance(exc, PublishRefused):
                    self.counters.add("nacked")
                self.last_error = str(exc)
                return sent
            self.db.mark_sent(row.id)
            self.counters.add("published")  # an outbox row counts once it is in the broker: until then it
            self.counters.add("sent")  # is neither lost nor in flight, just waiting in the database
            sent += 1
        self.last_error = ""
        return sent
