"""Progress files: saved from the session and read back, or refused with one clear message."""

import pytest

from sandbox.teach.progress import CardProgress, CodeProgress, LessonProgress, Progress, ProgressError, parse_progress

LESSONS = {"cascade": 4, "outbox": 3}
CARDS = {"what-is-rabbitmq": 4}


def test_progress_round_trips_through_its_file():
    progress = Progress()
    progress.lessons["cascade"] = LessonProgress(step=2, answers={0: 1, 1: 0}, completed=False)
    progress.cards["what-is-rabbitmq"] = CardProgress(answer="a broker", covered=[0, 3])
    assert parse_progress(progress.to_json(), LESSONS, CARDS) == progress


@pytest.mark.parametrize(("text", "problem"), [
    ("not json", "not valid JSON"),
    ('{"format": "something-else"}', "expected 'post-office-lab-progress/1'"),
    ('{"format": "post-office-lab-progress/1", "lessons": {"nope": {}}}', "lessons.nope: no such lesson"),
    ('{"format": "post-office-lab-progress/1", "lessons": {"cascade": {"step": 4}}}', "past the lesson's 4 steps"),
    ('{"format": "post-office-lab-progress/1", "lessons": {"cascade": {"step": -1}}}', "not a whole number"),
    ('{"format": "post-office-lab-progress/1", "lessons": {"cascade": {"answers": {"9": 0}}}}', "not a step"),
    ('{"format": "post-office-lab-progress/1", "cards": {"what-is-rabbitmq": {"covered": [7]}}}', "key-point"),
    ('{"format": "post-office-lab-progress/1", "cards": {"x": {}}}', "no such interview card"),
    ('[1, 2]', "must be an object"),
    ('{"format": "post-office-lab-progress/1", "lessons": {"cascade": {"answers": {"²": 0}}}}', "not a step"),
    ('{"format": "post-office-lab-progress/1", "lessons": {"cascade": {"answers": {"١": 0}}}}', "not a step"),
    ("[" * 150_000 + "]" * 150_000, "a few KB"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ('{"format": "post-office-lab-progress/1", "cards": {"what-is-rabbitmq": {"answer": "' + "x" * 300_000 + '"}}}',
     "a few KB"),
])
def test_a_bad_progress_file_is_one_clear_message(text, problem):
    with pytest.raises(ProgressError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_progress(text, LESSONS, CARDS)


def test_a_code_tasks_handler_and_solved_mark_round_trip():
    progress = Progress()
    progress.code["email-once"] = CodeProgress(source="def handle(message, ctx):\n    pass\n", solved=True)
    assert parse_progress(progress.to_json(), LESSONS, CARDS, frozenset({"email-once"})) == progress


@pytest.mark.parametrize(("text", "problem"), [
    ('{"format": "post-office-lab-progress/1", "code": {"nope": {}}}', "code.nope: no such code task"),
    ('{"format": "post-office-lab-progress/1", "code": {"email-once": {"source": 3}}}', "must be text"),
    ('{"format": "post-office-lab-progress/1", "code": []}', "code: must be an object"),
])
def test_a_bad_code_entry_is_one_clear_message(text, problem):
    with pytest.raises(ProgressError, match=problem):
        parse_progress(text, LESSONS, CARDS, frozenset({"email-once"}))
