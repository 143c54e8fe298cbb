"""Tempting: never lose a message — whatever goes wrong, put it back in the queue."""

from sandbox.grade.api import Nack


def handle(message, ctx):
    try:
        event = message.json()
        for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?",
                                          (event["author_id"],)).fetchall():
            ctx.send_email(follower, f"New post: {event['title']}")
    except Exception:
        raise Nack(requeue=True) from None
