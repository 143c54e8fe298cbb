"""Today's cache worker, as a handler: parse the message, delete what its patterns match, return (ack).

A malformed message raises ValueError, and so does a Redis failure (ConnectionError is one): either way the
message is rejected with requeue and comes straight back.
"""

import json


def handle(message, ctx):
    body = json.loads(message.body)
    if body.get("action") != "invalidateCache":
        raise ValueError(f"not an invalidateCache message: {message.body[:80]!r}")
    for pattern in body["keys"]:
        keys = list(ctx.redis.scan_iter(match=pattern))
        if keys:
            ctx.redis.unlink(*keys)
