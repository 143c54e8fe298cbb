"""Real traffic for the lab: Poisson reads, writes and profile updates over HTTP, bounded in count and time.

Latency is measured from the moment a request was *due*, not from when a client thread got to it,
so a slow system cannot hide its slowness by slowing the load down (coordinated omission). A failed
write is retried `client_retries` times, `client_backoff_ms` apart, under one `X-Request-Id`: its
sample is the whole exchange, as the person posting sees it.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Sample:
    """One finished request: when it was due (seconds since the run's start), how long it took, how it ended."""

    kind: str  # "read", "write" or "profile"
    due_s: float
    done_s: float
    status: int  # HTTP status; 0 when no response came (refused, reset, timed out)
    error: str = ""
    version: int | None = None  # for reads: the list version served
    committed: int | None = None  # for reads: the database version when the read was due

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency_ms(self) -> float:
        return (self.done_s - self.due_s) * 1000.0


class LoadGenerator:
    """Drives GET {blog}/blogs, POST {author}/blogs and PUT {user}/api/v1/user/{id} at Poisson rates until
    stopped or a bound is reached."""

    def __init__(self, blog_url: str, author_url: str, user_url: str = "", *, reads_per_s: float,
                 writes_per_s: float, timeout_s: float, max_requests: int, max_duration_s: float,
                 profile_updates_per_s: float = 0.0, client_retries: int = 0, client_backoff_ms: float = 0.0,
                 seed: int = 1, db_version: Callable[[], int] | None = None, threads: int = 32):
        self.blog_url = blog_url.rstrip("/")
        self.author_url = author_url.rstrip("/")
        self.user_url = user_url.rstrip("/")
        self.rates = {"read": reads_per_s, "write": writes_per_s, "profile": profile_updates_per_s}
        self.max_requests = max_requests
        self.client_retries = client_retries
        self.client_backoff_s = client_backoff_ms / 1000.0
        self.max_duration_s = max_duration_s
        self.samples: queue.SimpleQueue[Sample] = queue.SimpleQueue()
        self._db_version = db_version
        self._rng = random.Random(f"{seed}:live-load")
        # a client that waits forever could never be stopped: "no timeout" waits as long as the run may last
        self._client = httpx.Client(timeout=timeout_s if timeout_s > 0 else max_duration_s,
                                    limits=httpx.Limits(max_connections=threads, max_keepalive_connections=threads))
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._rates_changed = False
        self._started = 0.0
        self._sent = 0
        self._scheduler: threading.Thread | None = None

    def set_rates(self, reads_per_s: float | None = None, writes_per_s: float | None = None,
                  profile_updates_per_s: float | None = None) -> None:
        for kind, rate in (("read", reads_per_s), ("write", writes_per_s), ("profile", profile_updates_per_s)):
            if rate is not None:
                self.rates[kind] = rate
        self._rates_changed = True
        self._wake.set()

    def start(self, origin: float | None = None) -> None:
        """Start sending; times are seconds since `origin` (a time.monotonic() value; default now)."""
        self._started = time.monotonic() if origin is None else origin
        self._scheduler = threading.Thread(target=self._schedule, name="load-scheduler", daemon=True)
        self._scheduler.start()

    def now_s(self) -> float:
        return time.monotonic() - self._started

    def _schedule(self) -> None:
        """Merge the Poisson streams; sleep until each request is due, then hand it to a client thread."""
        due = {kind: self._next_gap(kind) for kind in self.rates}
        while not self._stop.is_set() and self._sent < self.max_requests and self.now_s() < self.max_duration_s:
            if self._rates_changed:  # arrivals are memoryless: redraw from now
                self._rates_changed = False
                due = {kind: self.now_s() + self._next_gap(kind) for kind in self.rates}
            kind = min(due, key=due.__getitem__)
            at_s = min(due[kind], self.max_duration_s)
            self._wake.clear()
            if self._wake.wait(max(0.0, at_s - self.now_s())) or due[kind] > self.max_duration_s:
                continue
            due[kind] += self._next_gap(kind)
            self._sent += 1
            committed = self._db_version() if kind == "read" and self._db_version else None
            self._pool.submit(self._send, kind, at_s, committed)

    def _next_gap(self, kind: str) -> float:
        rate = self.rates[kind]
        return self._rng.expovariate(rate) if rate > 0 else float("inf")

    def _send(self, kind: str, due_s: float, committed: int | None) -> None:
        try:
            author_id = 1 + self._sent % 3
            if kind == "read":
                response = self._client.get(f"{self.blog_url}/blogs")
            elif kind == "write":
                response = self._write(author_id)
            else:
                response = self._client.put(f"{self.user_url}/api/v1/user/{author_id}",
                                            json={"name": f"Author {author_id} ({self._sent})"})
        except httpx.HTTPError as exc:
            self.samples.put(Sample(kind, due_s, self.now_s(), 0, type(exc).__name__, committed=committed))
            return
        version = response.json().get("version") if kind == "read" and response.status_code == 200 else None
        self.samples.put(Sample(kind, due_s, self.now_s(), response.status_code, version=version,
                                committed=committed))

    def _write(self, author_id: int) -> httpx.Response:
        """POST a post; retry a failure (an error answer or none at all) as the client is told to."""
        request_id = uuid.uuid4().hex
        for _ in range(self.client_retries):
            with contextlib.suppress(httpx.HTTPError):
                response = self._post(author_id, request_id)
                if response.is_success:
                    return response
            time.sleep(self.client_backoff_s)
        return self._post(author_id, request_id)

    def _post(self, author_id: int, request_id: str) -> httpx.Response:
        return self._client.post(f"{self.author_url}/blogs", headers={"X-Request-Id": request_id},
                                 json={"title": "post", "body": "…", "author_id": author_id})

    def drain(self) -> list[Sample]:
        """The samples finished since the last drain."""
        out = []
        while True:
            try:
                out.append(self.samples.get_nowait())
            except queue.Empty:
                return out

    def stop(self, wait_s: float = 10.0) -> None:
        """Stop sending; wait up to `wait_s` for requests in flight, then close the client."""
        self._stop.set()
        self._wake.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=wait_s)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
