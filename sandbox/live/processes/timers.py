"""Actions due later (a revive after `down_s`), each on a daemon timer thread, all cancelled at close."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Timers:
    def __init__(self) -> None:
        self._pending: list[threading.Timer] = []

    def later(self, delay_s: float, action: Callable[..., object], *args: object) -> None:
        """Run `action(*args)` in `delay_s` seconds unless cancelled first."""
        timer = threading.Timer(delay_s, action, args)
        timer.daemon = True
        self._pending.append(timer)
        timer.start()

    def cancel_all(self) -> None:
        """Drop every action not yet run (one already running finishes)."""
        for timer in self._pending:
            timer.cancel()
