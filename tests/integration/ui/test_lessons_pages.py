"""The lessons and interview pages in AppTest: a whole lesson stepped through, and one card answered."""

from sandbox.teach.lesson_run import play_lesson
from sandbox.teach.lessons import load_cards, load_lessons
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
        else:
            assert at.error[0].value.startswith("Not quite") and step.why in at.error[0].value
        checks = [m.value for m in at.markdown if m.value.startswith(("✅", "❌"))]
        assert len(checks) == len(expected[index])
        for shown, verdict in zip(checks, expected[index], strict=True):
            assert verdict.passed and shown.startswith(f"✅ **{verdict.expectation.describe(0)}**")
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
    at.button(key="show_me").click().run()
    assert not at.exception, at.exception
    assert any("expectations hold" in m.value and "✅" in m.value for m in at.markdown)
