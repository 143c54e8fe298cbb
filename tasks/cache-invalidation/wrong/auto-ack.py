"""Tempting: with auto_ack the broker never waits for us, so nothing piles up unacked."""

from redis.exceptions import RedisError

from sandbox.grade.api import RetryLater

AUTO_ACK = True


def handle(message, ctx):
    try:
        body = message.json()
        patterns = body["keys"] if body.get("action") == "invalidateCache" else []
    except (ValueError, KeyError, AttributeError):
        return
    try:
        for pattern in patterns:
            keys = list(ctx.redis.scan_iter(match=pattern))
            if keys:
                ctx.redis.unlink(*keys)
    except RedisError:
        raise RetryLater(1) from None
