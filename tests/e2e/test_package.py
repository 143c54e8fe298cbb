"""The package as a user installs it: built, installed away from the checkout, run from another folder.

`python -m build` makes the sdist and, from it, the wheel (its isolated build fetches hatchling from the
package index). The wheel is installed without dependencies into a temporary target; its commands run with
that target first on the path and the .venv's dependencies behind it, from a temporary working directory, so
nothing of the checkout can stand in for what the wheel forgot.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from sandbox.live.processes.ports import free_port
from sandbox.ui.launch import stop_server

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.name for p in (ROOT / "scenarios").glob("*.toml"))
LESSONS = sorted(p.name for p in (ROOT / "lessons").iterdir() if p.is_file())
CHALLENGES = sorted(p.name for p in (ROOT / "challenges").glob("*.toml"))
BUILD_TIMEOUT_S = 120
START_TIMEOUT_S = 60.0
# a config file in the working directory that tries to open the server to the network and turn statistics on
HOSTILE_CONFIG = '[server]\naddress = "0.0.0.0"\n[browser]\ngatherUsageStats = true\n'


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=out, env=dict(os.environ),
                timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, f"python -m build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> dict:
    """The wheel installed without dependencies into a temporary target (not --prefix, which would uninstall the
    .venv's own copy): its bin, an environment that puts it first on the path, and a working directory outside
    the checkout whose .streamlit/config.toml tries to open the server to the network."""
    target = tmp_path_factory.mktemp("target")
    done = run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile", "--quiet",
                "--target", str(target), str(dist["wheel"])], cwd=target, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert (target / "sandbox" / "cli.py").is_file() and (target / "bin" / "post-office-lab").is_file()
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    cwd = tmp_path_factory.mktemp("elsewhere")
    (cwd / ".streamlit").mkdir()
    (cwd / ".streamlit" / "config.toml").write_text(HOSTILE_CONFIG)
    return {"bin": target / "bin", "site": target, "env": env, "cwd": cwd}


def test_the_sdist_keeps_the_repository_layout(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"scenarios/{name}" for name in SCENARIOS} <= names
    assert {f"lessons/{name}" for name in LESSONS} <= names
    assert {f"challenges/{name}" for name in CHALLENGES} <= names
    assert {"pyproject.toml", "sandbox/cli.py", "sandbox/ui/app.py", ".streamlit/config.toml"} <= names


def test_the_wheel_carries_the_scenarios_lessons_cards_and_the_console_script(dist):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = wheel.read(entry_points).decode()
    assert {f"sandbox/_data/scenarios/{name}" for name in SCENARIOS} <= names
    assert {f"sandbox/_data/lessons/{name}" for name in LESSONS} <= names
    assert "sandbox/_data/lessons/interview.toml" in names
    assert {f"sandbox/_data/challenges/{name}" for name in CHALLENGES} <= names
    assert {"sandbox/ui/app.py", "sandbox/ui/about.md", "sandbox/_data/streamlit.toml"} <= names
    assert "[console_scripts]\npost-office-lab = sandbox.cli:main" in scripts
    assert not any(name.startswith(("tests/", "bench/", "scenarios/", "lessons/", "challenges/")) for name in names)


def test_the_installed_package_reads_its_own_data_from_another_folder(installed):
    where = run([sys.executable, "-c", "import sandbox.catalog as c; print(c.__file__, c.SCENARIO_DIR, c.CHECKOUT)"],
                cwd=installed["cwd"], env=installed["env"])
    module, scenarios, checkout = where.stdout.split()
    assert Path(module).is_relative_to(installed["site"])
    assert Path(scenarios) == installed["site"] / "sandbox" / "_data" / "scenarios"
    assert checkout == "None"


def test_post_office_lab_list_and_check_run_from_another_folder(installed):
    listed = run([str(installed["bin"] / "post-office-lab"), "list"], cwd=installed["cwd"], env=installed["env"])
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[0] + ".toml" for line in listed.stdout.splitlines()) == SCENARIOS
    checked = run([str(installed["bin"] / "post-office-lab"), "check"], cwd=installed["cwd"], env=installed["env"],
                  timeout=300)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert f"{len(SCENARIOS)} scenarios" in checked.stdout
    assert f"{sum(name.endswith('.md') and name[0].isdigit() for name in LESSONS)} lessons" in checked.stdout
    assert "interview cards, each naming a scenario that exists" in checked.stdout
    assert f"{len(CHALLENGES)} challenges, {len(CHALLENGES)} proven" in checked.stdout


# --- open ---------------------------------------------------------------------------------------------------

def listeners(port: int) -> set[str]:
    """The local addresses of every TCP socket listening on `port` (IPv4 and IPv6), from /proc/net."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    assert len(address) == width
                    found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    """/proc/net's little-endian hex address as text: 0100007F -> 127.0.0.1."""
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[i:i + 2], 16)) for i in (6, 4, 2, 0))
    words = [hex_address[i:i + 8] for i in range(0, 32, 8)]
    raw = b"".join(bytes.fromhex(word)[::-1] for word in words)
    return str(ipaddress.IPv6Address(raw))


def session_says_usage_statistics(port: int) -> bool:
    """What the server tells a browser that opens a session: its NewSession's gather_usage_stats."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], open_timeout=10) as stream:
        hello = BackMsg()
        hello.rerun_script.query_string = ""
        stream.send(hello.SerializeToString())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = ForwardMsg()
            message.ParseFromString(stream.recv(timeout=30))
            if message.WhichOneof("type") == "new_session":
                return message.new_session.config.gather_usage_stats
    raise AssertionError("no new_session message within 30 s")




def test_open_serves_on_loopback_only_with_usage_statistics_off(installed, tmp_path):
    port = free_port()
    log = tmp_path / "open.log"
    env = {**installed["env"], "STREAMLIT_SERVER_ADDRESS": "0.0.0.0", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "true"}
    with log.open("w") as out:
        process = subprocess.Popen([str(installed["bin"] / "post-office-lab"), "open", "--port", str(port)],
                                   cwd=installed["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        healthy = False
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while not healthy and time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(httpx.HTTPError):
                    healthy = client.get(f"http://127.0.0.1:{port}/_stcore/health").text == "ok"
                time.sleep(0.2)
        assert healthy, f"no answer on 127.0.0.1:{port}; output:\n{log.read_text(errors='replace')[-3000:]}"
        assert listeners(port) == {"127.0.0.1"}
        assert session_says_usage_statistics(port) is False
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert str(installed["site"] / "sandbox" / "ui" / "app.py").encode() in cmdline  # the wheel's app, exec'd
    finally:
        stop_server(process)
    assert "Traceback" not in log.read_text(errors="replace")


def test_open_on_a_port_in_use_says_so_in_one_line_and_exits_2(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        done = run([sys.executable, "-m", "sandbox", "open", "--port", str(port)], cwd=tmp_path,
                   env=dict(os.environ), timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: port {port} on 127.0.0.1 is already in use") and "--port" in line


@pytest.mark.parametrize("port", ["80", "70000"])
def test_open_on_a_port_out_of_range_says_so_in_one_line_and_exits_2(tmp_path, port):
    done = run([sys.executable, "-m", "sandbox", "open", "--port", port], cwd=tmp_path, env=dict(os.environ),
               timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: --port {port} is out of range: use a port from 1024 to 65535 (default 8501)"
