"""Tempting: SET NX is atomic, so exactly one delivery of each message wins the right to send."""

from sandbox.grade.api import Reject


def handle(message, ctx):
    try:
        event = message.json()
        author_id, title = int(event["author_id"]), event["title"]
    except (ValueError, KeyError, TypeError):
        raise Reject(requeue=False) from None
    if not ctx.redis.set(f"sent:{message.id}", 1, nx=True):
        return  # someone already claimed it
    for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?", (author_id,)).fetchall():
        ctx.send_email(follower, f"New post: {title}")
