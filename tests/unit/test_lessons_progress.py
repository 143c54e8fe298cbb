"""Progress keeps a numeric prediction as the number the learner gave, and refuses one that is not a number."""

from __future__ import annotations

import pytest

from sandbox.teach.progress import LessonProgress, Progress, ProgressError, parse_progress


def test_a_numeric_prediction_round_trips():
    progress = Progress()
    progress.lessons["fanout"] = LessonProgress(step=2, answers={0: 2, 1: 152.5})
    assert parse_progress(progress.to_json(), {"fanout": 4}, {}) == progress


@pytest.mark.parametrize("value", ['"150"', "true", "NaN", "Infinity"])
def test_a_prediction_that_is_not_a_number_is_refused(value):
    text = f'{{"format": "post-office-lab-progress/1", "lessons": {{"fanout": {{"answers": {{"1": {value}}}}}}}}}'
    with pytest.raises(ProgressError, match="is not a prediction"):
        parse_progress(text, {"fanout": 4}, {})
