"""The cluster numbers the simulation takes from the lab: how long a quorum queue stops confirming when its
leader's node dies (the sim's `broker.election_ms`), and how long a revived node takes to answer again (the sim
revives a node at once).

Three RabbitMQ nodes of the lab's own (sandbox/live/rabbitmq/cluster.py) start and cluster; a quorum queue is declared
through broker-1, so its leader is there; a publisher on broker-2 publishes persistent messages with confirms,
one after another, while broker-1 is SIGKILLed. The pause is the longest gap between two confirms around the
kill. Then broker-1 is started again and timed until its AMQP port answers.

The recovery window comes from the majority-loss story (MAJORITY_LOSS, issue 18's timings, run for 150 s rather
than 120 s so that a loaded machine's slow boots still end inside it): broker-1 killed at 10 s and revived at 30 s,
broker-2 and broker-3 killed at 40 and 41 s and revived at 55 s. It is the seconds from
that revive until the quorum variant's writes all succeed again, on the lab and on the simulation (whose
`broker.boot_s` and `broker.catch_up_s` make it); bench.sim_vs_lab compares the two.

Run alone:  .venv/bin/python -m bench.cluster_pause    (about 60 s); bench.sim_vs_lab prints it too.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import threading
import time
from dataclasses import dataclass

import pika
import pika.exceptions

from sandbox.live.processes.runs import new_run_id, run_folder
from sandbox.live.rabbitmq.cluster import Cluster, NodeError
from sandbox.model.knobs import BrokerKnobs
from sandbox.model.measurements import Measurements
from sandbox.model.scenario import Scenario, parse_scenario_text

QUEUE = "bench.election"
BEFORE_KILL_S = 2.0
AFTER_KILL_S = 8.0
REVIVE_TIMEOUT_S = 120.0


REVIVED_S = 55
MAJORITY_LOSS = f"""
id = "bench-majority-loss"
title = "a quorum queue loses its majority, sim vs lab"
duration = 150
seed = 7

[load]
reads_per_s = 20
writes_per_s = 4

[knobs]
broker.nodes = 3

[variants.classic]
architecture = "queue"
broker.queue_type = "classic"

[variants.quorum]
architecture = "queue"
broker.queue_type = "quorum"

[[timeline]]
at = 10
do = "kill"
target = "broker-1"

[[timeline]]
at = 30
do = "revive"
target = "broker-1"

[[timeline]]
at = 40
do = "kill"
target = "broker-2"

[[timeline]]
at = 41
do = "kill"
target = "broker-3"

[[timeline]]
at = {REVIVED_S}
do = "revive"
target = "broker-2"

[[timeline]]
at = {REVIVED_S}
do = "revive"
target = "broker-3"
"""


def majority_loss() -> Scenario:
    return parse_scenario_text(MAJORITY_LOSS, "bench-majority-loss.toml")


def recovery_window_s(m: Measurements, duration_s: float) -> float:
    """Seconds from the revive at REVIVED_S until every write to the end succeeds (the run's end: never)."""
    last_failing = max((t for t in range(REVIVED_S, int(duration_s)) if m.frame(t)["write.errors"]), default=None)
    return 0.0 if last_failing is None else last_failing + 1 - REVIVED_S


@dataclass(frozen=True)
class ClusterNumbers:
    election_pause_ms: float
    revive_s: float | None  # None: the node did not answer within REVIVE_TIMEOUT_S


def measure() -> ClusterNumbers:
    """Start three nodes, measure, and remove them and their folder. Raises NodeError."""
    run_id = new_run_id()
    folder = run_folder(run_id)
    answered = threading.Event()
    cluster = Cluster(3, folder / "nodes", run_id,
                      log=lambda text: answered.set() if "answers again" in text else None)
    try:
        cluster.start()
        pause_s = _election_pause_s(cluster)
        started = time.monotonic()
        cluster.revive(1)
        revive_s = time.monotonic() - started if answered.wait(REVIVE_TIMEOUT_S) else None
        return ClusterNumbers(pause_s * 1000, revive_s)
    finally:
        cluster.close()
        shutil.rmtree(folder, ignore_errors=True)


def _election_pause_s(cluster: Cluster) -> float:
    first = pika.BlockingConnection(pika.URLParameters(cluster.node(1).url))
    first.channel().queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    first.close()
    connection = pika.BlockingConnection(pika.URLParameters(cluster.node(2).url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        confirmed = [time.monotonic()]
        killed_at = confirmed[0] + BEFORE_KILL_S
        end = killed_at + AFTER_KILL_S
        killed = False
        while time.monotonic() < end:
            if not killed and time.monotonic() >= killed_at:
                cluster.kill(1)
                killed = True
            try:
                channel.basic_publish("", QUEUE, b"x", pika.BasicProperties(delivery_mode=2))
            except pika.exceptions.NackError:
                continue
            confirmed.append(time.monotonic())
        return max(b - a for a, b in itertools.pairwise(confirmed))
    finally:
        connection.close()


def main() -> int:
    try:
        numbers = measure()
    except NodeError as exc:
        print(f"the lab cannot start its own nodes: {exc}", file=sys.stderr)
        return 2
    print(report(numbers))
    return 0


def report(numbers: ClusterNumbers) -> str:
    revive = f"{numbers.revive_s:.1f} s" if numbers.revive_s is not None else f"over {REVIVE_TIMEOUT_S:g} s"
    return (f"cluster: a quorum queue's pause when its leader's node dies: lab {numbers.election_pause_ms:.0f} ms, "
            f"sim broker.election_ms {BrokerKnobs().election_ms:g} ms\n"
            f"cluster: a revived node answers after: lab {revive}, sim broker.boot_s {BrokerKnobs().boot_s:g} s")


if __name__ == "__main__":
    sys.exit(main())
