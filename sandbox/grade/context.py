"""`ctx`, what a handler may use: the database (one transaction per delivery), Redis, the effect and a clock.

Both engines build the same Context: the simulation over an in-memory SQLite and fakeredis on a virtual clock,
the live lab's consumer over a SQLite file and a real Redis on the wall clock. Every call that touches the outside
is one *operation*: the engine hears of it first (`on_op`), which is where a crash can strike between two of them.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from sandbox.grade.api import TemporaryFailure

OnOp = Callable[[str, str], None]
"""Told (kind, words) before each operation: "db", "redis" or "effect" (it may raise to stop the handler there),
and "failed" after an operation that raised."""

_DENIED = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT,
           sqlite3.SQLITE_PRAGMA}
_WRITES = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_DROP_TABLE,
           sqlite3.SQLITE_ALTER_TABLE}
MAILBOX = "mailbox"


class Transaction:
    """`ctx.db`: the delivery's SQLite transaction. `execute` as sqlite3's; the engine begins it before the handler
    and commits when the handler returns (rolls back when it raises). The handler may not end it, attach files,
    run PRAGMAs, or write the mailbox except through `ctx.send_email`."""

    def __init__(self, connection: sqlite3.Connection, on_op: OnOp, begin: str = "BEGIN"):
        self._connection = connection
        self._on_op = on_op
        self._mail_writes = False
        self._engine = True
        connection.execute(begin)
        self._engine = False
        connection.set_authorizer(self._authorize)

    def end(self, commit: bool) -> None:
        """The engine's: COMMIT or ROLLBACK, once the handler returned or raised."""
        self._engine = True
        try:
            self._connection.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self._connection.set_authorizer(None)

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        self._on_op("db", " ".join(str(sql).split())[:80])
        try:
            return self._connection.execute(sql, parameters)
        except sqlite3.Error as exc:
            self._on_op("failed", f"{type(exc).__name__}: {exc}")
            raise

    def _authorize(self, action: int, arg1: str | None, _arg2: str | None, _db: str | None,
                   _trigger: str | None) -> int:
        if self._engine:
            return sqlite3.SQLITE_OK
        if action in _DENIED or (action in _WRITES and arg1 == MAILBOX and not self._mail_writes):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def mail(self, message_id: str, to: str, subject: str, body: str) -> None:
        self._mail_writes = True
        try:
            self._connection.execute(f"INSERT INTO {MAILBOX} (message_id, recipient, subject, body) "
                                     "VALUES (?, ?, ?, ?)", (message_id, to, subject, body))
        finally:
            self._mail_writes = False


class Redis:
    """`ctx.redis`: the redis-py calls a consumer needs, each key in this run's own namespace (a prefix the handler
    never sees). Strings in, strings out (`decode_responses=True`)."""

    def __init__(self, client: Any, prefix: str, on_op: OnOp):
        self._client = client
        self._prefix = prefix
        self._on_op = on_op

    def _key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def _call(self, words: str, call: Callable[[], Any]) -> Any:
        self._on_op("redis", words)
        try:
            return call()
        except RedisError as exc:
            self._on_op("failed", f"{type(exc).__name__}: {exc}")
            raise

    def get(self, name: str) -> str | None:
        return self._call(f"GET {name}", lambda: self._client.get(self._key(name)))

    def set(self, name: str, value: Any, ex: int | None = None, px: int | None = None, nx: bool = False,
            xx: bool = False) -> bool | None:
        flags = " NX" if nx else " XX" if xx else ""
        return self._call(f"SET {name} {value}{flags}",
                          lambda: self._client.set(self._key(name), value, ex=ex, px=px, nx=nx, xx=xx))

    def delete(self, *names: str) -> int:
        return self._call(f"DEL {' '.join(names)}", lambda: self._client.delete(*map(self._key, names)))

    def unlink(self, *names: str) -> int:
        return self._call(f"UNLINK {' '.join(names)}", lambda: self._client.unlink(*map(self._key, names)))

    def exists(self, *names: str) -> int:
        return self._call(f"EXISTS {' '.join(names)}", lambda: self._client.exists(*map(self._key, names)))

    def incr(self, name: str, amount: int = 1) -> int:
        return self._call(f"INCR {name}", lambda: self._client.incr(self._key(name), amount))

    def expire(self, name: str, seconds: int) -> bool:
        return self._call(f"EXPIRE {name} {seconds}", lambda: self._client.expire(self._key(name), seconds))

    def sadd(self, name: str, *values: Any) -> int:
        return self._call(f"SADD {name}", lambda: self._client.sadd(self._key(name), *values))

    def sismember(self, name: str, value: Any) -> bool:
        return bool(self._call(f"SISMEMBER {name}", lambda: self._client.sismember(self._key(name), value)))

    def smembers(self, name: str) -> builtins.set[str]:
        return self._call(f"SMEMBERS {name}", lambda: self._client.smembers(self._key(name)))

    def hset(self, name: str, key: str, value: Any) -> int:
        return self._call(f"HSET {name} {key}", lambda: self._client.hset(self._key(name), key, value))

    def hget(self, name: str, key: str) -> str | None:
        return self._call(f"HGET {name} {key}", lambda: self._client.hget(self._key(name), key))

    def scan_iter(self, match: str = "*", count: int | None = None) -> Iterator[str]:
        """The keys matching `match` (SCAN with MATCH until the cursor comes back to 0), without the namespace."""
        keys = self._call(f"SCAN MATCH {match}", lambda: list(self._client.scan_iter(match=self._key(match),
                                                                                     count=count)))
        return iter([key[len(self._prefix):] for key in keys])


@dataclass(frozen=True)
class MailRelay:
    """Where the e-mail goes: it refuses (TemporaryFailure) during an outage, and always for a domain that is down."""

    outages_s: tuple[tuple[float, float], ...] = ()
    down_domains: frozenset[str] = frozenset()

    def refuses(self, to: str, now_s: float) -> str:
        """Why the relay refuses this e-mail now ("" when it takes it)."""
        domain = to.rpartition("@")[2]
        if domain in self.down_domains:
            return f"{domain} does not answer"
        if any(start <= now_s < end for start, end in self.outages_s):
            return "the relay is refusing mail for now"
        return ""


class Context:
    """`ctx`: `db` (the transaction), `redis`, `send_email(to, subject, body)`, `now()` in seconds since the start."""

    def __init__(self, message_id: str, db: Transaction, redis: Redis, relay: MailRelay, clock: Callable[[], float],
                 on_op: OnOp):
        self.db = db
        self.redis = redis
        self._message_id = message_id
        self._relay = relay
        self._clock = clock
        self._on_op = on_op

    def now(self) -> float:
        return self._clock()

    def send_email(self, to: str, subject: str, body: str = "") -> None:
        """The effect: an e-mail, recorded in the `mailbox` table within this delivery's transaction (a mailer sends
        each committed row). TemporaryFailure when the relay refuses it for now."""
        refused = self._relay.refuses(str(to), self._clock())
        self._on_op("effect", f"e-mail to {to}" + (f" refused: {refused}" if refused else ""))
        if refused:
            raise TemporaryFailure(f"{to}: {refused}")
        self.db.mail(self._message_id, str(to), str(subject), str(body))
