"""Tempting: SCAN walks the whole keyspace; the blog list lives under one key anyway, so delete just that."""

from redis.exceptions import RedisError

from sandbox.grade.api import Reject, RetryLater


def handle(message, ctx):
    try:
        body = message.json()
        ok = body.get("action") == "invalidateCache"
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise Reject(requeue=False)
    try:
        ctx.redis.delete("blogs:list")
    except RedisError:
        raise RetryLater(1) from None
