"""The invalidation queue's policy: its dead-letter exchange, and a quorum queue's delivery limit (RabbitMQ 3 and 4)."""

from __future__ import annotations

import re

import pytest

from sandbox.live.rabbitmq.broker import Topology
from sandbox.live.rabbitmq.policies import PRIORITY, Policies, PolicyUnavailable, invalidation_policy, major_version

CLASSIC = Topology("cache-invalidation.run1.queue", "user.updated.run1.queue")
QUORUM = Topology("cache-invalidation.run1.limit", "user.updated.run1.limit", queue_type="quorum")


def test_a_classic_queue_gets_its_dead_letter_exchange_and_nothing_else():
    for version in ("3.10.8", "4.1.0", None):
        assert invalidation_policy(CLASSIC, 0, version).definition == {
            "dead-letter-exchange": "cache-invalidation.run1.queue.dlx"}


def test_a_quorum_queue_gets_the_delivery_limit_of_the_knob():
    assert invalidation_policy(QUORUM, 3, "3.10.8").definition == {
        "dead-letter-exchange": "cache-invalidation.run1.limit.dlx", "delivery-limit": 3}
    assert invalidation_policy(QUORUM, 3, "4.2.1").definition["delivery-limit"] == 3


@pytest.mark.parametrize(("version", "limit"), [("3.10.8", None), ("3.13.7", None), ("4.0.2", -1), ("4.3.0", -1)])
def test_no_limit_is_written_minus_one_on_rabbitmq_4_whose_quorum_queues_default_to_20(version, limit):
    assert invalidation_policy(QUORUM, 0, version).definition.get("delivery-limit") == limit


def test_the_policy_matches_exactly_one_queue_name_and_applies_to_queues_only():
    policy = invalidation_policy(CLASSIC, 0, "3.10.8")
    document = policy.document()
    pattern = re.compile(document["pattern"])
    assert pattern.fullmatch("cache-invalidation.run1.queue")
    assert not pattern.search("cache-invalidation.run1.queue.dlq")
    assert not pattern.search("cache-invalidationXrun1Xqueue")
    assert (document["apply-to"], document["priority"], policy.name) == (
        "queues", PRIORITY, "post-office-lab.cache-invalidation.run1.queue")


def test_major_versions():
    assert (major_version("3.10.8"), major_version("4.0.0-rc.1"), major_version(None), major_version("")) == (
        3, 4, None, None)


def test_without_the_management_api_or_a_local_node_a_policy_cannot_be_set_and_says_what_to_enable():
    policies = Policies("amqp://guest:guest@rabbitmq:5672/%2F", management=None)
    with pytest.raises(PolicyUnavailable) as caught:
        policies.set(invalidation_policy(CLASSIC, 0, None))
    assert "no rabbitmqctl controls the node at rabbitmq" in str(caught.value)
    assert "rabbitmq-plugins enable rabbitmq_management" in str(caught.value)
