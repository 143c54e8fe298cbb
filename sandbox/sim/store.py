"""The database, the source of truth: posts as a version counter with the moment each was committed."""

from __future__ import annotations


class Database:
    """Posts as a version counter: version n means n writes committed; commit_times[i] made version i+1."""

    def __init__(self) -> None:
        self.commit_times: list[float] = []

    @property
    def version(self) -> int:
        return len(self.commit_times)

    def commit(self, now: float) -> int:
        self.commit_times.append(now)
        return len(self.commit_times)
