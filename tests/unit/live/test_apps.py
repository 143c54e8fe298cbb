"""The HTTP surface of the services that need no broker or Redis: the sync user service, the author's checks
(served by uvicorn on a loopback port)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from sandbox.live.services import author, user
from sandbox.live.services.config import ServiceConfig, parse_knobs
from tests.helpers import serving


@contextlib.contextmanager
def served(app) -> Iterator[httpx.Client]:
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
def config(tmp_path):
    return ServiceConfig(variant="unit", architecture="sync", blog_url="http://127.0.0.1:9",
                         database=str(tmp_path / "lab.sqlite3"), knobs=parse_knobs({"services.user.workers": 3}))


def test_user_answers_a_default_name_then_the_new_one(config):
    with served(user.create_app(config)) as client:
        assert client.get("/api/v1/user/4").json() == {"id": 4, "name": "Author 4"}
        assert client.put("/api/v1/user/4", json={"name": "Ada"}).json() == {"id": 4, "name": "Ada"}
        assert client.get("/api/v1/user/4").json() == {"id": 4, "name": "Ada"}
        assert client.put("/api/v1/user/4", json={"name": ""}).status_code == 400
        assert client.get("/api/v1/user/x").status_code == 404


def test_health_and_metrics_report_the_finite_worker_pool(config):
    with served(user.create_app(config)) as client:
        assert client.get("/health").json() == {"status": "ok", "service": "user"}
        client.get("/api/v1/user/1")
        metrics = client.get("/metrics").json()
        assert metrics["requests"] == 1
        assert (metrics["workers"], metrics["busy"], metrics["waiting"]) == (3, 0, 0)


@pytest.mark.parametrize("body", [
    {"title": "t", "body": "b"}, {"title": "t", "body": "b", "author_id": 0},
    {"title": "t", "body": "b", "author_id": True}, {"title": 1, "body": "b", "author_id": 1}, ["x"],
])
def test_author_refuses_a_malformed_post_without_writing(config, body):
    app = author.create_app(config)
    with served(app) as client:
        response = client.post("/blogs", json=body)
        assert response.status_code == 400
        assert client.get("/metrics").json()["rejected"] == 1
        assert app.state.service.db.version() == 0


def test_the_author_saves_a_retried_post_again_and_keeps_its_request_id_to_count_it(config):
    # the blog is unreachable, so each post is committed and then answered 500
    app = author.create_app(config)
    post = {"title": "t", "body": "b", "author_id": 1}
    with served(app) as client:
        answers = [client.post("/blogs", json=post, headers={"X-Request-Id": "a"}),
                   client.post("/blogs", json=post, headers={"X-Request-Id": "a"}),
                   client.post("/blogs", json=post, headers={"X-Request-Id": "b"}),
                   client.post("/blogs", json=post)]
        db = app.state.service.db
        assert (db.version(), db.duplicate_posts()) == (4, 1)
    assert [a.status_code for a in answers] == [500] * 4
