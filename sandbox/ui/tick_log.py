"""Tick timings for bench.classroom: with SANDBOX_TICK_LOG set to a folder, the wall time of every playground tick
(waiting for the playground's lock, the engine's step and drawing the view) is appended, in milliseconds, to a file
of this server process's own there. Unset (always, outside the bench), nothing is written."""

from __future__ import annotations

import os
from pathlib import Path

TICK_LOG_ENV = "SANDBOX_TICK_LOG"


def record(elapsed_ms: float) -> None:
    folder = os.environ.get(TICK_LOG_ENV)
    if folder:
        with (Path(folder) / f"ticks-{os.getpid()}.txt").open("a") as log:
            log.write(f"{elapsed_ms:.2f}\n")
