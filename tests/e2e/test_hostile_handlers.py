"""Hostile handlers: each ends in one clear line (exit 2), and what it aimed at is untouched.

Each runs as `python -m sandbox grade` would for a learner: in a confined child process (see
docs/threat-model.md). The browser twin, with the server's health checked every 0.2 s throughout, is
tests/e2e/test_browser_code.py. A network test here only ever targets 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.grade.confine import NICENESS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-the-handler-must-not-see"


def grade(source: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "hostile.py"
    path.write_text(source)
    return subprocess.run([sys.executable, "-m", "sandbox", "grade", str(path), "--task", "email-once", "--seeds",
                           "2"], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def stopped(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for word in words:  # a|b: either (which limit strikes first depends on how busy the machine is)
        assert any(alternative in lines[0] for alternative in word.split("|")), lines[0]
    return lines[0]


HOSTILE = {
    "an infinite loop that swallows every stop": (
        "def handle(message, ctx):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass\n",
        ["it used more than 10 s of CPU|grading took longer than 30 s"]),
    "a fork bomb": ("import os\n\ndef handle(message, ctx):\n    while True:\n        os.fork()\n",
                    ["it tried to start a process"]),
    "a subprocess": ("import subprocess\n\ndef handle(message, ctx):\n    subprocess.run(['id'])\n",
                     ["it tried to start a process"]),
    "a 10 GB allocation": ("def handle(message, ctx):\n    data = bytearray(10 * 1024 ** 3)\n",
                           ["it ran out of memory"]),
    "reading /etc/passwd": ("def handle(message, ctx):\n    ctx.send_email('x@example.org', "
                            "open('/etc/passwd').read())\n", ["it tried to open /etc/passwd"]),
    "reading the server's own files": (
        f"def handle(message, ctx):\n    open({str(ROOT / 'pyproject.toml')!r}).read()\n",
        ["it tried to open", "pyproject.toml"]),
    "reading the server's environment": (
        "import os\n\ndef handle(message, ctx):\n    open(f'/proc/{os.getppid()}/environ').read()\n",
        ["it tried to open /proc/"]),
    "looking into other learners' folders": ("import os\n\ndef handle(message, ctx):\n    os.listdir('/tmp')\n",
                                             ["it tried to list /tmp"]),
    "killing the server": ("import os, signal\n\ndef handle(message, ctx):\n"
                           "    os.kill(os.getppid(), signal.SIGKILL)\n", ["it tried to send a signal to process"]),
    "a handler that never returns": ("import time\n\ndef handle(message, ctx):\n    time.sleep(10 ** 6)\n",
                                     ["it did not return within 1 s"]),
    "native code through ctypes": ("import ctypes\n\ndef handle(message, ctx):\n    ctypes.CDLL(None).fork()\n",
                                   ["it tried to call native code through ctypes"]),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_handler_is_stopped_in_one_line(name: str, tmp_path: Path) -> None:
    source, words = HOSTILE[name]
    stopped(grade(source, tmp_path), *words)


def test_a_file_past_the_size_limit_cannot_be_written(tmp_path: Path) -> None:
    source = ("def handle(message, ctx):\n    try:\n        with open('big', 'wb') as file:\n"
              "            file.write(b'x' * 17 * 1024 ** 2)\n    except OSError as exc:\n        print(exc)\n")
    result = grade(source, tmp_path)
    assert "[Errno 27] File too large" in result.stdout, result.stdout + result.stderr


def test_a_socket_to_a_loopback_port_that_is_not_the_labs_is_refused_and_reaches_nothing(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        source = ("import socket\n\ndef handle(message, ctx):\n"
                  f"    socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hello')\n")
        stopped(grade(source, tmp_path), f"it tried to connect to ('127.0.0.1', {port})")
        with pytest.raises(TimeoutError):
            listener.accept()


def test_the_handler_sees_none_of_the_servers_environment(tmp_path: Path) -> None:
    source = "import os\n\ndef handle(message, ctx):\n    print(sorted(os.environ.items()))\n"
    result = grade(source, tmp_path, SANDBOX_TEST_SECRET=SECRET,
                   RABBITMQ_URL=f"amqp://guest:{SECRET}@127.0.0.1:5672/%2F")
    assert "your handler printed:" in result.stdout
    assert SECRET not in result.stdout and "RABBITMQ_URL" not in result.stdout
    assert "('PATH', '/usr/bin:/bin')" in result.stdout


def test_the_handler_runs_at_a_lower_cpu_priority_than_the_server(tmp_path: Path) -> None:
    result = grade("import os\n\ndef handle(message, ctx):\n    print('nice', os.nice(0))\n", tmp_path)
    assert f"nice {min(os.nice(0) + NICENESS, 19)}" in result.stdout, result.stdout + result.stderr  # 19: the lowest
