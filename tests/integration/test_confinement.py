"""The kernel's part of the confinement, with the audit hook out of the way: what a handler that got around the
hook (through C code) would still meet. Each layer is tested where this machine has it, and skipped, saying why,
where it has not (docs/threat-model.md says what then remains)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox.grade import confine
from sandbox.grade.isolated import fresh_uid

ABI = confine.landlock_abi()


def in_child(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh Python whose first lines may confine it; stdout is what it printed."""
    prelude = ("import os, sys, socket, threading, resource\nfrom pathlib import Path\n"
               "from sandbox.grade import confine\n")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, cwd=folder)


def outcome(expression: str) -> str:
    """Code that prints 'allowed' or the error an expression raised."""
    return (f"try:\n    {expression}\n    print('allowed')\n"
            f"except Exception as exc:\n    print(type(exc).__name__, getattr(exc, 'errno', ''))\n")


@pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock: files are guarded by the audit hook alone")
def test_landlock_keeps_files_outside_the_folder_out_of_reach(tmp_path: Path) -> None:
    result = in_child("confine._landlock(Path('.').resolve(), (), confine.python_paths())\n"
                      + outcome("open('/etc/passwd').read()") + outcome("open('mine', 'w').write('ok')"), tmp_path)
    assert result.stdout.split("\n")[:2] == ["PermissionError 13", "allowed"], result.stdout + result.stderr


@pytest.mark.skipif(ABI < 4, reason="Landlock before ABI 4 does not govern TCP: the audit hook alone refuses it")
def test_landlock_allows_tcp_only_to_the_labs_ports(tmp_path: Path) -> None:
    with socket.socket() as other, socket.socket() as lab:
        for listener in (other, lab):
            listener.bind(("127.0.0.1", 0))
            listener.listen()
        other_port, lab_port = other.getsockname()[1], lab.getsockname()[1]
        result = in_child(f"confine._landlock(Path('.').resolve(), ({lab_port},), confine.python_paths())\n"
                          + outcome(f"socket.create_connection(('127.0.0.1', {other_port}), timeout=2)")
                          + outcome(f"socket.create_connection(('127.0.0.1', {lab_port}), timeout=2)"), tmp_path)
    assert result.stdout.split("\n")[:2] == ["PermissionError 13", "allowed"], result.stdout + result.stderr


@pytest.mark.skipif(ABI < 6, reason="Landlock before ABI 6 does not scope signals: only another user id stops them")
def test_landlock_stops_signals_to_the_server(tmp_path: Path) -> None:
    result = in_child("confine._landlock(Path('.').resolve(), (), confine.python_paths())\n"
                      + outcome("os.kill(os.getppid(), 0)"), tmp_path)
    assert result.stdout.startswith("PermissionError 1"), result.stdout + result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a user of its own needs a grader started as root")
def test_a_user_of_its_own_can_neither_signal_the_server_nor_start_processes(tmp_path: Path) -> None:
    uid = fresh_uid()
    os.chown(tmp_path, uid, uid)
    result = in_child(f"confine._become({uid})\nresource.setrlimit(resource.RLIMIT_NPROC, (0, 0))\n"
                      + outcome("os.kill(os.getppid(), 0)") + outcome("os.fork()")
                      + outcome("threading.Thread(target=print).start()")
                      + outcome("open('/root/.bashrc').read() if os.path.exists('/root') else open('/x')"), tmp_path)
    lines = result.stdout.split("\n")
    assert lines[0] == "PermissionError 1", result.stdout + result.stderr
    assert lines[1] == "BlockingIOError 11", "RLIMIT_NPROC stops a fork the audit hook never saw"
    assert lines[2].startswith("RuntimeError"), "and a thread"
    assert lines[3].startswith(("PermissionError 13", "FileNotFoundError")), lines[3]


def test_the_protections_in_force_are_named(tmp_path: Path) -> None:
    result = in_child("print('; '.join(confine.confine(Path('.').resolve(), (), None)))", tmp_path)
    named = result.stdout.strip()
    assert named.startswith("limits: 10 CPU s, 768 MB of memory, files of at most 16 MB"), result.stderr
    assert ("Landlock: files only in its folder" in named) == (ABI >= 1)
    assert named.endswith("an audit hook that names what it refuses")
    assert "nice +" in named
