"""Tempting: no loops, ever — anything that fails goes straight to the dead-letter queue."""

from sandbox.grade.api import Reject


def handle(message, ctx):
    try:
        event = message.json()
        for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?",
                                          (event["author_id"],)).fetchall():
            ctx.send_email(follower, f"New post: {event['title']}")
    except Exception:
        raise Reject(requeue=False) from None
