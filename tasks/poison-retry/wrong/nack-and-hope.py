"""Tempting: a temporary failure just needs another go; nack it back to the queue and the next try will work."""

from sandbox.grade.api import Nack, Reject, TemporaryFailure


def handle(message, ctx):
    try:
        event = message.json()
        author_id, title = int(event["author_id"]), event["title"]
    except (ValueError, KeyError, TypeError):
        raise Reject(requeue=False) from None
    try:
        for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?",
                                          (author_id,)).fetchall():
            ctx.send_email(follower, f"New post: {title}")
    except TemporaryFailure:
        raise Nack(requeue=True) from None
