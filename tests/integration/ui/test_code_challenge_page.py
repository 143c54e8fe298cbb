"""The Challenges page's "write the code" in AppTest: the start file runs under fire (in a process of its own) and
fails with a counterexample that plays in the message view; the code and the solved mark go into the saved
progress; a server others reach refuses code unless its operator allowed it."""

from __future__ import annotations

import json

import pytest
from streamlit import config

from sandbox.grade.tasks import find_task
from sandbox.ui.launch import ALLOW_CODE_ENV
from tests.integration.ui.support import app

TASK = find_task("names-in-order")


@pytest.fixture(autouse=True)
def _server_address():
    """Each test sets the server's address as `streamlit run --server.address` would; put back afterwards."""
    before = config.get_option("server.address")
    yield
    config.set_option("server.address", before)


def code_page(address: str = "127.0.0.1"):
    config.set_option("server.address", address)
    at = app("challenges")
    at.radio(key="challenge_kind").set_value(at.radio(key="challenge_kind").options[1]).run()
    at.radio(key="code_task_id").set_value(TASK.id).run()
    assert not at.exception, at.exception
    return at


def test_the_start_fails_under_fire_with_a_counterexample_to_play() -> None:
    at = code_page()
    assert at.header[0].value == TASK.title
    at.button(key="run_under_fire").click().run()
    assert not at.exception, at.exception
    assert at.error[0].value.startswith("Not yet: ")
    assert any(m.value.startswith("❌ **final state = the events applied in order**") or
               m.value.startswith("❌ **every message settles**") for m in at.markdown)
    assert at.subheader[0].value == "The smallest failing case"
    slider = at.slider(key=f"code_step:{TASK.id}")
    assert slider.value == slider.max > 0
    slider.set_value(1).run()
    assert any(m.value.startswith("**") and "publish" in m.value for m in at.markdown)
    progress = at.session_state["progress"]
    assert progress.code[TASK.id].source == TASK.start and not progress.code[TASK.id].solved
    saved = json.loads(progress.to_json())
    assert saved["code"][TASK.id] == {"source": TASK.start, "solved": False}


@pytest.mark.parametrize(("address", "allowed"), [("0.0.0.0", False), ("192.0.2.1", False), ("::1", True),
                                                  ("localhost", True)])
def test_a_server_others_reach_refuses_code_unless_allowed(monkeypatch, address: str, allowed: bool) -> None:
    monkeypatch.delenv(ALLOW_CODE_ENV, raising=False)
    at = code_page(address)
    refused = [w.value for w in at.warning if "does not run learners' code" in w.value]
    assert bool(refused) != allowed
    assert any(b.key == "run_under_fire" for b in at.button) == allowed
    monkeypatch.setenv(ALLOW_CODE_ENV, "1")
    at = code_page(address)
    assert any(b.key == "run_under_fire" for b in at.button)


def test_a_classroom_worker_on_loopback_behind_a_proxy_others_reach_refuses_code(monkeypatch) -> None:
    monkeypatch.setenv(ALLOW_CODE_ENV, "0")  # what `open --workers N --address 0.0.0.0` gives its workers
    at = code_page("127.0.0.1")
    assert any("does not run learners' code" in w.value for w in at.warning)
    assert not any(b.key == "run_under_fire" for b in at.button)


def test_the_plain_editor_runs_what_the_learner_typed_and_a_fix_passes() -> None:
    at = code_page()
    at.toggle(key="plain_editor").set_value(True).run()
    [editor] = at.text_area
    assert editor.value == TASK.start
    editor.set_value(TASK.reference).run()
    at.button(key="run_under_fire").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Passed under fire: every invariant held at all 20 seeds")
    assert at.session_state["progress"].code[TASK.id].solved
    assert at.radio(key="code_task_id").options[2] == f"3. ✅ {TASK.title}"
    assert any(e.label == "the reference, and the tempting wrong solutions" for e in at.expander)
