"""One e-mail per follower per post, whatever is delivered twice: the inbox row commits with the e-mails."""

from sandbox.grade.api import Reject


def parse(message):
    """(author id, title) of a post.created event, or None when the message is not one."""
    try:
        event = message.json()
        return int(event["author_id"]), str(event["title"])
    except (ValueError, KeyError, TypeError):
        return None


def handle(message, ctx):
    parsed = parse(message)
    if parsed is None:
        raise Reject(requeue=False)  # poison: to the dead-letter queue
    author_id, title = parsed
    if ctx.db.execute("SELECT 1 FROM inbox WHERE message_id = ?", (message.id,)).fetchone():
        return  # handled before, completely: ack and send nothing
    ctx.db.execute("INSERT INTO inbox (message_id) VALUES (?)", (message.id,))
    followers = ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?", (author_id,)).fetchall()
    for (follower,) in followers:
        ctx.send_email(follower, f"New post: {title}")
    # returning commits the inbox row and the e-mails together, then acks
