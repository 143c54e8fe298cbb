"""The invalidation message, the worker's parser, reconnect backoff, and the Redis cache (on fakeredis)."""

from __future__ import annotations

import json

import fakeredis
import pytest

from sandbox.live.rabbitmq.broker import INVALIDATE_BODY
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.cache_worker import MalformedMessage, parse_invalidation


def test_the_message_body_is_exactly_the_documented_json():
    assert INVALIDATE_BODY == b'{"action": "invalidateCache", "keys": ["blogs:*"]}'


def test_any_producer_s_spelling_of_the_message_parses():
    assert parse_invalidation(INVALIDATE_BODY) == ["blogs:*"]
    assert parse_invalidation(b'{"keys":["blogs:*","blogs:page:*"],"action":"invalidateCache"}') == [
        "blogs:*", "blogs:page:*"]


@pytest.mark.parametrize("body", [
    b"not json", b"\xff\xfe", b"[]", b'{"action": "deleteEverything", "keys": ["blogs:*"]}',
    b'{"action": "invalidateCache"}', b'{"action": "invalidateCache", "keys": []}',
    b'{"action": "invalidateCache", "keys": "blogs:*"}', b'{"action": "invalidateCache", "keys": [1]}',
])
def test_a_malformed_message_is_refused(body):
    with pytest.raises(MalformedMessage):
        parse_invalidation(body)


@pytest.fixture
def cache():
    return BlogCache(fakeredis.FakeRedis(), prefix="v1:")


def test_a_fill_is_read_back(cache):
    assert cache.get() is None
    assert cache.fill({"posts": [], "version": 3}, cache.generation(), ttl_s=0)
    assert cache.get() == {"posts": [], "version": 3}
    assert cache.client.ttl("v1:blogs:list") == -1


def test_a_ttl_expires_the_list(cache):
    cache.fill({"posts": [], "version": 1}, None, ttl_s=30)
    assert 0 < cache.client.pttl("v1:blogs:list") <= 30_000


def test_invalidation_deletes_only_this_prefix_s_blogs_keys_and_bumps_the_generation(cache):
    client = cache.client
    client.set("v1:blogs:list", "x")
    client.set("v1:blogs:page:2", "x")
    client.set("v2:blogs:list", "other variant")
    client.set("v1:sessions:1", "not a blog key")
    before = cache.generation()
    assert cache.invalidate() == 2
    assert cache.generation() == before + 1
    assert sorted(client.keys("*")) == [b"v1:cache-generation:blogs", b"v1:sessions:1", b"v2:blogs:list"]


def test_a_fill_after_an_invalidation_it_did_not_see_is_refused(cache):
    generation = cache.generation()  # the reader looks before its database query
    cache.invalidate()  # a write's invalidation runs meanwhile
    assert not cache.fill({"posts": [], "version": 1}, generation, ttl_s=0)
    assert cache.get() is None
    assert cache.fill({"posts": [], "version": 2}, cache.generation(), ttl_s=0)


def test_an_unguarded_fill_always_stores(cache):
    cache.invalidate()
    assert cache.fill({"posts": [], "version": 1}, None, ttl_s=0)
    assert json.loads(cache.client.get("v1:blogs:list"))["version"] == 1


def test_a_wide_pattern_never_deletes_the_generation(cache):
    cache.client.set("v1:blogs:list", "x")
    cache.invalidate(["*"])
    assert cache.generation() == 1
