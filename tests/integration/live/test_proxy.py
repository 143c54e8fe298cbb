"""The fault proxy is transparent until told otherwise, and each fault does to real sockets what it says.

Needs no RabbitMQ or Redis: the upstreams are a tiny TCP echo server and a Starlette app, both on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sandbox.live.processes.ports import free_port
from sandbox.live.proxy import CONNECT_TIMEOUT_S, FaultProxy, ProxyError
from tests.helpers import serving

TIMEOUT_S = 5.0
FAREWELL = b"bye"


class EchoThenFarewell(socketserver.BaseRequestHandler):
    """Echo every byte; on the client's EOF (half-close) send FAREWELL and close."""

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the proxy resets or aborts connections on purpose
            while data := self.request.recv(65536):
                self.request.sendall(data)
            self.request.sendall(FAREWELL)


@contextlib.contextmanager
def serving_tcp(handler: type[socketserver.BaseRequestHandler]) -> Iterator[tuple[str, int]]:
    """A threaded TCP server on 127.0.0.1 with `handler`; yields its address."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT_S)


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    with serving_tcp(EchoThenFarewell) as address:
        yield address


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def echo_body(request: Request) -> Response:
    return Response(await request.body())


@pytest.fixture
def web() -> Iterator[tuple[str, int]]:
    app = Starlette(routes=[Route("/hello", hello), Route("/echo", echo_body, methods=["POST"])])
    with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def connect(port: int, timeout_s: float = TIMEOUT_S) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout_s)


def echoed(sock: socket.socket, payload: bytes = b"ping") -> bytes:
    """Send payload and read back exactly as many bytes."""
    sock.sendall(payload)
    got = bytearray()
    while len(got) < len(payload):
        chunk = sock.recv(len(payload) - len(got))
        assert chunk, "connection closed mid-echo"
        got += chunk
    return bytes(got)


def round_trip_s(sock: socket.socket) -> float:
    started = time.perf_counter()
    assert echoed(sock) == b"ping"
    return time.perf_counter() - started


def read_to_eof(sock: socket.socket) -> bytes:
    got = bytearray()
    while chunk := sock.recv(65536):
        got += chunk
    return bytes(got)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fault-proxy-")]


def settles(condition: Callable[[], bool], within_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_large_payload_passes_both_ways_intact_and_in_order(echo):
    payload = os.urandom(5_000_000)
    with FaultProxy(echo, name="echo") as proxy, connect(proxy.port, timeout_s=20) as sock:
        def send_then_half_close() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send_then_half_close)
        sender.start()
        received = read_to_eof(sock)
        sender.join(TIMEOUT_S)
        assert received == payload + FAREWELL
        assert settles(lambda: proxy.stats().active == 0)
        stats = proxy.stats()
    assert (stats.accepted, stats.bytes_upstream, stats.bytes_downstream) == (1, 5_000_000, 5_000_003)


def test_half_close_reaches_the_upstream_and_its_answer_still_comes_back(echo):
    with FaultProxy(echo) as proxy, connect(proxy.port) as sock:
        sock.sendall(b"abc")
        sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock) == b"abc" + FAREWELL


def test_an_upstream_given_by_host_name_is_resolved_like_a_compose_service_name(echo):
    _, port = echo
    with FaultProxy(("localhost", port), name="by-name") as proxy, connect(proxy.port) as sock:
        assert echoed(sock, b"by name") == b"by name"
        assert proxy.stats().refused == 0


def test_an_upstream_host_name_that_does_not_resolve_is_refused_like_a_closed_port():
    within_s = CONNECT_TIMEOUT_S + TIMEOUT_S  # a slow resolver is cut off by the connect timeout
    with FaultProxy(("no-such-host.invalid", 5672), name="nowhere") as proxy, \
            connect(proxy.port, timeout_s=within_s) as sock:
        with contextlib.suppress(ConnectionResetError):
            assert read_to_eof(sock) == b""
        assert settles(lambda: proxy.stats().refused == 1, within_s)


def test_http_keep_alive_goes_through_on_one_connection(web):
    body = os.urandom(1_000_000)
    with FaultProxy(web, name="web") as proxy, httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}") as client:
        assert all(client.get("/hello").text == "hello" for _ in range(20))
        assert client.post("/echo", content=body).content == body
        assert proxy.stats().accepted == 1


def test_latency_delays_the_round_trip_by_at_least_its_amount(echo):
    with FaultProxy(echo) as proxy, connect(proxy.port) as sock:
        proxy.latency(200, direction="upstream")
        assert round_trip_s(sock) >= 0.19
        proxy.latency(100)  # both directions: once each way
        assert round_trip_s(sock) >= 0.19
        proxy.latency(0)
        assert round_trip_s(sock) < 0.15


def test_jitter_stays_within_its_bounds_and_varies(echo):
    with FaultProxy(echo, seed=3) as proxy, connect(proxy.port) as sock:
        proxy.latency(100, jitter_ms=50, direction="downstream")
        trips_s = [round_trip_s(sock) for _ in range(15)]
    assert min(trips_s) >= 0.045
    assert max(trips_s) <= 0.150 + 0.1, "at most latency + jitter, plus generous scheduling slack"
    assert max(trips_s) - min(trips_s) >= 0.02


def test_jitter_never_reorders_bytes(echo):
    messages = [f"<{i}>".encode() for i in range(200)]
    with FaultProxy(echo) as proxy, connect(proxy.port) as sock:
        proxy.latency(20, jitter_ms=20)
        for message in messages:  # spaced out, so they travel as separate chunks with different delays
            sock.sendall(message)
            time.sleep(0.001)
        sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock) == b"".join(messages) + FAREWELL


def test_down_refuses_new_connections_and_resets_existing_ones(echo, web):
    with FaultProxy(echo) as proxy, connect(proxy.port) as sock:
        assert echoed(sock) == b"ping"
        proxy.down()
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
        with pytest.raises(ConnectionRefusedError):
            connect(proxy.port)

    with FaultProxy(web) as proxy, httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=TIMEOUT_S) as client:
        assert client.get("/hello").status_code == 200
        proxy.down()
        with pytest.raises(httpx.ConnectError):  # the kept-alive connection is gone, a new one is refused
            client.get("/hello")


def test_up_serves_again_on_the_same_port(web):
    with FaultProxy(web) as proxy, httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=TIMEOUT_S) as client:
        port = proxy.port
        proxy.down()
        proxy.down()  # idempotent
        proxy.up()
        assert proxy.port == port
        assert client.get("/hello").text == "hello"


def test_a_proxy_that_is_down_keeps_its_port_from_everyone_else(echo):
    with FaultProxy(echo, name="user") as proxy:
        proxy.down()
        plain = socket.socket()  # no SO_REUSEADDR: what the kernel's own choice of a source port respects too
        with plain, pytest.raises(OSError) as taken:
            plain.bind(("127.0.0.1", proxy.port))
        assert taken.value.errno == errno.EADDRINUSE
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        proxy.up()
        with connect(proxy.port) as sock:
            assert echoed(sock) == b"ping"
    with socket.socket() as after:
        after.bind(("127.0.0.1", proxy.port))  # stop() let the port go


def test_up_says_so_when_the_port_was_taken_meanwhile(echo):
    with FaultProxy(echo, name="user") as proxy:
        proxy.down()
        with socket.create_server(("127.0.0.1", proxy.port)), pytest.raises(ProxyError, match="is in use"):
            proxy.up()
        proxy.up()
        with connect(proxy.port) as sock:
            assert echoed(sock) == b"ping"


def test_black_hole_hangs_clients_and_ending_it_lets_new_connections_through(web):
    with FaultProxy(web) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/hello"
        proxy.black_hole()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(url, timeout=0.5)
        assert proxy.stats().bytes_swallowed > 0
        proxy.black_hole(False)
        assert httpx.get(url, timeout=TIMEOUT_S).text == "hello"


def test_a_connection_that_lost_bytes_to_the_black_hole_stays_hung_after_it_ends(echo):
    with FaultProxy(echo) as proxy, connect(proxy.port, timeout_s=0.3) as hung:
        proxy.black_hole()
        hung.sendall(b"lost")
        assert settles(lambda: proxy.stats().bytes_swallowed == 4)
        proxy.black_hole(False)
        with connect(proxy.port) as fresh:
            assert echoed(fresh) == b"ping"
        hung.sendall(b"still lost")
        with pytest.raises(TimeoutError):
            hung.recv(1)


class GreetThenHangUp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"hi")


def test_a_black_hole_neither_answers_nor_hangs_up():
    with serving_tcp(GreetThenHangUp) as upstream, FaultProxy(upstream) as proxy:
        with connect(proxy.port) as sock:
            assert read_to_eof(sock) == b"hi"
        proxy.black_hole()
        with connect(proxy.port, timeout_s=0.5) as sock, pytest.raises(TimeoutError):
            sock.recv(1)


def test_reset_peer_resets_existing_connections_and_serves_new_ones(echo, web):
    with FaultProxy(echo) as proxy, connect(proxy.port) as first, connect(proxy.port) as second:
        assert echoed(first) == echoed(second) == b"ping"
        proxy.reset_peer()
        for sock in (first, second):
            with pytest.raises(ConnectionResetError):
                sock.recv(1)
        with connect(proxy.port) as fresh:
            assert echoed(fresh) == b"ping"
            # read while the fresh link is open: how it is torn down when the test closes it is not this fault's
            assert proxy.stats().reset == 2, "only the two links that existed were reset"

    with FaultProxy(web) as proxy, httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=TIMEOUT_S) as client:
        assert client.get("/hello").status_code == 200
        proxy.reset_peer()
        assert client.get("/hello").text == "hello"  # the pool drops the reset connection and opens a new one
        assert proxy.stats().accepted == 2


def test_a_refusing_upstream_resets_the_client_and_counts_as_refused():
    with FaultProxy(("127.0.0.1", free_port())) as proxy:
        # the reset can beat connect() back to a busy client thread, so it is expected at either step
        with pytest.raises(ConnectionResetError), connect(proxy.port) as sock:
            sock.recv(1)
        assert proxy.stats().refused == 1


def test_stop_leaves_no_thread_and_no_open_fds(echo):
    fds_before = open_fds()
    for cycle in range(30):
        proxy = FaultProxy(echo, name=f"cycle-{cycle}").start()
        with connect(proxy.port) as idle, connect(proxy.port) as busy:
            assert echoed(busy) == b"ping"
            proxy.latency(5)
            busy.sendall(b"in flight")
            proxy.stop()
            proxy.stop()  # idempotent
            for sock in (idle, busy):
                with pytest.raises(ConnectionResetError):
                    sock.recv(1)
    assert proxy_threads() == []
    assert settles(lambda: open_fds() <= fds_before), f"{open_fds()} fds open, {fds_before} before"


def test_a_port_in_use_is_a_proxy_error_saying_what_to_do(echo):
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        with pytest.raises(ProxyError) as error:
            FaultProxy(echo, listen_port=port, name="user").start()
    assert f"port {port} on 127.0.0.1 is in use; pick another port or stop what holds it" in str(error.value)
    assert proxy_threads() == []


def test_controls_need_a_running_proxy_and_sane_values(echo):
    proxy = FaultProxy(echo, name="idle")
    with pytest.raises(ProxyError, match="not running"):
        proxy.down()
    with pytest.raises(ValueError, match="jitter_ms"):
        proxy.latency(10, jitter_ms=-1)
    with pytest.raises(ValueError, match="direction"):
        proxy.latency(10, direction="sideways")  # type: ignore[arg-type]
    assert proxy.stats().accepted == 0
