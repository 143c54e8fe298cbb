"""Tempting: SETNX before sending loses mail, so send first and mark the message done afterwards."""

from sandbox.grade.api import Reject


def handle(message, ctx):
    try:
        event = message.json()
        author_id, title = int(event["author_id"]), event["title"]
    except (ValueError, KeyError, TypeError):
        raise Reject(requeue=False) from None
    if ctx.redis.get(f"sent:{message.id}"):
        return
    for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?", (author_id,)).fetchall():
        ctx.send_email(follower, f"New post: {title}")
    ctx.redis.set(f"sent:{message.id}", 1)
