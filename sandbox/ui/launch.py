"""`post-office-lab open` (`python -m sandbox open`): serve the sandbox on 127.0.0.1 (or `--address`) with usage
statistics off.

Streamlit runs `app.py` of the installed package. Every server option is passed as a command-line flag, which
wins over any config file (the working directory's `.streamlit/`, the user's `~/.streamlit/`) and over
STREAMLIT_* variables, so no file's location can move the sandbox off loopback or turn statistics on. The
theme comes from the sandbox's own settings (catalog.STREAMLIT_CONFIG), passed as flags too.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from sandbox.catalog import STREAMLIT_CONFIG
from sandbox.live.processes.ports import port_in_use

APP_PATH = Path(__file__).resolve().parent / "app.py"
HOST = "127.0.0.1"
DEFAULT_PORT = 8501
LOWEST_PORT, HIGHEST_PORT = 1024, 65535
ALLOW_CODE_ENV = "SANDBOX_ALLOW_CODE"
"""Set to 1 in the server's environment by `open --allow-code`: learners' code runs even off loopback."""
MAX_UPLOAD_MB = 1  # scenario and progress files are a few KB
SETTINGS_SECTIONS = ("theme", "client")  # what the settings file may set; the server options are fixed here


class LaunchError(Exception):
    """The sandbox cannot be served as asked: one line saying what is wrong and what to do."""


def stop_server(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Stop a server this process started, by its id: SIGTERM, then SIGKILL if it is still there after `grace_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def has_display(env: Mapping[str, str] = os.environ) -> bool:
    """Whether a browser could open here: always on macOS and Windows, with X11 or Wayland elsewhere."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def settings_flags(path: Path = STREAMLIT_CONFIG) -> list[str]:
    """The theme and client settings of the sandbox's Streamlit config file, as `--section.key value` flags."""
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    flags: list[str] = []
    for section in SETTINGS_SECTIONS:
        for key, value in settings.get(section, {}).items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{key}", text]
    return flags


def streamlit_argv(port: int, headless: bool, address: str = HOST) -> list[str]:
    """The command that serves the sandbox: the package's app.py, its settings, then the fixed server options."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        *settings_flags(),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--server.maxUploadSize", str(MAX_UPLOAD_MB),
        "--browser.serverAddress", HOST,
        "--browser.gatherUsageStats", "false",
        "--runner.magicEnabled", "false",  # a bare string in a page is a docstring or a comment, never output
    ]


def check_port(port: int) -> None:
    """Raise LaunchError unless `port` is in the allowed range and nothing listens on HOST:port."""
    if not LOWEST_PORT <= port <= HIGHEST_PORT:
        raise LaunchError(f"--port {port} is out of range: use a port from {LOWEST_PORT} to {HIGHEST_PORT} "
                          f"(default {DEFAULT_PORT})")
    if port_in_use(port):
        free = next((p for p in range(port + 1, min(port + 50, HIGHEST_PORT + 1)) if not port_in_use(p)), None)
        instead = f": post-office-lab open --port {free}" if free else " with --port"
        raise LaunchError(f"port {port} on {HOST} is already in use (is the sandbox already open at "
                          f"http://{HOST}:{port}?); stop what listens there or choose another port{instead}")


def check_address(address: str) -> bool:
    """Raise LaunchError unless `address` is an IP address; whether it is loopback (this machine only)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        raise LaunchError(f"--address {address!r} is not an IP address: use {HOST} (this machine only, the "
                          "default) or an address of this machine others can reach, such as 0.0.0.0") from None


def open_sandbox(port: int = DEFAULT_PORT, env: Mapping[str, str] = os.environ, address: str = HOST,
                 allow_code: bool = False) -> NoReturn:
    """Check the port, then become `streamlit run` (same process id) serving the sandbox on address:port.

    Learners' code (the Challenges page's "write the code") runs on loopback; a server others reach runs it only
    when the operator says so with `allow_code` (SANDBOX_ALLOW_CODE=1 in the server's environment)."""
    loopback = check_address(address)
    check_port(port)
    argv = streamlit_argv(port, headless=not has_display(env), address=address)
    reach = "this machine only" if loopback else "reachable by others"
    code = "learners' code allowed" if loopback or allow_code else \
        "learners' code refused (allow it with --allow-code)"
    print(f"serving the sandbox at http://{address}:{port} ({reach}, {code}, no usage statistics); "
          "Ctrl+C stops it", flush=True)
    if allow_code:
        os.environ[ALLOW_CODE_ENV] = "1"
    else:
        os.environ.pop(ALLOW_CODE_ENV, None)
    os.execv(sys.executable, argv)
