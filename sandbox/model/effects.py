"""The mailer's kill, drawn the same way on both engines: the effect that must happen once, and where it is cut.

While it handles one post.created message the mailer is killed with probability `mailer.crash_rate`: half of the
kills fall just before its e-mail (after a redis-before SETNX), half just after it and before the ack.
"""

from __future__ import annotations

import random

BEFORE, AFTER = "before the e-mail", "after the e-mail"


def kill_point(rng: random.Random, crash_rate: float) -> str | None:
    """Where this handling is killed, BEFORE or AFTER the e-mail, or None. Both draws are made every time, so
    variants that differ only in `consumer.dedup` meet the same kills."""
    killed = rng.random() < crash_rate
    before = rng.random() < 0.5
    return None if not killed else BEFORE if before else AFTER


def post_message_id(post_id: int) -> str:
    """The message id of a post's post.created event: the key the inbox and the Redis mark use."""
    return f"post-{post_id}"
