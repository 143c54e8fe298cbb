"""Every tempting wrong design a challenge lists fails its goal, on the metric it names, at the challenge's seed."""

from __future__ import annotations

import pytest

from sandbox.teach.challenge_run import attempt
from sandbox.teach.challenges import load_challenges

TEMPTING = [(c, t) for c in load_challenges() for t in c.tempting]


def test_the_new_challenges_list_their_tempting_designs() -> None:
    named = {c.id for c, _ in TEMPTING}
    assert {"one-email-per-post", "newest-name-wins"} <= named


@pytest.mark.parametrize(("challenge", "tempting"), TEMPTING, ids=[f"{c.id}:{t.name}" for c, t in TEMPTING])
def test_a_tempting_design_fails_on_the_metric_it_names(challenge, tempting) -> None:
    result = attempt(challenge, tempting.design).result
    assert result is not None, f"{tempting.name} breaks the challenge's constraints"
    failed = {v.expectation.metric for v in result.verdicts if not v.passed}
    assert tempting.fails in failed, f"{tempting.name} should fail on {tempting.fails}; failed on {sorted(failed)}"
