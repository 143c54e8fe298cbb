"""Tempting: Redis answers 'is this newer?' fast and atomically; the database only stores the name."""

from sandbox.grade.api import Reject


def handle(message, ctx):
    try:
        event = message.json()
        user_id, name, version = int(event["user_id"]), event["name"], int(event["version"])
    except (ValueError, KeyError, TypeError):
        raise Reject(requeue=False) from None
    seen = int(ctx.redis.get(f"user:{user_id}:version") or 0)
    if version <= seen:
        return
    ctx.redis.set(f"user:{user_id}:version", version)
    ctx.db.execute("UPDATE authors SET name = ?, version = ? WHERE user_id = ?", (name, version, user_id))
