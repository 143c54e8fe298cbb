"""The load generator sends real HTTP at Poisson rates, within its bounds, and times from when a request was due."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.live.load import LoadGenerator
from sandbox.live.processes.ports import free_port
from tests.helpers import serving


def blog_app(read_delay_s: float = 0.0, failing_writes: bool = False) -> Starlette:
    state = {"version": 0, "request_ids": []}

    def read(request):
        time.sleep(read_delay_s)
        return JSONResponse({"posts": [], "version": state["version"], "cached": True})

    def write(request):
        state["version"] += 1
        state["request_ids"].append(request.headers.get("x-request-id"))
        return JSONResponse({"id": state["version"], "version": state["version"]},
                            status_code=500 if failing_writes else 201)

    async def rename(request):
        return JSONResponse({"id": request.path_params["user_id"], "name": (await request.json())["name"]})

    app = Starlette(routes=[Route("/blogs", read, methods=["GET"]), Route("/blogs", write, methods=["POST"]),
                            Route("/api/v1/user/{user_id:int}", rename, methods=["PUT"])])
    app.state.seen = state
    return app


def run_load(url: str, duration_s: float, **kwargs) -> list:
    load = LoadGenerator(url, url, url, timeout_s=2, max_duration_s=duration_s, **kwargs)
    load.start()
    time.sleep(duration_s + 0.3)
    load.stop()
    return load.drain()


def test_poisson_reads_and_writes_at_their_rates():
    with serving(blog_app()) as url:
        samples = run_load(url, 3.0, reads_per_s=40, writes_per_s=10, max_requests=10_000)
    reads = [s for s in samples if s.kind == "read"]
    writes = [s for s in samples if s.kind == "write"]
    assert 80 <= len(reads) <= 170 and 15 <= len(writes) <= 55
    assert all(s.ok for s in samples)
    assert all(s.status == 201 for s in writes)
    assert max(s.version for s in reads) >= 1, "reads carry the list version the blog served"


def test_profile_updates_rename_the_first_three_authors_at_their_rate():
    with serving(blog_app()) as url:
        samples = run_load(url, 3.0, reads_per_s=0, writes_per_s=0, profile_updates_per_s=10, max_requests=10_000)
    assert 15 <= len(samples) <= 55
    assert all(s.kind == "profile" and s.status == 200 for s in samples)


def test_a_failed_write_is_retried_under_its_request_id_and_timed_as_one():
    app = blog_app(failing_writes=True)
    with serving(app) as url:
        samples = run_load(url, 1.0, reads_per_s=0, writes_per_s=10, max_requests=3, client_retries=2,
                           client_backoff_ms=100)
    ids = app.state.seen["request_ids"]
    assert len(samples) == 3 and all(s.status == 500 for s in samples)
    assert len(ids) == 9 and all(ids.count(i) == 3 for i in ids), "three attempts per write, one id each"
    assert min(s.latency_ms for s in samples) >= 195, "two 100 ms back-offs inside each sample"


def test_the_request_bound_holds():
    with serving(blog_app()) as url:
        samples = run_load(url, 2.0, reads_per_s=200, writes_per_s=0, max_requests=25)
    assert len(samples) == 25


def test_latency_counts_from_when_the_request_was_due():
    with serving(blog_app(read_delay_s=0.2)) as url:
        samples = run_load(url, 1.5, reads_per_s=20, writes_per_s=0, max_requests=1000, threads=2)
    # two client threads, each request 200 ms, 20 due per second: requests wait for a thread, and that counts
    assert min(s.latency_ms for s in samples) >= 195
    assert max(s.latency_ms for s in samples) > 1000


def test_a_refused_connection_is_a_sample_with_no_status():
    url = f"http://127.0.0.1:{free_port()}"
    samples = run_load(url, 1.0, reads_per_s=20, writes_per_s=0, max_requests=100)
    assert samples and all(s.status == 0 and s.error == "ConnectError" and not s.ok for s in samples)


def test_rates_change_while_running():
    with serving(blog_app()) as url:
        load = LoadGenerator(url, url, reads_per_s=0, writes_per_s=0, timeout_s=2, max_requests=1000,
                             max_duration_s=3)
        load.start()
        time.sleep(1.0)
        assert load.drain() == []
        load.set_rates(reads_per_s=50)
        time.sleep(1.0)
        load.stop()
        assert 25 <= len(load.drain()) <= 85
