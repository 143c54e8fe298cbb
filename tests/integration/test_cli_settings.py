"""`--engine live` with a server variable that cannot be what it names: one line on stderr, exit 2, no traceback.

These fail before anything connects, so they need no server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def live_run(**environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", "run", "happy-path", "--engine", "live"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **environment})


@pytest.mark.parametrize(("name", "value", "words"), [
    ("RABBITMQ_URL", "garbage", "does not start with amqp:// or amqps://"),
    ("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:notaport/%2F", "has a port that is not a number from 1 to 65535"),
    ("REDIS_URL", "http://127.0.0.1:6379/0", "does not start with redis:// or rediss://"),
    ("REDIS_URL", "redis://127.0.0.1:6379/first", "names the database 'first', not a number"),
    ("RABBITMQ_MANAGEMENT_URL", "garbage", "does not start with http:// or https://"),
])
def test_a_malformed_server_variable_is_one_line_and_exit_2(name, value, words):
    result = live_run(**{name: value})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {name}='") and words in lines[0] and "; use " in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
