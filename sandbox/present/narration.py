"""One line above each variant that says what is happening and why, derived from the parts' state and the knobs and
backed by its last seconds: "The User Service is 2,000 ms slow: a read that misses the cache waits for it; all 8 blog
workers are busy waiting and 115 requests wait in line; 90% of reads failed in the last 10 s".

It checks in the order a senior engineer would:

1. a part that is down, hung or slow on a path that carries traffic (the readers' first, then the writers', then the
   messages'), told with what it does to the requests on that path;
2. then a saturated pool (every worker busy, a line waiting), with queueing theory's reason;
3. then the messages: the same message coming back while its path is healthy (poison, and only then), losses, a
   growing queue, an outbox, redeliveries, dead letters, stale reads;
4. then what the last seconds still show after a mend — "nothing is broken now" only when nothing is;
5. otherwise all is well, and the line says how well.

Every share and rate it quotes names its window ("in the last 10 s"); a share is never called "every".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.model.knobs import Knobs
from sandbox.model.messages import Letters
from sandbox.model.status import Component, VariantStatus
from sandbox.model.theory import load_multiple, pool_loads
from sandbox.present.names import target_label

Tone = Literal["ok", "warn", "bad"]

FAILING = 0.05
"""A share of failed requests (or of stale reads) the line speaks about."""
QUEUE_DEEP = 10
"""Messages waiting in the queue that make a story of their own."""
POISON_DELIVERIES = 5
"""A message delivered this many times, still queued and still coming back while its path is healthy, is poison: a
worker that stopped once redelivers its messages once (a second delivery), never five times."""
BROKEN = ("down", "hung")
POOLS = ("blog", "author", "user", "cache-worker")
SERVED_SHORT = 0.8
"""Reads answered below this share of the reads asked for make the line's tone bad."""
SHORT_AFTER_S = 5
"""...judged only over at least this many seconds (Poisson arrivals are noisy in fewer)."""


@dataclass(frozen=True)
class Narration:
    text: str
    tone: Tone


@dataclass(frozen=True)
class Recent:
    """What the last seconds' frames add up to."""

    seconds: int
    reads_ok: int
    read_errors: int
    writes_ok: int
    write_errors: int
    stale: int
    lost: int
    redelivered: int
    dead_lettered: int
    staleness_s: float
    last_redelivered: int = 0
    """Redeliveries in the last second alone: a loop that is still going."""
    waiting: dict[str, tuple[int, int]] | None = None
    """Each pool's line at the end of the window's first and last seconds."""

    @classmethod
    def of(cls, frames: Iterable[dict[str, Any]]) -> Recent:
        rows = sorted(frames, key=lambda f: f.get("t", 0))

        def total(name: str) -> int:
            return int(sum(f.get(name) or 0 for f in rows))

        def peak(name: str) -> float | None:
            return max((f[name] for f in rows if f.get(name) is not None), default=None)

        waiting = {pool: (int(rows[0].get(f"{pool}.waiting") or 0), int(rows[-1].get(f"{pool}.waiting") or 0))
                   for pool in POOLS} if rows else {}
        return cls(len(rows), total("read.ok"), total("read.errors"), total("write.ok"), total("write.errors"),
                   total("read.stale"), total("msg.lost"), total("msg.redelivered"), total("msg.dead_lettered"),
                   peak("staleness.max_s") or 0.0, int(rows[-1].get("msg.redelivered") or 0) if rows else 0, waiting)

    @staticmethod
    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def read_failed(self) -> float:
        return self.share(self.read_errors, self.reads_ok + self.read_errors)

    @property
    def write_failed(self) -> float:
        return self.share(self.write_errors, self.writes_ok + self.write_errors)

    @property
    def stale_share(self) -> float:
        return self.share(self.stale, self.reads_ok)

    @property
    def window(self) -> str:
        return f"in the last {self.seconds} s"


@dataclass(frozen=True)
class Moment:
    """Everything the line is derived from."""

    status: VariantStatus
    recent: Recent
    knobs: Knobs
    lost_by_cause: dict[str, int]
    letters: Letters | None

    @property
    def sync(self) -> bool:
        return self.status.architecture == "sync"

    def part(self, name: str) -> Component:
        return self.status.components[name]

    @property
    def depth(self) -> int:
        return self.status.queue_ready + self.status.queue_unacked

    def effect(self, reads: bool, writes: bool, stale: bool = False) -> tuple[str, bool]:
        """What the last seconds show on the paths a broken part lies on: the share that failed (or, on the
        invalidations' path, `stale`, the share of old lists), else the reads answered; and whether that is harm
        (failures, old lists, or too few reads answered). A percentile is left to the
        tiles, which compute it over their window as a percentile must be: from every request, not from seconds."""
        recent = self.recent
        failed = [f"{share:.0%} of {kind} failed" for kind, on, share in
                  (("reads", reads, recent.read_failed), ("writes", writes, recent.write_failed))
                  if on and share >= FAILING]
        if stale and recent.stale_share >= FAILING:  # the harm of a broken invalidation path: old lists
            failed.append(f"{recent.stale_share:.0%} of reads returned an old list")
        if failed:
            return f"{' and '.join(failed)} {recent.window}", True
        if reads:  # a read held up has not finished: the rate answered shows it, a percentile of the finished not
            asked = self.knobs.load.reads_per_s
            answered = recent.reads_ok / recent.seconds
            return (f"{answered:,.0f} reads/s answered {recent.window} ({asked:,.0f}/s asked for now)",
                    answered < SERVED_SHORT * asked and recent.seconds >= SHORT_AFTER_S)
        return "", False

    def line_trend(self, pool: str) -> str:
        """How a saturated pool's line moved over the window, measured."""
        first, last = (self.recent.waiting or {}).get(pool, (0, 0))
        if last > first:
            return f"its line grew from {first:,} to {last:,} {self.recent.window}: it finishes less than arrives"
        if last == first:
            return f"its line held at {last:,} {self.recent.window}: it finishes as much as arrives, no more"
        return f"a line left from earlier, shrinking ({first:,} → {last:,} {self.recent.window})"


def _how(part: Component) -> str:
    """How a part is broken, in a few words; empty when it is not."""
    if part.health == "down":
        return "down"
    if part.health == "hung":
        return "hung"
    words = []
    if part.latency_ms:
        words.append(f"{part.latency_ms:,.0f} ms slow")
    if part.error_rate:
        words.append(f"set to fail {part.error_rate:.0%} of its calls")
    return " and ".join(words)


def _waiting_line(part: Component, doing: str = "busy") -> str:
    """'all 8 blog workers are busy and 115 requests wait in line'."""
    if part.name == "cache-worker":
        who = "its one consumer is" if part.workers == 1 else f"all {part.workers} consumers are"
        return f"{who} {doing} and {part.waiting:,} messages wait for it"
    service = target_label(part.name).split()[0].lower()
    return f"all {part.workers} {service} workers are {doing} and {part.waiting:,} requests wait in line"


# --- 1. a broken part on a path -----------------------------------------------------------------------------------
# Each says what the part's state does to the requests that need it; (reads, writes) say which paths it lies on.

Said = tuple[str, bool, bool]


def _blog(m: Moment, how: str) -> Said:
    blog = m.part("blog")
    also = " and the author's call to empty the cache" if m.sync else ""
    if blog.health == "down":
        return f"it refuses GET /blogs{also}", True, m.sync
    if blog.health == "hung":
        return (f"it takes GET /blogs and never answers; readers give up after their "
                f"{m.knobs.client.timeout_s:g} s timeout", True, m.sync)
    if blog.error_rate and not blog.latency_ms:
        return f"it answers {blog.error_rate:.0%} of GET /blogs{also} with 500", True, m.sync
    return f"each GET /blogs{also} takes that much longer", True, m.sync


def _author(m: Moment, how: str) -> Said:
    author = m.part("author")
    if author.health == "down":
        return "it refuses POST /blogs", False, True
    if author.health == "hung":
        return (f"it takes POST /blogs and never answers; authors give up after their "
                f"{m.knobs.client.timeout_s:g} s timeout", False, True)
    return "each POST /blogs takes longer or fails", False, True


def _user(m: Moment, how: str) -> Said:
    user, blog = m.part("user"), m.part("blog")
    if not m.sync:
        return "", False, False
    if m.status.breakers.get("blog→user", "closed") == "open":
        return "the breaker on blog → user is open, so a read that misses the cache fails fast instead of waiting", \
            True, False
    if user.health == "down":
        text = "a read that misses the cache needs it to name the authors, and fails"
    elif user.health == "hung":
        text = (f"a read that misses the cache waits for it up to the {m.knobs.http.timeout_s:g} s call timeout"
                if m.knobs.http.timeout_s else "a read that misses the cache waits for it, with no timeout")
    else:
        text = "a read that misses the cache waits for it"
    if blog.health == "saturated":
        text += f"; {_waiting_line(blog, 'busy waiting')}"
    return text, True, False


def _redis(m: Moment, how: str) -> Said:
    redis = m.part("redis")
    out = redis.health in BROKEN
    reads = ("reads miss the cache and rebuild the list from the database"
             + (", asking the User Service each time" if m.sync else "")) if out else "each read waits for it"
    if m.sync:
        writes = ("writes fail: the Blog Service cannot empty the cache for them"
                  if m.knobs.sync.on_invalidate_error == "fail"
                  else "writes still succeed: the author ignores the failed cache invalidation")
        return f"{reads}, and {writes}" if out else reads, True, out
    if not out:
        return f"{reads}, and the cache-worker's deletes too", True, False
    text = f"{reads}; the cache-worker cannot empty the cache"
    if m.recent.redelivered:
        text += (f", so it returns each invalidation to the queue and gets it back at once "
                 f"({m.recent.redelivered:,} redeliveries {m.recent.window}) — an outage, not a poison message: "
                 "they go through once Redis is back")
    elif m.depth:
        text += f", so {m.depth:,} invalidations wait in the queue"
    return text, True, False


def _broker(m: Moment, how: str) -> Said:
    if m.sync:
        return "", False, False
    on_error = m.knobs.publish.on_error
    if on_error == "outbox":
        text = (f"invalidations wait in the author's outbox ({m.status.outbox_pending:,} now) and writes still "
                "succeed")
    elif on_error == "drop":
        text = "the author drops each invalidation it cannot publish: writes succeed and readers keep old lists"
    else:
        text = "the author cannot publish the invalidation, so the write fails"
    if m.part("broker").health == "hung":
        text = f"a publish waits up to {m.knobs.publish.timeout_s:g} s; " + text
    return text, False, on_error == "fail"


def _cache_worker(m: Moment, how: str) -> Said:
    worker = m.part("cache-worker")
    if m.sync:
        return "", False, False
    if worker.health == "down":
        text = f"{m.depth:,} invalidations wait in the queue" if m.depth else "invalidations wait in the queue"
    elif worker.health == "hung":
        text = f"it holds {m.status.queue_unacked:,} messages unacked and finishes none"
    else:
        text = f"it finishes fewer messages; {m.depth:,} wait in the queue" if m.depth else \
            "each message takes it longer"
    if m.recent.staleness_s >= 1:
        text += f"; readers see lists up to {m.recent.staleness_s:,.0f} s old"
    return text, False, False


WHY_BROKEN: tuple[tuple[str, Callable[[Moment, str], Said]], ...] = (
    ("blog", _blog), ("author", _author), ("user", _user), ("redis", _redis), ("broker", _broker),
    ("cache-worker", _cache_worker),
)
"""The parts in the order they are checked: the two the clients call, then what those call, then the messages'."""


def _nodes(m: Moment) -> Narration | None:
    """A clustered broker with a node out: whether cache-invalidation still works, from the queue's type."""
    out = [node.name for node in m.status.nodes if node.health in BROKEN]
    if not out:
        return None
    up = len(m.status.nodes) - len(out)
    names = " and ".join(out)
    verb = "are" if len(out) > 1 else "is"
    if m.knobs.broker.queue_type == "quorum":
        if up * 2 > len(m.status.nodes):
            text = (f"RabbitMQ {names} {verb} down; the quorum queue goes on with {up} of {len(m.status.nodes)} "
                    f"nodes, led by {m.status.queue_leader}")
        else:
            text = (f"RabbitMQ {names} {verb} down: the quorum queue needs a majority of "
                    f"{len(m.status.nodes)} nodes and takes nothing; " + _broker(m, "down")[0])
    elif m.status.queue_leader in out:
        text = (f"RabbitMQ {names} {verb} down, and the classic queue lives on {m.status.queue_leader}: a publish "
                "comes back unroutable; " + _broker(m, "down")[0])
    else:
        text = f"RabbitMQ {names} {verb} down; the classic queue lives on {m.status.queue_leader}, which is up"
    effect, harm = m.effect(reads=False, writes=True)
    return Narration(text + (f"; {effect}" if effect else ""), "bad" if harm else "warn")


def _broken_part(m: Moment) -> Narration | None:
    for name, why in WHY_BROKEN:
        part = m.part(name)
        how = _how(part)
        if not how:
            continue
        text, reads, writes = why(m, how)
        if not text:
            continue
        effect, harm = m.effect(reads, writes, stale=name in ("broker", "cache-worker"))
        others = [f"{target_label(other)} ({_how(m.part(other))})" for other, _ in WHY_BROKEN
                  if other != name and _how(m.part(other)) and _on_a_path(m, other)]
        line = f"The {target_label(name)} is {how}: {text}" if name not in ("redis", "broker") else \
            f"{target_label(name)} is {how}: {text}"
        line += f"; {effect}" if effect else ""
        line += f" (also broken: {', '.join(others)})" if others else ""
        return Narration(line, "bad" if harm else "warn")
    return _nodes(m)


def _on_a_path(m: Moment, name: str) -> bool:
    """Whether a part carries any of this variant's traffic: in queue, no read or write calls the User Service."""
    if m.part(name).health == "absent":
        return False
    return not (name == "user" and not m.sync)


# --- 2. saturation ----------------------------------------------------------------------------------------------

def _saturated(m: Moment) -> Narration | None:
    loads = {load.service: load for load in pool_loads(m.knobs, m.status)}
    for name in ("blog", "author", "user", "cache-worker"):
        part = m.part(name)
        if part.health != "saturated":
            continue
        if name == "cache-worker":
            poison = _poison(m)
            if poison is not None:
                return poison
        rho = loads[name].utilisation if name in loads else 0.0
        reason = (f": the load asks for {load_multiple(rho)} the work the pool can do" if rho >= 1
                  else f"; {m.line_trend(name)}")
        effect, harm = m.effect(reads=name in ("blog", "user"), writes=name == "author" or (m.sync and name == "blog"))
        line = f"{_waiting_line(part).capitalize()}{reason}" + (f"; {effect}" if effect else "")
        return Narration(line, "bad" if harm else "warn")
    return None


# --- 3. the messages ----------------------------------------------------------------------------------------------

def _message_path_healthy(m: Moment) -> bool:
    return not any(_how(m.part(name)) for name in ("broker", "cache-worker", "redis")) and not any(
        node.health in BROKEN for node in m.status.nodes)


def _poison(m: Moment) -> Narration | None:
    """The same messages coming back, again and again, while nothing on their path is broken."""
    if m.letters is None or not m.recent.last_redelivered or not _message_path_healthy(m):
        return None
    looping = sorted((letter for letter in m.letters.shown
                      if letter.state in ("ready", "unacked") and letter.deliveries >= POISON_DELIVERIES),
                     key=lambda letter: -letter.deliveries)
    if not looping:
        return None
    count = len(looping)
    them = "them" if count > 1 else "it"
    limit = m.knobs.consumer.delivery_limit
    cure = (f"; the delivery limit ({limit:,}) will dead-letter {them}" if limit
            else f"; a delivery limit would move {them} to a dead-letter queue")
    text = (f"The same {count:,} message{'s' if count > 1 else ''} keep{'' if count > 1 else 's'} coming back "
            f"({looping[0].id}: {looping[0].deliveries:,} deliveries so far) while {'their' if count > 1 else 'its'} "
            f"path is healthy: the worker cannot handle {them} and returns {them} to the queue — poison"
            f" ({m.recent.redelivered:,} redeliveries {m.recent.window}){cure}")
    return Narration(text, "warn")


def _acks_at_work(m: Moment) -> bool:
    """Redeliveries that are manual ack doing its job: no more of them than the consumers could hold unacked
    (prefetch × consumers), and every message queued now delivered at most twice (a worker, or its connection,
    that stopped holding it, then the next one): nothing is coming back again and again."""
    consumer = m.knobs.consumer
    if consumer.ack != "manual" or m.letters is None or not consumer.prefetch:
        return False
    if m.recent.redelivered > consumer.prefetch * consumer.count:
        return False
    queued = [letter for letter in m.letters.shown if letter.state in ("ready", "unacked")]
    return all(letter.deliveries <= 2 for letter in queued)


def _messages(m: Moment) -> Narration | None:
    recent = m.recent
    poison = _poison(m)
    if poison is not None:
        return poison
    if recent.lost:
        cause = max(m.lost_by_cause.items(), key=lambda item: item[1], default=("", 0))[0]
        text = f"{recent.lost:,} invalidation{'s' if recent.lost != 1 else ''} lost {recent.window}"
        return Narration(text + (f": {cause}" if cause else "") + "; readers keep an old list until the next write",
                         "bad")
    if m.depth >= QUEUE_DEEP:
        stale = f"; readers see lists up to {recent.staleness_s:,.0f} s old" if recent.staleness_s >= 1 else ""
        worker = m.part("cache-worker")
        why = ("its consumer is busy" if worker.workers == 1 else f"all {worker.workers} consumers are busy") \
            if worker.busy >= worker.workers > 0 else "the cache-worker is catching up"
        return Narration(f"{m.depth:,} invalidations wait in the queue ({why}){stale}", "warn")
    if m.status.outbox_pending >= QUEUE_DEEP:
        return Narration(f"{m.status.outbox_pending:,} invalidations wait in the outbox until RabbitMQ takes them; "
                         "writes still succeed", "warn")
    if recent.dead_lettered:
        return Narration(f"{recent.dead_lettered:,} message{'s' if recent.dead_lettered != 1 else ''} dead-lettered "
                         f"{recent.window}: returned more than {m.knobs.consumer.delivery_limit:,} times, so RabbitMQ "
                         "moved them aside to the dead-letter queue", "warn")
    if recent.redelivered:
        if _acks_at_work(m):
            return Narration(f"{recent.redelivered:,} deliveries {recent.window} were redeliveries: manual ack at "
                             "work — RabbitMQ kept the messages a worker (or its connection) held unacked when it "
                             "stopped and delivers each again once, not in a loop, so nothing is lost; the work must "
                             "be safe to repeat", "ok")
        return Narration(f"{recent.redelivered:,} deliveries {recent.window} were redeliveries: RabbitMQ delivers "
                         "again what a worker did not ack (it stopped, or returned it), so the work must be safe to "
                         "repeat", "warn")
    if recent.stale_share >= FAILING:
        return Narration(f"{recent.stale_share:.0%} of reads {recent.window} returned an old list: the cache still "
                         f"held it (up to {recent.staleness_s:,.1f} s behind the database)", "warn")
    return None


# --- 4 and 5: after a mend, and all well ----------------------------------------------------------------------------

def _aftermath(m: Moment) -> Narration | None:
    recent = m.recent
    for kind, failed in (("reads", recent.read_failed), ("writes", recent.write_failed)):
        if failed >= FAILING:
            return Narration(f"Nothing is broken now; {failed:.0%} of {kind} failed {recent.window}, before it was "
                             "mended", "warn")
    return None


def _all_well(m: Moment) -> Narration:
    recent = m.recent
    rates = (f"{recent.reads_ok / recent.seconds:,.0f} reads/s and {recent.writes_ok / recent.seconds:,.1f} "
             f"writes/s served {recent.window}")
    if _how(m.part("user")) and not _on_a_path(m, "user"):
        return Narration(f"The User Service is {_how(m.part('user'))}, and no read or write waits on it here: the "
                         f"blog keeps its own directory of author names; {rates}", "ok")
    return Narration(f"All well: {rates}", "ok")


def narrate(status: VariantStatus, frames: Iterable[dict[str, Any]], knobs: Knobs,
            lost_by_cause: dict[str, int] | None = None, letters: Letters | None = None) -> Narration:
    """The line for one variant: `frames` are its last seconds (about ten), `lost_by_cause` every loss so far,
    `letters` the messages now (to tell a poison message from a redelivery)."""
    recent = Recent.of(frames)
    if recent.reads_ok + recent.read_errors + recent.writes_ok + recent.write_errors == 0:
        return Narration("Waiting for the first requests to finish", "ok")
    m = Moment(status, recent, knobs, lost_by_cause or {}, letters)
    for check in (_broken_part, _saturated, _messages, _aftermath):
        found = check(m)
        if found is not None:
            return found
    return _all_well(m)
