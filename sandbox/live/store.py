"""The variant's database: one SQLite file in WAL mode, shared by its services (each process opens it).

Tables: `posts` (the source of truth), `outbox` (invalidation messages written in the post's own
transaction, sent later by the author's relay), `users` (the user service's profiles) and
`author_directory` (the queue-variant blog's local copy of author names, fed by user.updated events), and the
mailer's `mailbox` (one row per e-mail to followers), `inbox` (message ids handled, written in the e-mail's own
transaction when `consumer.dedup = "inbox"`) and `mail_acked` (each post.created the mailer acked).

The database version is the id of the newest committed post: ids come from AUTOINCREMENT and writers
serialize on `BEGIN IMMEDIATE`, so the version only grows and equals the number of posts committed.
Each thread gets its own connection (sqlite3 connections must not be shared between threads).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

PAGE_SIZE = 20  # posts on the blog list page, newest first
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    request_id TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mailbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id INTEGER NOT NULL,
    sent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    message_id TEXT PRIMARY KEY,
    handled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mail_acked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id INTEGER NOT NULL,
    acked_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS author_directory (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (or DEFERRED, for a read snapshot) ... COMMIT, or ROLLBACK on an exception."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def default_user_name(user_id: int) -> str:
    """The name of a user nobody has renamed (the user service and the blog's directory agree on it)."""
    return f"Author {user_id}"


@dataclass(frozen=True)
class Post:
    id: int
    author_id: int
    title: str
    body: str
    created_at: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    body: bytes
    created_at: float


class Database:
    """One SQLite file; a connection per thread; every write in one short IMMEDIATE transaction."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        conn = self._connection()
        conn.execute("PRAGMA journal_mode=WAL")
        with _transaction(conn):
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)

    # connections --------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise sqlite3.ProgrammingError(f"database {self.path} is closed")
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, safe against app crashes
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # posts --------------------------------------------------------------------

    def insert_post(self, author_id: int, title: str, body: str, outbox_body: bytes | None = None,
                    request_id: str | None = None) -> tuple[Post, int]:
        """Commit a post (and, given `outbox_body`, its outbox row in the same transaction).

        `request_id` is the client's id for the write, kept only so the lab can count the posts a retry
        saved twice. Returns the post and the database version it made."""
        now = time.time()
        conn = self._connection()
        with _transaction(conn):
            post_id = conn.execute(
                "INSERT INTO posts (author_id, title, body, created_at, request_id) VALUES (?, ?, ?, ?, ?)",
                (author_id, title, body, now, request_id)).lastrowid
            assert post_id is not None, "sqlite3 sets lastrowid after every INSERT"
            if outbox_body is not None:
                conn.execute("INSERT INTO outbox (body, created_at) VALUES (?, ?)", (outbox_body, now))
        return Post(post_id, author_id, title, body, now), post_id

    def page(self, limit: int = PAGE_SIZE) -> tuple[list[Post], int]:
        """The newest `limit` posts and the version they belong to, read from one snapshot."""
        conn = self._connection()
        with _transaction(conn, "DEFERRED"):
            rows = conn.execute("SELECT id, author_id, title, body, created_at FROM posts "
                                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            version = conn.execute("SELECT COALESCE(MAX(id), 0) FROM posts").fetchone()[0]
        return [Post(*row) for row in rows], version

    def version(self) -> int:
        """The number of posts committed so far (the id of the newest)."""
        return self._connection().execute("SELECT COALESCE(MAX(id), 0) FROM posts").fetchone()[0]

    def duplicate_posts(self) -> int:
        """Posts saved again by a retry of a write that had already been saved (same request id)."""
        return self._connection().execute(
            "SELECT COUNT(request_id) - COUNT(DISTINCT request_id) FROM posts").fetchone()[0]

    def commit_time(self, version: int) -> float | None:
        """When the post that made `version` was committed (None if there is no such post yet)."""
        row = self._connection().execute("SELECT created_at FROM posts WHERE id = ?", (version,)).fetchone()
        return row[0] if row else None

    # outbox -------------------------------------------------------------------

    def unsent(self, limit: int = 100) -> list[OutboxRow]:
        """Outbox rows not yet sent, oldest first."""
        rows = self._connection().execute(
            "SELECT id, body, created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [OutboxRow(row_id, bytes(body), created_at) for row_id, body, created_at in rows]

    def mark_sent(self, row_id: int) -> None:
        conn = self._connection()
        with _transaction(conn):
            conn.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), row_id))

    def outbox_pending(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    # the mailer ---------------------------------------------------------------

    def send_email(self, post_id: int, message_id: str | None = None) -> bool:
        """Record the e-mail to a post's followers; with `message_id` (the inbox), only if that id was not handled
        yet, the id written in the same transaction. False when the inbox already had it."""
        now = time.time()
        conn = self._connection()
        with _transaction(conn):
            if message_id is not None:
                seen = conn.execute("INSERT INTO inbox (message_id, handled_at) VALUES (?, ?) "
                                    "ON CONFLICT (message_id) DO NOTHING", (message_id, now)).rowcount == 0
                if seen:
                    return False
            conn.execute("INSERT INTO mailbox (post_id, sent_at) VALUES (?, ?)", (post_id, now))
        return True

    def mail_acked(self, post_id: int) -> None:
        """The mailer acked the post.created of `post_id`."""
        conn = self._connection()
        with _transaction(conn):
            conn.execute("INSERT INTO mail_acked (post_id, acked_at) VALUES (?, ?)", (post_id, time.time()))

    def effects(self) -> tuple[int, int, int]:
        """(e-mails sent, e-mails beyond a post's first, acked posts with no e-mail), read from one snapshot."""
        conn = self._connection()
        with _transaction(conn, "DEFERRED"):
            applied, posts = conn.execute("SELECT COUNT(*), COUNT(DISTINCT post_id) FROM mailbox").fetchone()
            missing = conn.execute("SELECT COUNT(DISTINCT post_id) FROM mail_acked "
                                   "WHERE post_id NOT IN (SELECT post_id FROM mailbox)").fetchone()[0]
        return applied, applied - posts, missing

    # users and the blog's author directory ------------------------------------

    def user_name(self, user_id: int) -> str:
        row = self._connection().execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
        return row[0] if row else default_user_name(user_id)

    def set_user_name(self, user_id: int, name: str) -> None:
        self._upsert("users", user_id, name)

    def directory_names(self, user_ids: Iterable[int]) -> dict[int, str]:
        """Author names from the blog's directory; authors it never heard of get the default name."""
        ids = sorted(set(user_ids))
        names = {user_id: default_user_name(user_id) for user_id in ids}
        if ids:
            marks = ",".join("?" * len(ids))
            rows = self._connection().execute(
                f"SELECT id, name FROM author_directory WHERE id IN ({marks})", ids).fetchall()
            names.update(rows)
        return names

    def set_directory_name(self, user_id: int, name: str) -> None:
        self._upsert("author_directory", user_id, name)

    def _upsert(self, table: str, user_id: int, name: str) -> None:
        conn = self._connection()
        with _transaction(conn):
            conn.execute(f"INSERT INTO {table} (id, name, updated_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                         (user_id, name, time.time()))
