"""Tempting: a temporary failure is temporary; keep retrying politely and it will go through one day."""

from sandbox.grade.api import Reject, RetryLater, TemporaryFailure


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
        raise RetryLater(3) from None
