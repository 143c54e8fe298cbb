"""Tempting: a message we cannot read is worthless; ack it and keep the queue moving."""

from sandbox.grade.api import Reject, RetryLater, TemporaryFailure


def handle(message, ctx):
    try:
        event = message.json()
        author_id, title = int(event["author_id"]), event["title"]
    except (ValueError, KeyError, TypeError):
        return  # unreadable: drop it
    try:
        for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?",
                                          (author_id,)).fetchall():
            ctx.send_email(follower, f"New post: {title}")
    except TemporaryFailure:
        if message.retries >= 3:
            raise Reject(requeue=False) from None
        raise RetryLater((1, 3, 10)[message.retries]) from None
