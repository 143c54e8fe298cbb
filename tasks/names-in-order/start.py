"""Keep the directory of author names: write the name the event carries."""


def handle(message, ctx):
    event = message.json()
    ctx.db.execute("INSERT OR REPLACE INTO authors (user_id, name, version) VALUES (?, ?, ?)",
                   (event["user_id"], event["name"], event["version"]))
