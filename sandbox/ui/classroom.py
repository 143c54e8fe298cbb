"""`post-office-lab open --workers N`: N Streamlit servers behind one sticky nginx, so a classroom uses N cores.

A learner's playground lives in the memory of the server process that served the page, and reaches it over one
websocket. nginx hashes a cookie of its own (`polab_worker`, set on a browser's first response) to a worker with
consistent hashing, so every request of a browser, the websocket included, reaches the same worker. The client's
address (`ip_hash`) is not enough: a classroom behind one NAT shares one address and would all land on one worker.

The proxy's settings are written into a temporary folder that is nginx's prefix (its pid file, logs and temporary
files stay there); nginx runs in the foreground as a child of this process, not as the system's service. The workers
listen on free 127.0.0.1 ports. All of them are stopped together, by their process ids, on exit or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sandbox.live.processes.ports import free_port
from sandbox.ui.launch import (
    ALLOW_CODE_ENV,
    HOST,
    LaunchError,
    check_address,
    check_port,
    stop_server,
    streamlit_argv,
)

MIN_WORKERS = 1
MAX_WORKERS = 2 * (os.cpu_count() or 1)
COOKIE = "polab_worker"
COOKIE_MAX_AGE_S = 3 * 3600
WORKER_HEADER = "X-Polab-Worker"
"""The response header naming the worker (its 127.0.0.1 port) that answered: which process a browser is on."""
START_TIMEOUT_S = 90.0
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
INSTALL_NGINX = "apt-get install nginx (Debian, Ubuntu) or your system's nginx package"


def check_workers(workers: int) -> None:
    """Raise LaunchError unless `workers` is in MIN_WORKERS..MAX_WORKERS."""
    if not MIN_WORKERS <= workers <= MAX_WORKERS:
        raise LaunchError(f"--workers {workers} is out of range: use {MIN_WORKERS} to {MAX_WORKERS} (two per core "
                          f"of this machine's {os.cpu_count() or 1})")


def find_nginx() -> str:
    """nginx's executable, or LaunchError saying how to install it."""
    found = shutil.which("nginx") or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)
    if not found:
        raise LaunchError(f"--workers needs nginx as its sticky proxy, and it is not installed: {INSTALL_NGINX}")
    return found


def proxy_block(upstreams: list[str], listen: str) -> str:
    """nginx's `http` level for the classroom: the cookie, the sticky upstream of `upstreams` (host:port) and the
    server on `listen` ([address:]port). docker-compose.yml's `classroom` profile mounts this text too
    (deploy/nginx-classroom.conf)."""
    servers = "".join(f"    server {upstream};\n" for upstream in upstreams)
    return f"""\
# A browser without the cookie is hashed by its first request's id, which becomes its cookie: the same worker.
map $cookie_{COOKIE} $polab_session {{
    ""      $request_id;
    default $cookie_{COOKIE};
}}
map $cookie_{COOKIE} $polab_set_cookie {{
    ""      "{COOKIE}=$request_id; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax";
    default "";
}}
map $http_upgrade $polab_connection {{
    default upgrade;
    ""      close;
}}

upstream polab_workers {{
    hash $polab_session consistent;
{servers}}}

server {{
    listen {listen};
    client_max_body_size 2m;

    location / {{
        proxy_pass http://polab_workers;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $polab_connection;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        # a playground's websocket stays open for the whole lesson
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
        add_header Set-Cookie $polab_set_cookie always;
        add_header {WORKER_HEADER} $upstream_addr always;
    }}
}}
"""


def nginx_config(prefix: Path, upstreams: list[str], listen: str) -> str:
    """A whole nginx configuration that keeps everything it writes under `prefix` and stays in the foreground."""
    temp = "\n".join(f"    {name}_temp_path {prefix / name};" for name in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    block = "\n".join(f"    {line}" if line else "" for line in proxy_block(upstreams, listen).splitlines())
    return f"""\
daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
{temp}
{block}
}}
"""


def worker_env(loopback: bool, allow_code: bool, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """A worker's environment. Workers listen on loopback, so behind a proxy others reach, learners' code is
    refused outright (SANDBOX_ALLOW_CODE=0) unless the operator allowed it."""
    out = {**env, "PYTHONUNBUFFERED": "1"}
    out[ALLOW_CODE_ENV] = "1" if allow_code else ("" if loopback else "0")
    if not out[ALLOW_CODE_ENV]:
        del out[ALLOW_CODE_ENV]
    return out


def _healthy(url: str, process: subprocess.Popen, what: str, log: Path) -> None:
    """Wait (bounded) until `url` answers "ok"; LaunchError if `process` exits first or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LaunchError(f"{what} stopped at start: {_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).text == "ok":
                    return
            time.sleep(0.2)
    raise LaunchError(f"{what} did not answer {url} within {START_TIMEOUT_S:g} s: {_tail(log)}")


def _reach(address: str, loopback: bool) -> str:
    """Where this machine reaches a server listening on `address`, as a URL's host."""
    host = HOST if loopback or address in ("0.0.0.0", "::") else address
    return f"[{host}]" if ":" in host else host


def _tail(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
    return lines[-1].strip() if lines else "(no output)"


@dataclass
class Classroom:
    """The running workers (their 127.0.0.1 ports) and every process, nginx last."""

    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def stopped(self) -> str | None:
        """Which process has stopped on its own, if one has."""
        names = [f"the worker on port {p}" for p in self.ports] + ["nginx"]
        return next((name for name, process in zip(names, self.processes, strict=False)
                     if process.poll() is not None), None)


@contextlib.contextmanager
def classroom(workers: int, port: int, address: str = HOST, allow_code: bool = False,
              env: Mapping[str, str] = os.environ, extra_flags: tuple[str, ...] = ()) -> Iterator[Classroom]:
    """Run `workers` Streamlit servers and nginx in front of them on address:port.
    Every process is stopped, by its id, when the block ends (Ctrl-C included)."""
    check_workers(workers)
    loopback = check_address(address)
    check_port(port)
    nginx = find_nginx()
    running = Classroom()
    processes = running.processes
    with tempfile.TemporaryDirectory(prefix="post-office-lab-classroom-") as folder:
        prefix = Path(folder)
        prefix.chmod(0o755)  # nginx's workers (`nobody` when started as root) write their temporary files here
        try:
            ports = running.ports = [free_port() for _ in range(workers)]
            logs = [prefix / f"worker-{i + 1}.log" for i in range(workers)]
            for worker_port, log_path in zip(ports, logs, strict=True):
                with log_path.open("w") as log:
                    processes.append(subprocess.Popen(
                        [*streamlit_argv(worker_port, headless=True), *extra_flags], stdout=log,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        env=worker_env(loopback, allow_code, env)))
            for number, (worker_port, log_path) in enumerate(zip(ports, logs, strict=True), start=1):
                _healthy(f"http://{HOST}:{worker_port}/_stcore/health", processes[number - 1], f"worker {number}",
                         log_path)
            config = prefix / "nginx.conf"
            listen = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            config.write_text(nginx_config(prefix, [f"{HOST}:{p}" for p in ports], listen))
            error_log = prefix / "error.log"
            processes.append(subprocess.Popen(
                [nginx, "-p", str(prefix), "-c", str(config), "-e", str(error_log)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
            try:
                _healthy(f"http://{_reach(address, loopback)}:{port}/_stcore/health", processes[-1], "nginx",
                         error_log)
            except LaunchError as exc:
                if "Address already in use" in str(exc):
                    raise LaunchError(f"port {port} on {address} is already in use: stop what listens there or "
                                      "choose another --port") from None
                raise
            yield running
        finally:
            for process in reversed(processes):
                stop_server(process)


def open_classroom(workers: int, port: int, address: str = HOST, allow_code: bool = False) -> None:
    """Serve the sandbox with `workers` processes behind nginx until Ctrl-C or until one of them stops."""
    with classroom(workers, port, address, allow_code) as running:
        reach = "this machine only" if check_address(address) else "reachable by others"
        print(f"serving the sandbox at http://{address}:{port} ({reach}) with {workers} worker processes behind "
              f"nginx (workers on 127.0.0.1:{', '.join(map(str, running.ports))}); Ctrl+C stops them all", flush=True)
        while (stopped := running.stopped()) is None:
            time.sleep(0.5)
        raise LaunchError(f"{stopped} stopped on its own; the classroom is closed")
