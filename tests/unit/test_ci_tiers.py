"""`./dev test` runs its tiers in order, stops at the first that fails, and prints each tier's time."""

from __future__ import annotations

import sys
from pathlib import Path

from bench import ci_tiers
from bench.ci_tiers import Tier

ROOT = Path(__file__).resolve().parents[2]


def exits(status: int) -> tuple[str, ...]:
    return (sys.executable, "-c", f"raise SystemExit({status})")


def test_the_tiers_stop_at_the_first_failure_and_the_table_says_which_ran(monkeypatch, capsys):
    planned = [Tier("lint", exits(0)), Tier("empty", exits(ci_tiers.NO_TESTS), pytest=True),
               Tier("broken", exits(3)), Tier("never", exits(0))]
    monkeypatch.setattr(ci_tiers, "tiers", lambda args: planned)
    assert ci_tiers.main(["tests/unit"]) == 3
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.split("each tier's time")[1]
            .splitlines()[1:] if line.strip()}
    assert rows["lint"][0] == "passed" and rows["empty"][:2] == ["no", "tests"]
    assert rows["broken"][:2] == ["FAILED", "(3)"] and rows["never"] == ["not", "run"]
    assert set(rows) == {"tier", "lint", "empty", "broken", "never", "total"}


def test_a_lint_tier_that_selects_nothing_is_no_pass():
    """Exit status 5 is "no tests" only for pytest; from ruff or mypy it is a failure."""
    status, outcome = ci_tiers.run(Tier("lint", exits(ci_tiers.NO_TESTS)), narrowed=True)
    assert status == ci_tiers.NO_TESTS and outcome.result.startswith("FAILED")


def test_a_pytest_tier_that_collects_nothing_fails_unless_arguments_narrowed_it(monkeypatch):
    """In CI (no arguments) an empty tier means a folder or a marker went missing; and a run where no tier selects
    a test is pytest's exit 5, a failure, even when arguments narrowed it."""
    status, outcome = ci_tiers.run(Tier("live", exits(ci_tiers.NO_TESTS), pytest=True), narrowed=False)
    assert status == ci_tiers.NO_TESTS and outcome.result.startswith("FAILED")
    monkeypatch.setattr(ci_tiers, "tiers", lambda args: [Tier("lint", exits(0)),
                                                         Tier("fast", exits(ci_tiers.NO_TESTS), pytest=True)])
    assert ci_tiers.main(["-k", "nothing-matches"]) == ci_tiers.NO_TESTS


def test_the_pytest_tiers_split_the_tests_by_marker_and_get_the_extra_arguments():
    fast, live, browser = ci_tiers.tiers(["tests/unit", "-k", "breaker"])[2:]
    assert [t.name for t in ci_tiers.tiers([])] == ["ruff", "mypy", "fast", "live", "browser"]
    markers = [t.argv[t.argv.index("-m", 2) + 1] for t in (fast, live, browser)]
    assert markers == ["not live and not browser", "live and not browser", "browser"], "each test in exactly one"
    assert all(t.argv[-3:] == ("tests/unit", "-k", "breaker") for t in (fast, live, browser))
    assert [t.argv[t.argv.index("-n") + 1] if "-n" in t.argv else "1" for t in (fast, live, browser)] == ["2", "1", "1"]


def test_dev_test_runs_the_tiers_and_ci_runs_dev_test():
    assert 'exec .venv/bin/python -m bench.ci_tiers "$@"' in (ROOT / "dev").read_text()
    assert (ROOT / ".ci/run").read_text().rstrip().endswith("./dev test")
