"""The live lab's census: messages in no place two seconds running are lost, once; a moving message is not."""

from sandbox.live.census import Census, LostMessages


def census(owed: int, *, consumed: int = 0, ready: int = 0, held: int = 0, counted_lost: int = 0,
           publishing: int = 0, outbox: int = 0, dead_lettered: int = 0) -> Census:
    return Census(owed, publishing, outbox, ready, held, dead_lettered, consumed, counted_lost)


def test_every_place_counts_toward_the_messages_owed():
    assert census(10, publishing=1, outbox=2, ready=3, held=1, dead_lettered=1, consumed=1, counted_lost=1).missing == 0
    assert census(10, consumed=7).missing == 3
    assert census(10, consumed=11).missing == -1, "a message handled twice (redelivered after its ack was lost)"


def test_a_shortfall_seen_once_is_a_message_between_places_not_a_loss():
    lost = LostMessages()
    assert lost.check(census(10, consumed=9)) == 0
    assert lost.check(census(11, consumed=11)) == 0
    assert lost.found == 0


def test_a_shortfall_seen_twice_is_lost_once_and_only_what_is_new_counts_later():
    lost = LostMessages()
    assert [lost.check(census(30, consumed=10, held=20)), lost.check(census(30, consumed=10)),
            lost.check(census(30, consumed=10))] == [0, 0, 20]
    assert lost.check(census(35, consumed=12)) == 0, "seen once more: 23 missing, 20 of them already counted"
    assert lost.check(census(36, consumed=13)) == 3
    assert lost.found == 23


def test_the_smaller_of_two_shortfalls_is_what_is_confirmed():
    lost = LostMessages()
    lost.check(census(30, consumed=10))
    assert lost.check(census(30, consumed=25)) == 5


def test_a_second_that_could_not_be_counted_breaks_the_run_of_two():
    lost = LostMessages()
    lost.check(census(30, consumed=10))
    assert lost.check(None) == 0
    assert lost.check(census(30, consumed=10)) == 0
    assert lost.check(census(30, consumed=10)) == 20


def test_losses_the_author_counted_are_not_found_again():
    lost = LostMessages()
    for _ in range(3):
        assert lost.check(census(10, consumed=5, counted_lost=5)) == 0


def test_a_shortfall_that_turns_up_again_two_seconds_running_is_taken_back():
    """A quorum queue without a leader answers 0 messages: 5 ready messages look lost until it has one again."""
    lost = LostMessages()
    assert [lost.check(census(20, consumed=15)), lost.check(census(20, consumed=15))] == [0, 5]
    assert lost.check(census(20, consumed=15, ready=5)) == 0, "seen once: maybe a message counted twice"
    assert lost.check(census(20, consumed=15, ready=5)) == -5
    assert lost.found == 0


def test_only_what_both_seconds_found_again_is_taken_back():
    lost = LostMessages()
    lost.check(census(20, consumed=10))
    lost.check(census(20, consumed=10))
    assert lost.found == 10
    lost.check(census(20, consumed=14))
    assert lost.check(census(20, consumed=17)) == -4, "4, then 7 turned up: both seconds agree on 4"
    assert lost.found == 6


def test_a_shortfall_that_does_not_shrink_twice_is_kept():
    lost = LostMessages()
    lost.check(census(20, consumed=10))
    lost.check(census(20, consumed=10))
    assert [lost.check(census(20, consumed=20)), lost.check(census(20, consumed=10))] == [0, 0]
    assert lost.found == 10


def test_a_place_that_cannot_be_read_neither_adds_nor_takes_back():
    lost = LostMessages()
    lost.check(census(20, consumed=10))
    lost.check(census(20, consumed=10))
    assert [lost.check(None), lost.check(census(20, consumed=20)), lost.check(None)] == [0, 0, 0]
    assert lost.found == 10


def test_messages_handled_twice_never_make_the_found_count_negative():
    lost = LostMessages()
    assert [lost.check(census(10, consumed=12)), lost.check(census(10, consumed=12))] == [0, 0]
    assert lost.found == 0
