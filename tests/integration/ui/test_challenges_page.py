"""The challenges page in AppTest: the learner changes knobs (never the timeline), tries, reads the verdicts,
takes hints one at a time, sees what a solved design cost against par, and sees the reference solution once solved
(or after a real attempt and every hint)."""

from sandbox.teach.challenges import load_challenges
from sandbox.teach.lessons import lesson_ids
from tests.integration.ui.support import app

CHALLENGES = {c.id: c for c in load_challenges()}


def test_solving_a_challenge_by_changing_two_knobs():
    challenge = CHALLENGES["crash-safe-consumer"]
    at = app("challenges")
    at.radio(key="challenge_id").set_value(challenge.id).run()
    assert at.header[0].value == challenge.title
    assert [w.key for w in at.selectbox] == ["crash-safe-consumer__consumer_ack"]
    prefetch = at.number_input(key="crash-safe-consumer__consumer_prefetch")
    assert (prefetch.value, prefetch.min, prefetch.max) == (10, 0, 1000)  # the knob's documented range
    assert "Allowed here: 0 to 1,000 messages." in prefetch.help

    at.button(key="try_challenge").click().run()  # the start design fails
    assert at.error[0].value.startswith("Not yet: 1 of 2 goals hold on every seed with queue; consumer.ack = 'auto'")
    assert "It failed on 6 of 6 seeds (7, 8, 9, 10, 11, 12)" in at.error[0].value
    assert not [m.value for m in at.markdown if "par is" in m.value], "a failed design has no par to compare"
    assert not any(e.label == "the reference solution" for e in at.expander)

    at.selectbox(key="crash-safe-consumer__consumer_ack").set_value("manual").run()
    at.number_input(key="crash-safe-consumer__consumer_prefetch").set_value(1).run()
    at.button(key="try_challenge").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == ("Solved: all 2 goals hold on all 6 seeds with queue; consumer.ack = 'manual', "
                                   "consumer.prefetch = 1.")
    [cost] = [m.value for m in at.markdown if "par is" in m.value]
    assert cost.startswith("- ⛳ you used ") and " redeliveries (the worst seed); par is " in cost
    assert [m.value for m in at.markdown if m.value.startswith("✅")] and not [
        m.value for m in at.markdown if m.value.startswith("❌")]
    assert at.session_state["challenge_tries"][challenge.id] == 2
    assert challenge.id in at.session_state["challenges_solved"]
    assert any(e.label == "the reference solution" for e in at.expander)
    tempting = [m.value for m in at.markdown if m.value.startswith("- *")]
    assert [t.split("*")[1] for t in tempting] == [t.name for t in challenge.tempting]
    assert tempting[0].endswith(f"caught by `{challenge.tempting[0].fails}`")
    assert at.radio(key="challenge_id").options[6] == f"7. {challenge.title}", "a label never changes"
    assert at.sidebar.caption[0].value == f"1 of {len(CHALLENGES)} solved in this session: ✅ 7"


def test_hints_come_one_at_a_time_and_back_to_the_start_resets_the_design():
    challenge = CHALLENGES["drain-the-spike"]
    at = app("challenges")
    at.radio(key="challenge_id").set_value(challenge.id).run()
    assert not at.info
    for shown in range(1, len(challenge.hints) + 1):
        at.button(key="more_hint").click().run()
        assert [i.value for i in at.info] == [f"Hint {n}: {h}" for n, h in enumerate(challenge.hints[:shown], 1)]
    assert not any(b.key == "more_hint" for b in at.button)
    at.button(key="try_challenge").click().run()  # the start design again: not an attempt of one's own
    assert not any(e.label == "the reference solution" for e in at.expander), "every hint, but nothing tried"
    at.number_input(key="drain-the-spike__consumer_prefetch").set_value(50).run()
    at.button(key="try_challenge").click().run()  # a design of one's own, which fails
    assert at.error and any(e.label == "the reference solution" for e in at.expander)
    at.number_input(key="drain-the-spike__consumer_count").set_value(3).run()
    at.button(key="try_challenge").click().run()
    assert [m.value for m in at.markdown if "par is" in m.value] == [
        "- ⛳ you used 3 cache-workers; par is 2 — **over par**"]
    at.button(key="reset_design").click().run()
    assert at.number_input(key="drain-the-spike__consumer_count").value == 1


def test_the_lesson_behind_a_challenge_opens_on_the_lessons_page():
    challenge = CHALLENGES["poison-aside"]
    at = app("challenges")
    at.radio(key="challenge_id").set_value(challenge.id).run()
    at.button(key="challenge_lesson").click().run()
    assert not at.exception, at.exception
    assert at.header[0].value == lesson_ids()[challenge.lesson_id]
