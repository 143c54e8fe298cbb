"""The shipped lessons and interview cards: each parses, names only what exists, and every claim holds on the sim."""

from __future__ import annotations

import pytest

from sandbox.catalog import scenario_paths
from sandbox.model.commands import TARGETS, VERBS
from sandbox.model.metrics import FRAME_METRICS, WINDOW_METRICS
from sandbox.teach.cards import load_cards
from sandbox.teach.lesson_run import play_lesson
from sandbox.teach.lessons import lesson_ids, lesson_paths, load_lesson, load_lessons

PATHS = lesson_paths()
SCENARIOS = {p.stem for p in scenario_paths()}

# The lessons the issue asks for, in the order a newcomer takes them (one file each).
STORIES = ("post-office", "cascade", "slow-service", "traffic-spike", "deploys", "cache-invalidation",
           "queued-recovery", "durability", "broker-down", "poison-and-duplicates", "price-of-async", "fanout",
           "messages-not-queries", "broker-cluster", "waiting-numbers", "effectively-once",
           "backpressure-and-retry")

# Interview topics the cards must cover.
CARD_TOPICS = {
    "what-is-rabbitmq", "why-rabbitmq-for-cache-invalidation", "why-not-call-directly", "real-world-uses",
    "at-most-once-vs-at-least-once", "idempotency", "dead-letter-queues", "transactional-outbox", "message-ordering",
    "competing-consumers-and-prefetch", "exchange-types", "connection-vs-channel", "when-not-to-use-a-queue",
    "circuit-breaker-vs-queue", "backpressure", "eventual-consistency", "build-ship-redeploy",
    "heartbeats-and-consumer-timeout", "mandatory-and-alternate-exchange", "littles-law-sizing", "commands-vs-events",
    "schema-evolution", "new-subscriber-backfill", "quorum-queues", "why-three-nodes", "what-a-cluster-does-not-save",
    "exactly-once-delivery", "dedup-in-redis-before-the-effect", "ordering-with-competing-consumers",
}


def test_the_lessons_come_in_the_promised_order():
    assert [lesson.id for lesson in load_lessons()] == list(STORIES)
    assert [p.name[:3] for p in PATHS] == [f"{n:02d}-" for n in range(1, len(STORIES) + 1)]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_the_lesson_names_only_what_exists_and_explains_itself(path):
    lesson = load_lesson(path)
    assert lesson.title and lesson.goal and lesson.intro
    assert lesson.scenario_id in SCENARIOS
    for step in lesson.steps:
        if step.number is None:
            assert len(step.choices) >= 2 and 0 <= step.answer < len(step.choices)
        else:
            assert step.choices == () and step.number.estimate.explain()
        assert step.why and step.explain and step.expectations
        assert step.run is None or step.run in SCENARIOS
        assert set(step.watch) <= set(FRAME_METRICS)
        for action in step.actions:
            assert action.verb in VERBS and getattr(action, "target", "user") in TARGETS
        for e in step.expectations:
            assert e.metric in WINDOW_METRICS
            assert len(e.why) > 20, f"{step.title}: {e.describe(step.observe_s)} needs a why"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_every_step_claim_holds_on_the_simulation(path):
    lesson = load_lesson(path)
    failed = [f"step {n} {step.title!r}: {v.expectation.describe(0)}: observed {v.observed}"
              for n, (step, verdicts) in enumerate(zip(lesson.steps, play_lesson(lesson), strict=True), start=1)
              for v in verdicts if not v.passed]
    assert not failed


def test_the_cards_cover_the_interview_topics_and_name_existing_scenarios():
    cards = load_cards()
    assert len(cards) >= 20
    assert {c.id for c in cards} >= CARD_TOPICS
    for card in cards:
        assert card.scenario_id in SCENARIOS
        assert card.question.endswith("?") and len(card.answer) > 200 and len(card.key_points) >= 3
        assert card.follow_up.endswith("?") and card.follow_up != card.question
        assert card.review and set(card.review) <= set(lesson_ids())
