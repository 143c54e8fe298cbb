"""Evidence that answers: every lesson step, played as a learner plays it, charts each metric its checks use — in the
check's unit, with the check's bound drawn over the check's window, and a line that ends on the value the check
read. A step whose check has no chart, or a chart in another unit, fails here."""

from __future__ import annotations

import pytest

from sandbox.model.metrics import METRICS
from sandbox.present.evidence import chart_unit, evidence, evidence_spec
from sandbox.present.verdicts import verdict_line
from sandbox.teach.lesson_run import LessonRun
from sandbox.teach.lessons import load_lessons

LESSONS = [pytest.param(lesson, id=lesson.id) for lesson in load_lessons()]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_check_of_every_step_is_charted_in_its_unit_with_its_bound(lesson):
    run = LessonRun(lesson)
    for index in range(len(lesson.steps)):
        verdicts = run.play_step()
        start_s, end_s = run.step_window()
        items = {item.metric: item for item in evidence(verdicts, run.engine.measurements, end_s)}
        assert len(items) == len({v.expectation.metric for v in verdicts})
        for verdict in verdicts:
            e = verdict.expectation
            where = f"{lesson.id} step {index + 1}: {e.variant} {e.metric}"
            item = items[e.metric]
            unit, factor = chart_unit(e.metric)
            # the unit the verdict is stated in is the chart's: a share in %, milliseconds in ms, a count in its unit
            claim = verdict_line(verdict, end_s).claim
            if unit == "%" or unit in ("ms", "s"):
                assert claim.endswith(unit if unit == "%" else f" {unit}"), (where, claim, unit)
            else:
                assert unit == METRICS[e.metric].unit, (where, unit)
            [check] = [c for c in item.checks if c.variant == e.variant and (c.start_s, c.end_s) == e.window(end_s)
                       and c.comparison == e.comparison]
            assert check.bound == pytest.approx(e.bound * factor), where
            assert check.points, f"{where}: nothing measured to draw"
            assert check.points[-1][1] == pytest.approx(verdict.observed * factor, abs=1e-3), where
            assert all(start_s <= t <= end_s for t, _ in check.points), where
            spec = evidence_spec(item, (start_s, end_s))
            drawn = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rule"
                     and any(row.get("bound") == check.bound for row in layer["data"]["values"])]
            assert drawn, f"{where}: the bound {check.bound} is not drawn"
            assert spec["title"]["text"] == f"{METRICS[e.metric].label} ({unit})", where
        run.next_step()
