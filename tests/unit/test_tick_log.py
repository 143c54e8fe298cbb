"""bench.classroom's tick timings: written only when SANDBOX_TICK_LOG names a folder, one file per process."""

from __future__ import annotations

import os

from sandbox.ui import tick_log


def test_each_tick_is_one_line_in_this_process_s_file(tmp_path, monkeypatch):
    monkeypatch.setenv(tick_log.TICK_LOG_ENV, str(tmp_path))
    tick_log.record(12.345)
    tick_log.record(7.0)
    assert (tmp_path / f"ticks-{os.getpid()}.txt").read_text() == "12.35\n7.00\n"


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(tick_log.TICK_LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    tick_log.record(5.0)
    assert not list(tmp_path.iterdir())
