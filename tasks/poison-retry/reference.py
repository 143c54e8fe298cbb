"""Give up on poison at once, retry a temporary failure later with growing delays, and park what never succeeds."""

from sandbox.grade.api import Reject, RetryLater, TemporaryFailure

DELAYS_S = (1, 3, 10)


def parse(message):
    try:
        event = message.json()
        return int(event["author_id"]), str(event["title"])
    except (ValueError, KeyError, TypeError):
        return None


def handle(message, ctx):
    parsed = parse(message)
    if parsed is None:
        raise Reject(requeue=False)  # poison: no retry will ever fix it
    author_id, title = parsed
    try:
        for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?",
                                          (author_id,)).fetchall():
            ctx.send_email(follower, f"New post: {title}")
    except TemporaryFailure:
        if message.retries >= len(DELAYS_S):
            raise Reject(requeue=False) from None  # tried enough: park it in the dead-letter queue
        raise RetryLater(DELAYS_S[message.retries]) from None
