"""What queueing theory predicts for each worker pool: utilisation = arrival rate × hold time ÷ workers.

The hold time is how long one request keeps a worker: its own work plus every synchronous call it waits on.
At utilisation 1 or more, work arrives faster than the pool finishes it and the line grows without bound.

Below 1, a pool with Poisson arrivals and exponential hold times is an M/M/c queue, whose mean wait for a
worker is Erlang C's (`erlang_c_wait_s`); bench/sim_accuracy.py and tests/unit/sim/test_erlang_c.py hold the
simulation to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sandbox.model.knobs import Knobs
from sandbox.model.status import VariantStatus


@dataclass(frozen=True)
class PoolLoad:
    service: str
    arrivals_per_s: float
    hold_ms: float
    workers: int

    @property
    def utilisation(self) -> float:
        if self.arrivals_per_s == 0:
            return 0.0
        return self.arrivals_per_s * self.hold_ms / 1000.0 / self.workers

    def explain(self) -> str:
        """The working, e.g. 'blog: 20.0 req/s × 5.2 ms ÷ 8 workers = 1% of its capacity'; above 100%, the offered load
        as a multiple of the capacity: '= 13× its capacity'."""
        hold = "forever" if math.isinf(self.hold_ms) else f"{self.hold_ms:,.1f} ms"
        text = (f"{self.service}: {self.arrivals_per_s:.1f} req/s × {hold} ÷ {self.workers} workers = "
                f"{self.load_words()}")
        if self.utilisation >= 1:
            text += " — more work arrives than the pool can finish, so requests wait in a growing line"
        return text

    def load_words(self) -> str:
        """The offered load over the capacity, as a person says it: '80% of its capacity', '13× its capacity'."""
        return f"{load_multiple(self.utilisation)} its capacity" if self.utilisation >= 1 else \
            f"{self.utilisation:.0%} of its capacity"


def load_multiple(rho: float) -> str:
    """An offered load of 1 or more as a multiple of the capacity: '1.4×', '13×', '∞×'."""
    if math.isinf(rho):
        return "∞×"
    return f"{rho:,.0f}×" if rho >= 10 else f"{rho:.1f}×"


def _call_ms(knobs: Knobs, status: VariantStatus, callee: str, callee_work_ms: float) -> float:
    """How long a caller's worker waits on one synchronous call to `callee`."""
    timeout_ms = knobs.http.timeout_s * 1000.0 or math.inf
    part = status.components[callee]
    if part.health == "down":
        return knobs.http.rtt_ms
    if part.health == "hung":
        return timeout_ms
    return min(knobs.http.rtt_ms + part.latency_ms + callee_work_ms, timeout_ms)


def miss_fraction(knobs: Knobs, status: VariantStatus) -> float:
    """Reads that miss the cache: one after each invalidation or expiry while the cache refills; all of them
    while it cannot refill (Redis failing, or in sync the User Service every rebuild needs)."""
    reads, writes = knobs.load.reads_per_s, knobs.load.writes_per_s
    broken = ("down", "hung")
    if status.components["redis"].health in broken or (
            status.architecture == "sync" and status.components["user"].health in broken):
        return 1.0
    if reads == 0:
        return 0.0
    expiries_per_s = 1.0 / knobs.cache.ttl_s if knobs.cache.ttl_s else 0.0
    return min(1.0, (writes + expiries_per_s) / reads)


def pool_loads(knobs: Knobs, status: VariantStatus) -> list[PoolLoad]:
    """The predicted load on every pool of one variant, from its knobs and its faults."""
    reads, writes = knobs.load.reads_per_s, knobs.load.writes_per_s
    sync = status.architecture == "sync"
    miss = miss_fraction(knobs, status)
    work = {name: knobs.services.pool(name).service_ms for name in ("author", "blog", "user")}
    authors = knobs.blog.authors_per_page

    # a read asks Redis once; a miss also reads the database and fills the cache
    blog_hold = work["blog"] + knobs.redis.rtt_ms + miss * (knobs.db.read_ms + knobs.redis.rtt_ms)
    user_arrivals = knobs.load.profile_updates_per_s
    author_hold = work["author"] + knobs.db.write_ms
    if sync:
        user_ms = _call_ms(knobs, status, "user", work["user"])
        calls = 1 if status.components["user"].health in ("down", "hung") else authors
        if miss:
            blog_hold += miss * calls * user_ms
        user_arrivals += reads * miss * calls
        author_hold += _call_ms(knobs, status, "blog", work["blog"])
    else:
        author_hold += knobs.broker.rtt_ms + (knobs.broker.fsync_ms if knobs.publish.confirms else 0.0)
    blog_arrivals = reads + (writes if sync else 0.0)
    loads = [
        PoolLoad("author", writes, author_hold, knobs.services.author.workers),
        PoolLoad("blog", blog_arrivals, blog_hold, knobs.services.blog.workers),
        PoolLoad("user", user_arrivals, work["user"], knobs.services.user.workers),
    ]
    if not sync:
        loads.append(PoolLoad("cache-worker", writes, knobs.consumer.work_ms + knobs.redis.rtt_ms,
                              knobs.consumer.count))
    return loads


def erlang_c(servers: int, offered_load: float) -> float:
    """The probability that an arrival waits in M/M/c, with offered load a = arrival rate × mean hold time:
    C(c, a) = (a^c/c! · c/(c − a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c − a))."""
    if not 0 < offered_load < servers:
        raise ValueError(f"needs 0 < a < c for a stable queue; got a = {offered_load!r}, c = {servers!r}")
    term = 1.0  # a^k / k!
    below_c = 0.0
    for k in range(servers):
        below_c += term
        term *= offered_load / (k + 1)
    waiting = term * servers / (servers - offered_load)
    return waiting / (below_c + waiting)


def erlang_c_wait_s(servers: int, arrivals_per_s: float, hold_s: float) -> float:
    """Mean wait in queue of M/M/c: W_q = C(c, a) / (c·μ − λ), with μ = 1 / hold time and a = λ / μ."""
    mu = 1.0 / hold_s
    return erlang_c(servers, arrivals_per_s * hold_s) / (servers * mu - arrivals_per_s)


# Little's law and sizing, next to utilisation ------------------------------------------------------------------


def littles_law_items(arrivals_per_s: float, time_in_system_s: float) -> float:
    """Little's law, L = λW: on average a system holds its arrival rate times the time each item spends in it
    (requests in a pool, messages in a queue, workers busy)."""
    return arrivals_per_s * time_in_system_s


def littles_law_rate_per_s(items: float, time_in_system_s: float) -> float:
    """Little's law the other way round, λ = L / W: the arrival rate that keeps `items` in the system when each
    spends `time_in_system_s` there — e.g. the misses per second that keep every worker of a pool busy."""
    return items / time_in_system_s


def workers_needed(arrivals_per_s: float, hold_ms: float) -> int:
    """The fewest workers that keep utilisation below 100%: a pool at 100% or more has no spare time to work
    off a line, so it grows for as long as the load lasts."""
    return math.floor(arrivals_per_s * hold_ms / 1000.0) + 1


def backlog_after(arrivals_per_s: float, served_per_s: float, seconds: float) -> float:
    """How much waits after `seconds` when work arrives faster than it is served: (arrivals − served) × time;
    nothing piles up while the servers keep up."""
    return max(0.0, (arrivals_per_s - served_per_s) * seconds)
