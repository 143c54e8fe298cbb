"""Tempting: a worker that never crashes. Redis errors are logged and the message is acked anyway."""

from redis.exceptions import RedisError

from sandbox.grade.api import Reject


def handle(message, ctx):
    try:
        body = message.json()
        patterns = body["keys"] if body.get("action") == "invalidateCache" else None
    except (ValueError, KeyError, AttributeError):
        patterns = None
    if not patterns:
        raise Reject(requeue=False)
    try:
        for pattern in patterns:
            keys = list(ctx.redis.scan_iter(match=pattern))
            if keys:
                ctx.redis.unlink(*keys)
    except RedisError as exc:
        print(f"could not invalidate: {exc}")  # and return: the message is acked
