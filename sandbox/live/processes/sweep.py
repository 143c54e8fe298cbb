"""Removing what dead runs left behind: their RabbitMQ nodes, queues, exchanges, policies, Redis keys and folders.

A run killed by SIGKILL cannot clean up after itself. Its folder in the temporary directory still holds its record
(runs.py), and the next live run or `lab up` calls `sweep`: for every run folder whose owner is gone it kills the
nodes the record names (if some process of theirs survived), deletes the record's queues, exchanges and policies
from the broker it names, the Redis keys under its prefixes, then the folder. Only what a record names is touched,
and only once its owner's pid is dead. The standing lab's exact names (`cache-invalidation`, ...) are left alone
while another standing lab holds the claim to them (claim.py). Something that cannot be reached now (the broker,
Redis) keeps the folder, so the next sweep tries again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections import Counter
from pathlib import Path

import pika
import pika.exceptions
import redis

from sandbox.live.processes.runs import FOLDER_PREFIX, RunRecord, alive, owner_pid
from sandbox.live.rabbitmq import claim
from sandbox.live.rabbitmq.cluster import NAME_PREFIX
from sandbox.live.rabbitmq.management import ManagementApi
from sandbox.live.rabbitmq.policies import Policies


class _Unreachable(Exception):
    """A server a record names did not answer: the folder stays for the next sweep."""


def sweep(temp_dir: Path | None = None, *, claimed: bool = False) -> str:
    """Remove what every dead run left; one line saying what was swept ("" when nothing was).

    `claimed`: the caller is the standing lab and holds the claim, so a dead standing lab's names are its to remove."""
    folders = sorted(Path(temp_dir or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*-*"))
    swept: Counter[str] = Counter()
    pids: list[int] = []
    kept: list[str] = []
    for folder in folders:
        pid = owner_pid(folder)
        if pid is None or not folder.is_dir():
            continue
        record = RunRecord.load(folder)
        if alive(pid, record.started if record else None):
            continue
        try:
            if record is not None:
                _remove(record, swept, claimed)
        except _Unreachable as exc:
            kept.append(f"{folder.name} ({exc})")
            continue
        shutil.rmtree(folder, ignore_errors=True)
        swept["temp folder"] += 1
        pids.append(pid)
    if not pids and not kept:
        return ""
    parts = [_counted(count, what) for what, count in swept.items() if count]
    line = (f"swept what {_counted(len(pids), 'dead run')} left (pid {', '.join(map(str, pids))}): "
            + ", ".join(parts)) if pids else ""
    if kept:
        line += ("; " if line else "") + "left for the next sweep: " + "; ".join(kept)
    return line


def _counted(count: int, what: str) -> str:
    plural = what[:-1] + "ies" if what.endswith("y") else what + "s"
    return f"{count} {what if count == 1 else plural}"


def _remove(record: RunRecord, swept: Counter[str], claimed: bool) -> None:
    if record.nodes:
        swept["RabbitMQ node"] += _kill_nodes(f"{NAME_PREFIX}{record.run_id}-")
    if record.rabbitmq_url and (record.queues or record.exchanges or record.policies):
        _remove_from_broker(record, swept, claimed)
    if record.redis_url and record.redis_prefixes:
        _remove_keys(record, swept)


def _kill_nodes(prefix: str) -> int:
    """SIGKILL every process whose command line or environment names a node starting with `prefix` (the run's
    nodes: their VMs, which get the name as RABBITMQ_NODENAME, should any have outlived the run); how many there
    were."""
    killed = 0
    for process in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if any(prefix.encode() in (process / part).read_bytes() for part in ("cmdline", "environ")):
                os.kill(int(process.name), signal.SIGKILL)
                killed += 1
    return killed


def _remove_from_broker(record: RunRecord, swept: Counter[str], claimed: bool) -> None:
    params = pika.URLParameters(record.rabbitmq_url)
    params.connection_attempts, params.socket_timeout = 1, 3.0
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError:
        raise _Unreachable(f"RabbitMQ at {params.host}:{params.port} did not answer") from None
    try:
        if record.standing and not claimed and claim.held(connection):
            return  # another standing lab owns these names now
        channel = connection.channel()
        for queue in record.queues:
            channel.queue_delete(queue)
            swept["queue"] += 1
        for exchange in record.exchanges:
            channel.exchange_delete(exchange)
            swept["exchange"] += 1
    except pika.exceptions.AMQPError as exc:
        raise _Unreachable(f"RabbitMQ refused: {exc!r}") from None
    finally:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection.close()
    credentials = params.credentials
    assert isinstance(credentials, pika.PlainCredentials), "an amqp:// URL carries a user and password"
    management = ManagementApi(record.management_url, credentials.username, credentials.password) \
        if record.management_url else None
    try:
        policies = Policies(record.rabbitmq_url, management)
        for name in record.policies:
            policies.delete(name)
            swept["policy"] += 1
    finally:
        if management is not None:
            management.close()


def _remove_keys(record: RunRecord, swept: Counter[str]) -> None:
    client = redis.Redis.from_url(record.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        for prefix in record.redis_prefixes:
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.unlink(*keys)
                swept["Redis key"] += len(keys)
    except redis.RedisError as exc:
        raise _Unreachable(f"Redis did not answer: {type(exc).__name__}") from None
    finally:
        client.close()
