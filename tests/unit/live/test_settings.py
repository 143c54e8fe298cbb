"""Where the lab's servers are: RABBITMQ_URL, RABBITMQ_MANAGEMENT_URL and REDIS_URL, each checked before anything
connects, a bad one a single line naming the variable, the value and what is allowed."""

from __future__ import annotations

import re

import pytest

from sandbox.live.servers import BadSetting, LabUnavailable, management_url, masked, rabbitmq_url, redis_url
from sandbox.live.services.config import CONFIG_ENV, ConfigError, ServiceConfig


def test_unset_or_empty_variables_give_the_local_servers():
    assert rabbitmq_url({}) == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert management_url({"RABBITMQ_MANAGEMENT_URL": ""}) == "http://127.0.0.1:15672"
    assert redis_url({}) == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("url", ["amqp://admin:admin@127.0.0.1:5672/%2F", "amqps://u:p@broker.internal/lab",
                                 "amqp://rabbitmq"])
def test_amqp_urls_pass_as_written(url):
    assert rabbitmq_url({"RABBITMQ_URL": url}) == url


@pytest.mark.parametrize(("name", "value", "problem", "allowed"), [
    ("RABBITMQ_URL", "garbage", "does not start with amqp:// or amqps://", "amqp://USER:PASSWORD@HOST:PORT/VHOST"),
    ("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:notaport/%2F", "a port that is not a number from 1 to 65535",
     "amqp://USER:PASSWORD@HOST:PORT/VHOST"),
    ("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:0/%2F", "a port that is not a number", "amqp://"),
    ("RABBITMQ_URL", "http://127.0.0.1:15672", "does not start with amqp:// or amqps://", "amqp://"),
    ("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=soon", "refused by the AMQP client",
     "amqp://"),
    ("REDIS_URL", "http://127.0.0.1:6379/0", "does not start with redis:// or rediss://", "redis://"),
    ("REDIS_URL", "redis://127.0.0.1:6379/cache", "names the database 'cache', not a number", "redis://"),
    ("REDIS_URL", "redis://127.0.0.1:port/0", "a port that is not a number", "redis://"),
    ("RABBITMQ_MANAGEMENT_URL", "garbage", "does not start with http:// or https://", "http://HOST:PORT"),
    ("RABBITMQ_MANAGEMENT_URL", "http://:15672", "names no host", "http://HOST:PORT"),
    ("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:99999", "a port that is not a number", "http://HOST:PORT"),
])
def test_a_bad_value_is_one_line_naming_the_variable_the_value_and_what_is_allowed(name, value, problem, allowed):
    read = {"RABBITMQ_URL": rabbitmq_url, "REDIS_URL": redis_url, "RABBITMQ_MANAGEMENT_URL": management_url}[name]
    with pytest.raises(BadSetting) as caught:
        read({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={masked(value)!r} ")
    assert problem in message and f"use {allowed}" in message
    assert "\n" not in message
    assert isinstance(caught.value, LabUnavailable), "the sandbox's `live_unavailable` reports it as a reason"


def test_a_password_is_never_printed():
    with pytest.raises(BadSetting) as caught:
        rabbitmq_url({"RABBITMQ_URL": "amqp://admin:s3cret@127.0.0.1:notaport/%2F"})
    assert "s3cret" not in str(caught.value) and "admin:***@" in str(caught.value)
    assert masked("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert masked("amqp://rabbitmq/%2F") == "amqp://rabbitmq/%2F"


def test_a_service_refuses_a_bad_server_url_from_its_configuration_or_the_environment():
    with pytest.raises(ConfigError, match="rabbitmq_url='garbage' does not start with amqp://"):
        ServiceConfig(rabbitmq_url="garbage")
    with pytest.raises(ConfigError, match=re.escape("REDIS_URL='http://127.0.0.1:6379/0' does not start with redis://")):
        ServiceConfig.from_env({"REDIS_URL": "http://127.0.0.1:6379/0", CONFIG_ENV: "{}"})
