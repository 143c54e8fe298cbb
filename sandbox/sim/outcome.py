"""What a call, a request or a publish came back with."""

from __future__ import annotations


class Outcome:
    """A response: ok or not, a short status for the log, and for reads the list version served."""

    __slots__ = ("ok", "status", "version")

    def __init__(self, ok: bool, status: str, version: int = 0):
        self.ok = ok
        self.status = status
        self.version = version

    def __repr__(self) -> str:
        return f"Outcome({self.status})"


OK = Outcome(True, "200 OK")
REFUSED = Outcome(False, "connection refused")
RESET = Outcome(False, "connection reset")
TIMEOUT = Outcome(False, "timed out")
ERROR_500 = Outcome(False, "500 Internal Server Error")
DEPENDENCY_FAILED = Outcome(False, "500: a downstream call failed")
BREAKER_OPEN = Outcome(False, "circuit breaker open")
