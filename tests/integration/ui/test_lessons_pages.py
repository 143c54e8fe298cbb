"""The lessons and interview pages in AppTest: a whole lesson stepped through, a number predicted, one card
answered, and a mock interview sat to its summary."""

import json

from sandbox.model.metrics import label
from sandbox.present.evidence import chart_unit
from sandbox.present.verdicts import verdict_line
from sandbox.teach.cards import load_cards
from sandbox.teach.choices import choice_order
from sandbox.teach.lesson_run import play_lesson
from sandbox.teach.lessons import lesson_ids, load_lessons
from sandbox.teach.review import GAP
from tests.integration.ui.support import app


def _choice_radio(at):
    return next(r for r in at.radio if r.key and r.key.startswith("choice:"))


def test_walking_a_whole_lesson_predicts_runs_and_explains_every_step():
    lesson = load_lessons()[1]
    expected = play_lesson(lesson)
    at = app("lessons")
    at.radio(key="lesson_id").set_value(lesson.id).run()
    assert at.header[0].value == lesson.title
    for index, step in enumerate(lesson.steps):
        assert any(step.title in m.value for m in at.markdown)
        assert at.button(key="play_step").disabled  # a prediction comes first
        wrong = (step.answer + 1) % len(step.choices) if index % 2 else step.answer
        _choice_radio(at).set_value(wrong).run()
        at.button(key="play_step").click().run()
        assert not at.exception, at.exception
        if wrong == step.answer:
            assert "You predicted it" in at.success[0].value
        else:  # the wrong choice's own explanation, then what happened
            message = at.error[0].value
            assert message == (f"Not quite — you chose “{step.choices[wrong]}”. {step.wrong[wrong]} "
                               f"The answer: “{step.choices[step.answer]}”. {step.why}")
        radio = _choice_radio(at)  # locked, the pick kept, the answer and the pick marked
        assert radio.disabled and radio.value == wrong
        right = step.choices[step.answer]
        marks = {f"✅ {right} — the answer, your pick"} if wrong == step.answer else {
            f"✅ {right} — the answer", f"❌ {step.choices[wrong]} — your pick"}
        assert {o for o in radio.options if o.startswith(("✅", "❌"))} == marks
        checks = [m.value for m in at.markdown if m.value.startswith(("✅", "❌"))]
        assert len(checks) == len(expected[index])
        for shown, verdict in zip(checks, expected[index], strict=True):
            assert verdict.passed and shown.startswith(f"✅ **{verdict_line(verdict, 0).claim}**")
        checked = {verdict.expectation.metric for verdict in expected[index]}
        charts = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
        titles = [chart["title"]["text"] for chart in charts]
        for metric in checked:  # a chart of each checked metric, in its unit, before the per-second ones
            assert any(t == f"{label(metric)} ({chart_unit(metric)[0]})" for t in titles[:len(checked)]), (metric,
                                                                                                         titles)
        if index < len(lesson.steps) - 1:
            at.button(key="next_step").click().run()
    assert any("Lesson complete" in s.value for s in at.success)
    progress = at.session_state["progress"]
    assert progress.lessons[lesson.id].completed
    assert len(progress.lessons[lesson.id].answers) == len(lesson.steps)


def test_progress_saves_and_a_bad_progress_file_is_refused():
    at = app("lessons")
    _choice_radio(at).set_value(0).run()
    at.button(key="play_step").click().run()
    at.button(key="next_step").click().run()
    saved = at.session_state["progress"].to_json()

    fresh = app("lessons")
    fresh.file_uploader(key="load_progress").set_value(("progress.json", saved.encode(), "application/json")).run()
    assert not fresh.exception and not fresh.error
    assert any(m.value.startswith("### 2.") for m in fresh.markdown)
    fresh.file_uploader(key="load_progress").set_value(("p.json", b'{"format": "nope"}', "application/json")).run()
    assert "not a progress file" in fresh.error[0].value


def test_an_interview_card_takes_an_answer_shows_the_model_and_runs_its_scenario():
    card = load_cards()[0]
    at = app("interview")
    assert at.header[0].value == card.question
    at.text_area(key=f"answer:{card.id}").set_value("A broker: it keeps messages until consumers ack them.").run()
    at.button(key="reveal").click().run()
    assert any(card.answer.split("\n")[0][:60] in m.value for m in at.markdown)
    boxes = [c for c in at.checkbox if c.key.startswith(f"point:{card.id}:")]
    assert [b.label for b in boxes] == list(card.key_points)
    boxes[0].check().run()
    boxes[2].check().run()
    assert any(f"**2 of {len(card.key_points)}**" in m.value for m in at.markdown)
    mine = at.session_state["progress"].cards[card.id]
    assert mine.covered == [0, 2] and mine.answer.startswith("A broker")
    assert any(m.value == f"**The interviewer's next question:** {card.follow_up}" for m in at.markdown)
    at.button(key="show_me").click().run()
    assert not at.exception, at.exception
    assert any("expectations hold" in m.value and "✅" in m.value for m in at.markdown)


def test_a_mock_interview_asks_five_follow_ups_and_ends_with_lessons_to_review():
    at = app("interview")
    at.radio(key="interview_mode").set_value("mock interview").run()
    at.button(key="mock_start").click().run()
    interview = at.session_state["mock_interview"]
    for n, turn in enumerate(interview.turns):  # grows as missed cards come back
        assert at.header[0].value == turn.card.question
        assert any("Back again" in i.value for i in at.info) == turn.repeat
        at.text_area(key=f"mock_answer:{n}").set_value(f"answer {n}").run()
        at.button(key="mock_answer").click().run()
        assert any(m.value == f"**Interviewer:** {turn.card.follow_up}" for m in at.markdown)
        at.text_area(key=f"mock_follow_up:{n}").set_value(f"follow-up {n}").run()
        at.button(key="mock_follow").click().run()
        assert any(turn.card.answer[:60] in m.value for m in at.markdown)
        at.checkbox(key=f"mock_point:{n}:0").check().run()
        at.button(key="mock_next").click().run()
        assert not at.exception, at.exception
    firsts = interview.first_asked
    total = sum(len(t.card.key_points) for t in firsts)
    assert at.header[0].value == "How it went"
    assert any(m.value.startswith(f"You covered **{len(firsts)} of {total}** key points") for m in at.markdown)
    repeats = [t for t in interview.turns if t.repeat]
    assert {t.card.id for t in repeats} == {t.card.id for t in firsts}, "every card missed came back once"
    gaps = [interview.turns.index(t) - [x.card.id for x in interview.turns].index(t.card.id) - 1 for t in repeats]
    assert gaps[0] == GAP and all(gap >= 1 for gap in gaps), f"other questions before each came back: {gaps}"
    review = interview.summary().review
    buttons = [b for b in at.button if b.key and b.key.startswith("review:")]
    assert [b.key for b in buttons] == [f"review:{lesson_id}" for lesson_id in review]
    buttons[0].click().run()
    assert not at.exception, at.exception
    assert at.header[0].value == lesson_ids()[review[0]]  # the lessons page, on the lesson to review


def test_each_learner_sees_the_choices_in_their_own_order():
    lesson = load_lessons()[1]
    at = app("lessons")
    at.radio(key="lesson_id").set_value(lesson.id).run()
    seed = at.session_state["choice_seed"]
    radio = _choice_radio(at)
    assert radio.options == [lesson.steps[0].choices[i] for i in choice_order(seed, lesson.id, 0, 3)]
    at.run()
    assert _choice_radio(at).options == radio.options  # stable within the session


def test_a_numeric_prediction_is_judged_with_its_working_and_code_is_shown_beside_the_concept():
    lesson = next(lesson for lesson in load_lessons() if lesson.id == "traffic-spike")
    step = lesson.steps[0]
    at = app("lessons")
    at.radio(key="lesson_id").set_value(lesson.id).run()
    assert at.button(key="play_step").disabled
    at.number_input(key=f"choice:{lesson.id}:0").set_value(step.number.answer - step.number.tolerance - 1).run()
    at.button(key="play_step").click().run()
    assert not at.exception, at.exception
    assert at.error[0].value.startswith("Not quite — you said 7 %, too low: the answer is 13 % (± 5).")
    assert at.info[0].value == f"The working: {step.number.estimate.explain()}"
    assert at.session_state["progress"].lessons[lesson.id].answers == {0: 7}

    first = load_lessons()[0]
    at.radio(key="lesson_id").set_value(first.id).run()
    _choice_radio(at).set_value(first.steps[0].answer).run()
    at.button(key="play_step").click().run()
    assert "You predicted it" in at.success[0].value
    shown = [c.value for c in at.code]
    assert any("channel.confirm_delivery()" in text for text in shown)
    assert any(m.value.startswith("sandbox/live/rabbitmq/broker.py:") and "Publisher._open_channel" in m.value
               for m in at.caption)


def test_the_lessons_page_shows_what_to_review_and_opens_it():
    at = app("lessons")
    assert any(c.value.startswith("Nothing yet: a wrong prediction") for c in at.sidebar.caption)
    lesson = load_lessons()[0]
    step = lesson.steps[0]
    wrong = next(i for i in range(len(step.choices)) if i != step.answer)
    _choice_radio(at).set_value(wrong).run()  # the radio's values are the choices' own numbers
    at.button(key="play_step").click().run()
    button = at.button(key=f"to_review:{lesson.id}")
    assert button.label == f"🔁 {lesson.title}"
    assert any(f"your prediction in step 1, “{step.title}”, was wrong" in c.value for c in at.sidebar.caption)
    at.radio(key="lesson_id").set_value(load_lessons()[2].id).run()
    at.button(key=f"to_review:{lesson.id}").click().run()
    assert not at.exception, at.exception
    assert at.header[0].value == lesson.title
