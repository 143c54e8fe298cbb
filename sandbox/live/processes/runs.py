"""A live run's identity and its record: what it made, written down before it makes it, so that it can be found and
removed once the run is dead (sweep.py).

The run id carries the owner's process id: `<pid>-<6 hex digits>`. What a run makes is named with it: its temporary
folder `post-office-lab-<run id>-*`, its queues and exchanges (`cache-invalidation.<run id>.<variant>`, ...), their
policies, its Redis keys (`lab:<run id>:<variant>:*`) and its RabbitMQ nodes (`lab-<run id>-<n>@localhost`, their
data in that folder). The folder holds `run.json`, this record. A run that ends cleanly deletes everything, its
folder last, so a folder with a record is what a run killed by SIGKILL left behind. Whether the owner still runs is
told by its pid and the moment that process started, so a new process that got the same pid is not mistaken for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

FOLDER_PREFIX = "post-office-lab-"
RECORD = "run.json"
_FOLDER = re.compile(rf"{FOLDER_PREFIX}(?P<pid>\d+)-[0-9a-f]{{6}}-")


def new_run_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:6]}"


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None when there is no such process (or
    only its zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    if fields[0] == "Z":
        return None
    return int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    """Process `pid` runs and is the one that started at `started` (None: any process with that pid)."""
    now = process_start(pid)
    return now is not None and (started is None or now == started)


def run_folder(run_id: str) -> Path:
    """The run's own temporary folder: readable by its owner only, and traversable, so that RabbitMQ nodes running as
    another user can reach their folders inside it."""
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{run_id}-"))
    folder.chmod(0o711)
    return folder


def owner_pid(folder: Path) -> int | None:
    """The pid in a run folder's name; None for a folder that is not a run's."""
    match = _FOLDER.match(folder.name)
    return int(match.group("pid")) if match else None


@dataclass
class RunRecord:
    """What one run made and where, kept in its folder as `run.json`."""

    run_id: str
    pid: int
    started: int | None
    checkout: str
    rabbitmq_url: str = ""  # the broker the queues below are on; "" when they were on the run's own nodes
    management_url: str = ""
    redis_url: str = ""
    standing: bool = False  # the standing lab's exact names: removed only while no other lab owns them
    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    redis_prefixes: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)  # the names of the run's own RabbitMQ nodes

    @classmethod
    def begin(cls, run_id: str, checkout: str) -> RunRecord:
        return cls(run_id, os.getpid(), process_start(os.getpid()), checkout)

    def save(self, folder: Path) -> None:
        """Write the record (readable by its owner only: the URL may carry a password), replacing the old one."""
        partial = folder / f".{RECORD}.tmp"
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            json.dump(asdict(self), out, indent=1)
        partial.replace(folder / RECORD)

    @classmethod
    def load(cls, folder: Path) -> RunRecord | None:
        """The record in `folder`; None when it has none (the run died before writing it) or it cannot be read."""
        with contextlib.suppress(OSError, ValueError, TypeError):
            return cls(**json.loads((folder / RECORD).read_text()))
        return None
