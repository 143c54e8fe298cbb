"""Code next to the concept: every reference in the shipped lessons resolves to the live lab's source, and one
that no longer does (a module renamed, a method moved) fails here, naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.teach.code_refs import CodeRef, CodeRefError, excerpt, parse_code_ref
from sandbox.teach.lessons import load_lessons

ROOT = Path(__file__).resolve().parents[2]
REFS = sorted({(ref.ref, ref.focus) for lesson in load_lessons() for step in lesson.steps for ref in step.code})


def test_the_mechanisms_have_their_code():
    refs = {ref for ref, _ in REFS}
    assert {"sandbox.live.rabbitmq.consumer:Consumer._consume", "sandbox.live.rabbitmq.consumer:Consumer._settle",
            "sandbox.live.rabbitmq.broker:Publisher._open_channel", "sandbox.live.store:Database.insert_post"} <= refs


@pytest.mark.parametrize(("ref", "focus"), REFS, ids=[f"{r}#{f}" for r, f in REFS])
def test_every_shipped_reference_resolves_to_a_few_lines(ref, focus):
    shown = excerpt(CodeRef(ref, focus))
    assert focus in shown.text
    assert 1 <= len(shown.text.splitlines()) <= 25
    assert (ROOT / shown.path).is_file() and shown.caption.startswith(f"{shown.path}:")


def test_a_focus_shows_the_statement_around_it_not_the_docstring():
    shown = excerpt(CodeRef("sandbox.live.store:Database.insert_post", "INSERT INTO outbox"))
    assert shown.text.splitlines()[0] == "with _transaction(conn):"  # the transaction is the point
    assert "INSERT INTO posts" in shown.text and '"""' not in shown.text
    whole = excerpt(CodeRef("sandbox.live.rabbitmq.consumer:Consumer._settle"))
    assert whole.text.startswith("def _settle(") and "basic_ack" in whole.text


@pytest.mark.parametrize(("ref", "focus", "problem"), [
    ("sandbox.live.no_such_module:Consumer._settle", "", "sandbox.live.no_such_module: no such module"),
    ("sandbox.live.rabbitmq.consumer:Consumer._ack", "",
     "sandbox.live.rabbitmq.consumer:Consumer._ack: no '_ack' in the scope"),
    ("sandbox.live.rabbitmq.consumer:Consumer._settle", "no_such_call",
     "sandbox.live.rabbitmq.consumer:Consumer._settle: no line of it contains 'no_such_call'"),
])
def test_a_reference_that_no_longer_resolves_says_which(ref, focus, problem):
    with pytest.raises(CodeRefError, match=problem):
        excerpt(CodeRef(ref, focus))


def test_references_are_read_from_source_without_importing_the_lab():
    code = ("from sandbox.teach.code_refs import CodeRef, excerpt; import sys; "
            "excerpt(CodeRef('sandbox.live.rabbitmq.consumer:Consumer._consume', 'basic_qos')); "
            "print('pika' in sys.modules, 'sandbox.live.rabbitmq.consumer' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


@pytest.mark.parametrize(("entry", "problem"), [
    ("sandbox.live.messaging:Consumer", "must be a table"),
    ({"ref": "sandbox.live.messaging"}, "must be module:qualname"),
    ({"ref": "a:b", "line": 3}, "unknown field 'line'; allowed: ref, focus"),
])
def test_a_malformed_reference_is_refused(entry, problem):
    with pytest.raises(ValueError, match=problem):
        parse_code_ref(entry)
