"""The cache worker under fire: dead-letter what can never succeed, wait out a Redis blip, ack only after the delete."""

from redis.exceptions import RedisError

from sandbox.grade.api import Reject, RetryLater


def patterns_of(message):
    """The key patterns of an invalidateCache message, or None when it is not one."""
    try:
        body = message.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("action") != "invalidateCache":
        return None
    keys = body.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        return None
    return keys


def handle(message, ctx):
    patterns = patterns_of(message)
    if patterns is None:
        raise Reject(requeue=False)  # poison: to the dead-letter queue, where someone can look at it
    try:
        for pattern in patterns:
            keys = list(ctx.redis.scan_iter(match=pattern))
            if keys:
                ctx.redis.unlink(*keys)
    except RedisError:
        raise RetryLater(1) from None  # Redis is away: try again in a second, not a thousand times a second
