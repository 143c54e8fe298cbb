"""Every metric of the registry is measured by the live lab's meter too, unless it is marked `sim_only`.

The meter is driven through three seconds of a queue variant in which everything the registry counts happens at
least once — reads and writes that succeed, fail and come back stale, cache hits and misses, a duplicate post,
publishes, a publish the author gave up, nacks, redeliveries, delayed retries, dead letters (the length limit's
among them), messages handled, busy and waiting pools, a
message in every place, and messages the census finds lost after the broker took them. The services' /metrics
answer through httpx.MockTransport, the database is the lab's own SQLite store and the cache fakeredis. A metric
whose value stays empty (or zero) in such a run is one the meter does not produce: a mapping deleted from
`meter.COUNTED`, a gauge nobody reads. It must then be marked `sim_only` in the registry, and a metric so marked must
really be missing here.
The mailer's mailbox table has one post e-mailed twice and one acked with no e-mail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import fakeredis
import httpx
import pytest

from sandbox.live.load import Sample
from sandbox.live.meter import Meter
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.config import ServiceConfig
from sandbox.live.store import Database
from sandbox.live.wiring import SERVICES, VariantLab
from sandbox.model import losses
from sandbox.model.knobs import resolve
from sandbox.model.measurements import Measurements
from sandbox.model.metrics import METRICS
from sandbox.model.scenario import Variant

SECONDS = 3
PORTS = {name: 9000 + i for i, name in enumerate(SERVICES)}
QUEUE_READY, DEAD_LETTERED, HOLDING, PUBLISHING = 2, 1, 1, 1


@dataclass
class Load:
    """The load generator's finished requests, handed over on the next drain."""

    samples: list[Sample] = field(default_factory=list)

    def drain(self) -> list[Sample]:
        drained, self.samples = self.samples, []
        return drained


class Alive:
    def alive(self, name: str) -> bool:
        return True


class Queues:
    """The broker's queue depths, as the management API would give them."""

    def __init__(self, config: ServiceConfig):
        self.depths = {config.invalidation_queue: QUEUE_READY, config.topology.dead_letter_queue: DEAD_LETTERED,
                       **dict.fromkeys(config.topology.retry_queues, 0)}

    def ready(self, queue: str) -> int | None:
        return self.depths[queue]

    def unacked(self, queue: str) -> int | None:
        return HOLDING


def service_metrics(second: int) -> dict[int, dict]:
    """Each service's /metrics at the end of `second`: counters that grow, pools at work."""
    n = second + 1
    pool = {"busy": 1, "waiting": 2}
    return {
        PORTS["author"]: pool | {"published": 4 * n, "lost": n, "nacked": n, "publishing": PUBLISHING},
        PORTS["blog"]: pool | {"cache_hits": 3 * n, "cache_misses": n},
        PORTS["user"]: dict(pool),
        # the DLQ holds one message the worker did not put there: the length limit dropped it (drop-head)
        PORTS["cache-worker"]: pool | {"redelivered": n, "dead_lettered": 0, "retried": n, "holding": HOLDING,
                                       "held": []},
    }


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[VariantLab]:
    knobs = resolve({"broker.max_length": 5, "consumer.retry": "delayed"})
    config = ServiceConfig(variant="queue", architecture="queue", redis_prefix="t:", queue_suffix=".t", knobs=knobs)
    db = Database(tmp_path / "lab.sqlite3")
    yield VariantLab(Variant("queue", "queue"), config, dict(PORTS), {}, db,
                     BlogCache(fakeredis.FakeRedis(), config.redis_prefix), Load())
    db.close()


def measured(lab: VariantLab) -> Measurements:
    """Three seconds of the meter reading a variant where everything happens."""
    now = {"second": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=service_metrics(now["second"])[request.url.port])

    probe = httpx.Client(transport=httpx.MockTransport(answer))
    meter = Meter(lab, Alive(), Queues(lab.config), probe)
    meter.expect_loss(losses.TRANSIENT_QUEUE, None)  # the cause the census files what it finds under
    load = lab.load
    assert isinstance(load, Load)
    for second in range(SECONDS):
        now["second"] = second
        for i in range(4):
            lab.db.insert_post(1, "t", "b", request_id=f"r{second}-{min(i, 2)}")  # the last one a retry's twin
        lab.db.insert_post(1, "t", "b", outbox_body=b"{}")  # one waits in the outbox
        lab.db.send_email(second * 3 + 1)
        lab.db.send_email(second * 3 + 1)  # the mailer e-mailed one post twice
        lab.db.mail_acked(second * 3 + 2)  # and acked another without its e-mail
        lab.cache.fill({"version": lab.db.version() - 2, "posts": []}, None, 60)  # two writes behind
        committed = lab.db.version()
        load.samples += [Sample("read", second, second + 0.1, 200, version=committed - 1, committed=committed),
                         Sample("read", second, second + 0.2, 200, version=committed, committed=committed),
                         Sample("read", second, second + 0.3, 0, "timed out"),
                         Sample("write", second, second + 0.4, 201),
                         Sample("write", second, second + 0.5, 503)]
        handled = lab.db.version() - 12  # the census finds twelve short, after the messages in every place
        lab.cache.client.set(lab.config.handled_key, handled)
        time.sleep(0.01)  # the cached list is a little stale
        meter.tick()
        meter.close_second(second)
    probe.close()
    return lab.measurements


def test_the_run_makes_every_message_place_and_every_counter_busy(lab: VariantLab) -> None:
    """The scripted run really is one where everything happens (else the test below proves nothing)."""
    m = measured(lab)
    totals = m.totals(0, SECONDS)
    assert totals["read.errors"] and totals["read.stale"] and totals["write.errors"] and totals["write.duplicates"]
    assert m.lost_by_cause.get(losses.TRANSIENT_QUEUE), "the census found messages lost after the broker took them"
    assert m.frame(SECONDS - 1)["outbox.pending"] == SECONDS and m.frame(SECONDS - 1)["msg.in_flight"] == PUBLISHING


def test_every_registry_metric_is_measured_by_the_live_meter_or_marked_sim_only(lab: VariantLab) -> None:
    m = measured(lab)
    unmeasured = {name for name in METRICS if not m.observe(name, 0, SECONDS)}
    marked = {name for name, metric in METRICS.items() if metric.sim_only}
    assert not unmeasured - marked, (
        f"the live meter does not produce {sorted(unmeasured - marked)}: measure it in sandbox/live/meter.py "
        "(a service's /metrics counter goes in meter.COUNTED), or mark it sim_only in sandbox/model/metrics.py")
    assert not marked - unmeasured, (
        f"{sorted(marked - unmeasured)} marked sim_only, but the live meter measures it: drop the mark")


def test_drop_head_losses_are_what_the_dlq_holds_beyond_the_workers_dead_letters(lab: VariantLab) -> None:
    """Counted from the DLQ's depth and the worker's dead letters counted so far: right also while the worker is
    dead and its /metrics cannot answer."""
    probe = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    meter = Meter(lab, Alive(), Queues(lab.config), probe)
    meter._count_delta(0, "cache-worker", "dead_lettered", "msg.dead_lettered", 2)  # two poison messages it gave up on
    for second, dlq_depth in enumerate((5, 5, 7)):
        meter._count_dropped(second, dlq_depth)
    probe.close()
    for second in range(3):
        lab.measurements.close_second(second, {})
    totals = lab.measurements.totals(0, 3)
    assert totals["msg.dropped_by_limit"] == 5, "three, then two more; a second reading of the same depth adds none"
    assert totals["msg.dead_lettered"] == 7, "the DLQ's depth: the worker's two and the five dropped"
