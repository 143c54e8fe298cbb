"""Tempting: apply the versions strictly one after another; an event that comes early goes back to wait."""

from sandbox.grade.api import Reject


def handle(message, ctx):
    try:
        event = message.json()
        user_id, name, version = int(event["user_id"]), event["name"], int(event["version"])
    except (ValueError, KeyError, TypeError):
        raise Reject(requeue=False) from None
    (stored,) = ctx.db.execute("SELECT version FROM authors WHERE user_id = ?", (user_id,)).fetchone()
    if version <= stored:
        return  # old news
    if version > stored + 1:
        raise Reject(requeue=True)  # its predecessor is not here yet: come back later
    ctx.db.execute("UPDATE authors SET name = ?, version = ? WHERE user_id = ?", (name, version, user_id))
