"""Confining the process that runs a learner's code: called in that process, before the code is loaded.

In order, each where the machine allows it (what took effect is returned, in words):

1. resource limits: CPU seconds, address space, file size, open files, no core files, and no new processes
   (RLIMIT_NPROC 0 — which the kernel does not apply to root, hence 2) — the process already runs at a lower CPU
   priority (NICENESS, set by its first line), so the server and its other sessions come first;
2. started as root: a user and group of its own (a fresh, unused id), so the kernel itself refuses it another
   user's files that are not world-readable, signals to any other process, and every new process;
3. Landlock (Linux 5.13 and later, no privileges needed): files — read-only the Python installation, read-write
   its own folder, nothing else; TCP (ABI 4) — connect only to the allowed ports, bind none; scopes (ABI 6) — no
   signals to, and no abstract Unix sockets of, processes outside it;
4. a Python audit hook (PEP 578) that refuses, with a message, what the code should never try: files outside its
   folder, processes, signals to others, sockets to other ports, native code through ctypes, changing its limits.
   Every refusal is kept (`refusals()`), so the grader names the first one even if the code swallowed the error.

The hook is not a security boundary (code that reaches the interpreter's C level can get around it); the kernel's
parts are. docs/threat-model.md says what this stops and what it does not.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import resource
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 10
    memory_bytes: int = 768 * 2**20
    file_bytes: int = 16 * 2**20
    open_files: int = 64
    processes: int | None = 0
    """RLIMIT_NPROC: processes and threads of its user (0: none at all); None leaves it as it is. A live consumer
    needs a thread now and then (pika resolves addresses on one)."""


NICENESS = 10
"""The process that runs a learner's code starts at this nice value (its first line, before its imports): it yields
the CPU to the server and the other sessions."""
_REFUSALS: list[str] = []


def refusals() -> list[str]:
    """What the confined code tried and was refused, in order."""
    return list(_REFUSALS)


HANDLER_MODULES = ("json", "re", "hashlib", "hmac", "datetime", "time", "math", "random", "collections",
                   "collections.abc", "itertools", "functools", "dataclasses", "typing", "uuid", "decimal", "string",
                   "base64", "struct", "enum", "contextlib", "operator", "statistics", "textwrap", "logging",
                   "sqlite3", "socket", "encodings.idna", "redis", "redis.exceptions", "sandbox.grade.api")
"""Imported before the code is confined, so a handler may import them wherever this Python lives (a folder the
handler's own user may not be able to read, as under /root)."""


def confine(folder: Path, ports: tuple[int, ...] = (), uid: int | None = None, limits: Limits = Limits()) -> list[str]:
    """Confine this process to `folder` and TCP connections to 127.0.0.1 on `ports`; the protections in force."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)
    readable = python_paths()
    os.chdir(folder)
    in_force = [_set_limits(limits), _landlock(folder, ports, readable)]
    if uid is not None and os.geteuid() == 0:
        in_force.append(_become(uid))
    if limits.processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    sys.addaudithook(_Hook(folder, ports, readable))
    in_force.append("an audit hook that names what it refuses")
    return [p for p in in_force if p]


def _set_limits(limits: Limits) -> str:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))  # SIGXCPU first, SIGKILL a second on
    for name, value in ((resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_FSIZE, limits.file_bytes),
                        (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    processes = "no new processes" if limits.processes == 0 else \
        f"at most {limits.processes} processes and threads" if limits.processes else "processes not limited"
    return (f"limits: {limits.cpu_s} CPU s, {limits.memory_bytes // 2**20} MB of memory, files of at most "
            f"{limits.file_bytes // 2**20} MB, {limits.open_files} open files, {processes}, nice +{os.nice(0)}")


def _become(uid: int) -> str:
    try:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    except OSError as exc:
        return f"not its own user ({exc.strerror})"
    return f"its own user and group ({uid})"


# Landlock ---------------------------------------------------------------------

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same numbers on every architecture
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_FS_ACCESS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_NET_BIND, _NET_CONNECT = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_PR_SET_NO_NEW_PRIVS = 38


class _RulesetAttr(ctypes.Structure):
    _fields_ = (("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64))


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _NetPort(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when there is none (not Linux, too old, or turned off)."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(version), 0)


def python_paths() -> list[Path]:
    """Where this Python's code lives (read-only inside the confinement): its installation and its packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"],
             sysconfig.get_paths()["platstdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(Path(p).resolve() for p in paths if Path(p).is_dir())


def _landlock(folder: Path, ports: tuple[int, ...], readable: list[Path]) -> str:
    abi = landlock_abi()
    if abi < 1:
        return ""
    libc = ctypes.CDLL(None, use_errno=True)
    fs_access = _FS_ACCESS_BY_ABI[max(k for k in _FS_ACCESS_BY_ABI if k <= abi)]
    attr = _RulesetAttr(fs_access, _NET_BIND | _NET_CONNECT if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = ctypes.sizeof(attr) if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return ""
    try:
        for path, access in [*((p, _FS_READ) for p in readable), (folder, fs_access)]:
            descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, descriptor)
                libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0))
            finally:
                os.close(descriptor)
        if abi >= 4:
            for port in ports:
                net = _NetPort(_NET_CONNECT, port)
                libc.syscall(_ADD_RULE, ruleset, _RULE_NET_PORT, ctypes.byref(net), ctypes.c_uint32(0))
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            return ""
    finally:
        os.close(ruleset)
    network = "TCP only to the lab's ports" if abi >= 4 else ""
    scopes = "no signals to other processes" if abi >= 6 else ""
    return "Landlock: " + ", ".join(filter(None, ["files only in its folder", network, scopes]))


# the audit hook ---------------------------------------------------------------

_PROCESSES = {"os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn", "os.system", "subprocess.Popen",
              "os.startfile", "pty.spawn"}
_SIGNALS = {"os.kill", "os.killpg", "signal.pthread_kill"}
_PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink",
                "os.link", "os.truncate", "os.chmod", "os.chown", "os.utime", "shutil.rmtree", "os.chdir"}


class _Hook:
    def __init__(self, folder: Path, ports: tuple[int, ...], readable: list[Path]):
        self.folder = str(folder.resolve())
        self.readable = [str(p) for p in readable]
        self.ports = set(ports)
        self.pid = os.getpid()

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        refusal = self._refusal(event, args)
        if refusal:
            _REFUSALS.append(refusal)
            raise PermissionError(f"refused: {refusal}")

    def _inside(self, path: Any) -> bool:
        if isinstance(path, int):
            return True
        full = os.path.abspath(os.fsdecode(path))
        return full == self.folder or full.startswith(self.folder + os.sep)

    def _readable(self, path: Any) -> bool:
        full = os.path.abspath(os.fsdecode(path))
        return any(full == p or full.startswith(p + os.sep) for p in self.readable)

    def _refusal(self, event: str, args: tuple[Any, ...]) -> str:
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if path is None or self._inside(path) or (not writes and self._readable(path)):
                return ""
            return f"it tried to open {os.fsdecode(path)} (a handler may use only its own folder)"
        if event in ("os.listdir", "os.scandir"):
            path = args[0] if args and args[0] is not None else "."
            if self._inside(path) or self._readable(path):
                return ""
            return f"it tried to list {os.fsdecode(path)} (a handler may use only its own folder)"
        if event in _PATH_EVENTS and args and not self._inside(args[0]):
            return f"it tried {event} on {os.fsdecode(args[0])} (a handler may use only its own folder)"
        if event in _PROCESSES:
            return "it tried to start a process (a handler may not)"
        if event in _SIGNALS and not (event == "os.kill" and args[0] == self.pid):
            return f"it tried to send a signal to process {args[0]} (a handler may not)"
        if event in ("socket.connect", "socket.connect_ex"):
            address = args[1]
            if isinstance(address, tuple) and address[:1] == ("127.0.0.1",) and address[1] in self.ports:
                return ""
            return f"it tried to connect to {address} (a handler may use only ctx's database and Redis)"
        if event in ("socket.bind", "socket.sendto", "socket.sendmsg"):
            return "it tried to use the network (a handler may use only ctx's database and Redis)"
        if event.startswith("ctypes."):
            return "it tried to call native code through ctypes (a handler may not)"
        if event in ("resource.setrlimit", "resource.prlimit", "sys.addaudithook"):
            return f"it tried {event} (a handler may not change its limits)"
        return ""
