"""Send each follower of the post's author an e-mail. Correct, as long as every message arrives exactly once."""


def handle(message, ctx):
    event = message.json()
    followers = ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?", (event["author_id"],))
    for (follower,) in followers.fetchall():
        ctx.send_email(follower, f"New post: {event['title']}")
