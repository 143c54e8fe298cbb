"""Cases: a seed gives one case, always the same; a smaller case is smaller and keeps the rest as it was."""

from __future__ import annotations

from dataclasses import replace

from sandbox.grade.cases import Crash, Duplicate, Outage, Publish, Slow, draw, generate, smaller

FAULTS = frozenset({"crash", "lost-ack", "duplicate", "reorder", "poison", "broker-restart", "redis-blip"})


def test_a_seed_gives_the_same_case_every_time() -> None:
    assert generate("post-created", FAULTS, 7) == generate("post-created", FAULTS, 7)
    assert generate("post-created", FAULTS, 7) != generate("post-created", FAULTS, 8)


def test_faults_name_only_messages_of_the_case_and_crash_each_at_most_once() -> None:
    for seed in range(50):
        case = generate("user-updated", FAULTS, seed)
        ids = {m.id for m in case.messages}
        named = [f.message for f in case.faults if hasattr(f, "message")]
        assert set(named) <= ids
        crashed = [(f.message, f.delivery) for f in case.faults if isinstance(f, Crash)]
        assert len(crashed) == len(set(crashed))
        assert all(not case.message(m).poison for m in named), "a fault never names the poison message"


def test_every_smaller_case_has_a_fault_or_message_fewer_or_a_milder_one() -> None:
    case = generate("post-created", FAULTS, 3)
    size = (len(case.messages), len(case.faults), case.consumers)
    for candidate in smaller(case):
        smaller_size = (len(candidate.messages), len(candidate.faults), candidate.consumers)
        assert smaller_size != size or candidate.faults != case.faults
        assert all(a <= b for a, b in zip(smaller_size, size, strict=True))


def test_removing_a_message_takes_its_faults_with_it() -> None:
    case = replace(generate("post-created", FAULTS, 1), faults=(Crash("m1"), Duplicate("m1"), Slow("m2")))
    without_m1 = [c for c in smaller(case) if all(m.id != "m1" for m in c.messages)]
    assert without_m1 and without_m1[0].faults == (Slow("m2"),)


def test_an_outage_shrinks_to_half_but_never_below_half_a_second() -> None:
    case = replace(generate("post-created", FAULTS, 1), faults=(Outage("redis", 1.0, 0.8),))
    milder = [c.faults[0] for c in smaller(case) if c.faults and c.faults[0] != case.faults[0]]
    assert milder == [Outage("redis", 1.0, 0.5)]


def test_a_draw_depends_on_its_key_not_on_the_order_of_draws() -> None:
    assert draw(1, "m2", 1) == draw(1, "m2", 1)
    assert 0 <= draw(1, "m2", 1) < 1 and draw(1, "m2", 1) != draw(1, "m3", 1)


def test_a_poison_body_has_no_payload() -> None:
    assert Publish("m1", b"\xff", 0.0, poison=True).payload is None
    assert Publish("m2", b'{"a": 1}', 0.0).payload == {"a": 1}
