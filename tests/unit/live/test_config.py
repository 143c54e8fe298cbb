"""A service's configuration: one JSON object in the environment, the knobs checked like a scenario's."""

from __future__ import annotations

import json

import pytest

from sandbox.live.services.config import CONFIG_ENV, ConfigError, ServiceConfig, parse_knobs
from sandbox.model.knobs import DEFAULT_KNOBS


def test_an_empty_environment_gives_the_default_variant_with_default_knobs():
    config = ServiceConfig.from_env({})
    assert config.architecture == "queue"
    assert config.invalidation_queue == "cache-invalidation"
    assert config.user_exchange == "user.updated"
    assert config.cache_key == "blogs:list"
    assert config.rabbitmq_url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.knobs == DEFAULT_KNOBS
    assert config.database.endswith("post-office-lab-default.sqlite3")


def test_servers_come_from_the_environment_unless_the_json_names_them():
    env = {"RABBITMQ_URL": "amqp://lab:lab@127.0.0.1:5672/%2F", "REDIS_URL": "redis://127.0.0.1:6390/1",
           CONFIG_ENV: json.dumps({"redis_url": "redis://127.0.0.1:6391/0"})}
    config = ServiceConfig.from_env(env)
    assert config.rabbitmq_url == "amqp://lab:lab@127.0.0.1:5672/%2F"
    assert config.redis_url == "redis://127.0.0.1:6391/0"


def test_a_parallel_variant_gets_its_own_queues_and_redis_keys():
    config = ServiceConfig(variant="outbox", redis_prefix="outbox:", queue_suffix=".outbox")
    assert config.invalidation_queue == "cache-invalidation.outbox"
    assert config.directory_queue == "blog.user-updated.outbox"
    assert config.user_exchange == "user.updated.outbox"
    assert config.cache_key == "outbox:blogs:list"
    assert config.generation_key == "outbox:cache-generation:blogs"
    assert not config.generation_key.startswith(config.redis_prefix + "blogs:")


def test_knobs_may_be_flat_or_nested_and_are_coerced():
    doc = {"architecture": "sync", "user_url": "http://127.0.0.1:9/",
           "knobs": {"http": {"timeout_s": 2, "breaker": True}, "services.blog.workers": 3}}
    config = ServiceConfig.from_json(json.dumps(doc), {})
    assert config.knobs.http.timeout_s == 2.0 and isinstance(config.knobs.http.timeout_s, float)
    assert config.knobs.http.breaker is True
    assert config.workers("blog") == 3
    assert config.user_url == "http://127.0.0.1:9"


def test_the_round_trip_through_the_environment_keeps_everything():
    config = ServiceConfig(variant="v", architecture="sync", blog_url="http://127.0.0.1:1", database="/tmp/x.db",
                           knobs=parse_knobs({"publish.on_error": "outbox"}))
    again = ServiceConfig.from_env(config.env(port=8001))
    assert again == config
    assert config.env(port=8001)["SANDBOX_PORT"] == "8001"


@pytest.mark.parametrize(("doc", "words"), [
    ({"architecture": "rest"}, "architecture: 'rest' is not allowed"),
    ({"knobs": {"http.timeout_ms": 3}}, "unknown knob 'http.timeout_ms'"),
    ({"knobs": {"publish.on_error": "retry"}}, "'retry' is not allowed"),
    ({"knobs": {"consumer.prefetch": -1}}, "out of range; use 0 to 1,000"),
    ({"redis_prefix": "a*:"}, "redis_prefix"),
    ({"queue_suffix": "/x"}, "queue_suffix"),
    ({"colour": "red"}, "colour: unknown field"),
    ({"blog_url": 8002}, "blog_url: must be a string"),
    ({"knobs": ["consumer.prefetch", 1]}, "knobs: must be a JSON object"),
    ({"knobs": {"consumer.delivery_limit": 3}}, "knobs.consumer.delivery_limit: a delivery limit needs"),
])
def test_a_bad_configuration_names_the_field(doc, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace("*", r"\*")):
        ServiceConfig.from_json(json.dumps(doc), {})


def test_malformed_json_is_one_clear_error():
    with pytest.raises(ConfigError, match=f"{CONFIG_ENV} is not valid JSON"):
        ServiceConfig.from_json("{architecture: sync}", {})


def test_a_sync_service_must_know_whom_it_calls():
    config = ServiceConfig(architecture="sync")
    with pytest.raises(ConfigError, match="user_url: blog in a sync variant calls it"):
        config.require("blog")
    with pytest.raises(ConfigError, match="blog_url: author"):
        config.require("author")
    config.require("user")
    ServiceConfig(architecture="queue").require("blog")
    with pytest.raises(ConfigError, match="unknown service 'mailer'"):
        config.require("mailer")
