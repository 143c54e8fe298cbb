"""What a learner's handler sees: `handle(message, ctx)`, the message, and how it settles the message.

```python
from sandbox.grade.api import Reject, RetryLater

def handle(message, ctx):
    event = message.json()           # raise Reject(requeue=False) for a message that can never be handled
    ctx.send_email(to, "New post")   # the effect; the database transaction commits when handle returns
```

Return to ack (`basic_ack`). Raise to settle otherwise, in pika's words:

- `Reject(requeue=False)` / `Nack(requeue=False)`: `basic_reject` / `basic_nack` without requeue: the queue
  dead-letters the message (to the dead-letter queue);
- `Reject()` / `Nack()`: with requeue (pika's default): back to the queue, at its original position if possible
  (RabbitMQ's words), so delivered again at once, with `redelivered` set;
- `RetryLater(delay_s)`: published to the retry queue whose message TTL is the smallest tier of RETRY_TIERS_S
  at least `delay_s` (its dead-letter exchange sends it back to the work queue), then the original is acked;
  `message.retries` counts these trips;
- any other exception: `basic_reject(requeue=True)`, as an unhandled error in a pika callback that rejects.

Every raise rolls the transaction back. A module-level `AUTO_ACK = True` consumes with
`basic_consume(auto_ack=True)`: the broker forgets each message as it is sent, before the handler runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RETRY_TIERS_S = (1.0, 3.0, 10.0)
"""The retry queues' message TTLs: a delay is rounded up to one of these (above the last, the last)."""
RETRIES_HEADER = "x-retries"


@dataclass(frozen=True)
class Message:
    """One delivery: the body, the AMQP headers, the producer's message id, and pika's `redelivered` flag."""

    body: bytes
    id: str
    redelivered: bool = False
    headers: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; ValueError (json.JSONDecodeError, UnicodeDecodeError) when it is not."""
        return json.loads(self.body)

    @property
    def retries(self) -> int:
        """How many times this message went through a retry queue (RetryLater)."""
        value = self.headers.get(RETRIES_HEADER, 0)
        return value if isinstance(value, int) else 0


class Settle(Exception):
    """Raised by a handler to settle its message another way than an ack."""

    words = ""


class Reject(Settle):
    """`channel.basic_reject(delivery_tag, requeue=...)`; requeue=False dead-letters the message."""

    def __init__(self, requeue: bool = True):
        super().__init__(f"basic_reject(requeue={requeue})")
        self.requeue = requeue


class Nack(Settle):
    """`channel.basic_nack(delivery_tag, requeue=...)`. On the grader's classic queues the same as Reject; since
    RabbitMQ 4.3 a quorum queue counts a reject (a failure) toward its delivery limit and not a nack (not processed)."""

    def __init__(self, requeue: bool = True):
        super().__init__(f"basic_nack(requeue={requeue})")
        self.requeue = requeue


class RetryLater(Settle):
    """Publish the message to the retry queue whose TTL is the smallest tier of at least `delay_s`, then ack it."""

    def __init__(self, delay_s: float = RETRY_TIERS_S[0]):
        super().__init__(f"retry later ({delay_s:g} s)")
        self.delay_s = delay_s

    @property
    def tier_s(self) -> float:
        delay = self.delay_s if isinstance(self.delay_s, (int, float)) else 0.0
        return next((tier for tier in RETRY_TIERS_S if tier >= delay), RETRY_TIERS_S[-1])


class TemporaryFailure(Exception):
    """`ctx.send_email` when the mail relay refuses for now (a full spool, a rate limit): try again later."""
