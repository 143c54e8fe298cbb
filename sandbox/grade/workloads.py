"""The three kinds of traffic a task sends, with the world's fixed data and what correct handling leaves behind.

- `invalidation`: the author commits a post (the blog list's version goes up), then publishes
  `{"action": "invalidateCache", "keys": ["blogs:*"]}`; the blog fills its cache keys from the database on a miss.
- `post-created`: `{"event": "post.created", "post_id", "author_id", "title"}`; each of the author's followers
  gets one e-mail (the `followers` table).
- `user-updated`: `{"event": "user.updated", "user_id", "name", "version"}`; the blog's `authors` table must end
  with each user's latest name, whatever order the events arrive in.

Pure: no IO, no engine. Both engines set up the same database from SCHEMA and ROWS.
"""

from __future__ import annotations

import json
import random
from typing import Any

KINDS = ("invalidation", "post-created", "user-updated")

SCHEMA = """
CREATE TABLE inbox (message_id TEXT PRIMARY KEY);
CREATE TABLE mailbox (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, recipient TEXT NOT NULL,
                      subject TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE followers (author_id INTEGER NOT NULL, follower TEXT NOT NULL);
CREATE TABLE authors (user_id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL);
"""
FOLLOWERS: dict[int, tuple[str, ...]] = {
    1: ("ada@example.org", "grace@example.org"),
    2: ("linus@example.org",),
    3: ("alan@example.org", "barbara@example.org", "edsger@example.org"),
    9: ("ken@bounce.example",),
}
DOWN_DOMAIN = "bounce.example"
"""A domain whose mail server never answers: a `post-created` message for author 9 can never be handled."""
AUTHORS: dict[int, tuple[str, int]] = {1: ("Ada", 0), 2: ("Linus", 0)}
NAMES = ("Ada Lovelace", "Ada L.", "A. Lovelace", "Countess Ada", "Linus T.", "Linus Torvalds", "L. Torvalds")
CACHE_KEYS = ("blogs:list", "blogs:page:2", "blogs:author:3")
INVALIDATION = {"action": "invalidateCache", "keys": ["blogs:*"]}
POISON_BODIES = (b'{"event": "post.created", "post_id": ', b"\xff\xfe not even text", b'{"action": "dropTable"}',
                 b'{"user_id": "seven", "version": null}', b"[]")


def rows() -> list[tuple[str, tuple[Any, ...]]]:
    """The statements that fill the fixed tables."""
    statements: list[tuple[str, tuple[Any, ...]]] = [
        ("INSERT INTO followers (author_id, follower) VALUES (?, ?)", (author, follower))
        for author, followers in FOLLOWERS.items() for follower in followers]
    statements += [("INSERT INTO authors (user_id, name, version) VALUES (?, ?, ?)", (user, name, version))
                   for user, (name, version) in AUTHORS.items()]
    return statements


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True).encode()


def events(kind: str, rng: random.Random, count: int, never_succeeds: bool) -> list[tuple[float, dict[str, Any]]]:
    """`count` events of `kind` with the second each is published at."""
    at_s, out = 0.0, []
    versions = dict.fromkeys(AUTHORS, 0)
    for number in range(1, count + 1):
        if kind == "invalidation":
            at_s += rng.uniform(3.0, 10.0) if number > 1 else 0.2
            payload: dict[str, Any] = dict(INVALIDATION)
        elif kind == "post-created":
            at_s += rng.uniform(0.2, 0.8)
            authors = [1, 2, 3, 9] if never_succeeds and number > 1 else [1, 2, 3]
            payload = {"event": "post.created", "post_id": 100 + number, "author_id": rng.choice(authors),
                       "title": f"Post {100 + number}"}
        else:
            at_s += rng.uniform(0.15, 0.6)
            user = rng.choice(sorted(AUTHORS))
            versions[user] += 1
            payload = {"event": "user.updated", "user_id": user, "name": rng.choice(NAMES), "version": versions[user]}
        out.append((round(at_s, 3), payload))
    return out


def expected_mail(messages: list[tuple[str, dict[str, Any]]]) -> set[tuple[str, str]]:
    """(message id, recipient) of every e-mail the post.created events call for, except to a domain that is down."""
    return {(message_id, follower) for message_id, p in messages if p.get("event") == "post.created"
            for follower in FOLLOWERS[p["author_id"]] if not follower.endswith("@" + DOWN_DOMAIN)}


def final_authors(payloads: list[dict[str, Any]]) -> dict[int, tuple[str, int]]:
    """Each user's name and version after applying the user.updated events in version order."""
    state = dict(AUTHORS)
    for p in sorted((p for p in payloads if p.get("event") == "user.updated"), key=lambda p: p["version"]):
        state[p["user_id"]] = (p["name"], p["version"])
    return state


def can_never_succeed(payload: dict[str, Any] | None) -> bool:
    """A message no retry will ever get through: every follower of its author is at the domain that is down."""
    return bool(payload and payload.get("event") == "post.created"
                and all(f.endswith("@" + DOWN_DOMAIN) for f in FOLLOWERS[payload["author_id"]]))
