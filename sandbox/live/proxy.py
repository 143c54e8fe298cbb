"""The fault proxy: a Toxiproxy-style TCP proxy in front of a service, the broker or Redis, controlled in-process.

Every accepted connection gets its own connection upstream and two pumps, one per direction. A pump is a
receiving task and a delivering task joined by a bounded FIFO delay line, so latency delays each chunk by its
own amount without holding up the stream behind it and without reordering bytes.

Faults: down (refuse new connections, reset existing ones) and up, latency ± jitter (latency(0) ends it), black hole
(accept, then swallow everything; black_hole(False) ends it), reset_peer (reset existing connections once). The
asyncio loop runs in a thread the proxy owns; every control is a plain method, safe to call from any thread, that
returns once the fault is in effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import random
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal

from sandbox.live.errors import LabError
from sandbox.live.processes.ports import hold_port

HOST = "127.0.0.1"
CHUNK_BYTES = 64 * 1024
DELAY_LINE_CHUNKS = 32
CONNECT_TIMEOUT_S = 5.0
FLUSH_TIMEOUT_S = 5.0
CONTROL_TIMEOUT_S = 10.0

Direction = Literal["both", "upstream", "downstream"]
UPSTREAM, DOWNSTREAM = "upstream", "downstream"
DIRECTIONS: dict[str, frozenset[str]] = {
    "both": frozenset({UPSTREAM, DOWNSTREAM}),
    UPSTREAM: frozenset({UPSTREAM}),
    DOWNSTREAM: frozenset({DOWNSTREAM}),
}

_LINGER_ZERO = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST and drops unsent data
_EOF = b""  # on a delay line: pass the half-close on
_SILENT_END = None  # on a delay line: stop without passing anything on (a black hole keeps its close)


class ProxyError(LabError):
    """The proxy cannot do what was asked (its port is taken, it is not running); the message says what to do."""


@dataclasses.dataclass
class ProxyStats:
    """Counts since the proxy was created.

    refused: accepted connections reset because the upstream refused or did not answer in time. Connects the
    kernel refuses while the proxy is down never reach the proxy and are not counted.
    reset: connections the proxy closed with an RST (a fault, stop(), a reset from the other side, a refusal).
    bytes_upstream / bytes_downstream: bytes delivered to the upstream / to clients; bytes_swallowed: lost
    to a black hole, both directions.
    """

    accepted: int = 0
    active: int = 0
    refused: int = 0
    reset: int = 0
    bytes_upstream: int = 0
    bytes_downstream: int = 0
    bytes_swallowed: int = 0


@dataclasses.dataclass(frozen=True)
class _Latency:
    ms: float
    jitter_ms: float
    directions: frozenset[str]


class _Link:
    """One client connection and the proxy's connection upstream for it."""

    def __init__(self, client: asyncio.StreamWriter, stats: ProxyStats):
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.task: asyncio.Task | None = None
        self.must_reset = False
        self.swallowing = False  # it lost bytes to a black hole, so it stays one until it closes (as in the sim)
        self._stats = stats
        self._closed = False

    async def close(self) -> None:
        """Close both sides once and wait until they are: RST if must_reset, else flush and FIN."""
        if self._closed:
            return
        if self.must_reset:
            self.reset_now()
        else:
            self._closed = True
            for writer in self._writers():
                writer.close()
        for writer in self._writers():
            await _closed(writer)

    def reset_now(self) -> None:
        """RST the client (SO_LINGER 0) and abort the upstream connection, without waiting; once."""
        if self._closed:
            return
        self._closed = True
        self._stats.reset += 1
        with contextlib.suppress(OSError):
            self.client.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        for writer in self._writers():
            writer.transport.abort()

    def _writers(self) -> list[asyncio.StreamWriter]:
        return [writer for writer in (self.client, self.upstream) if writer is not None]


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Wait until the writer's socket is closed; abort it if flushing takes longer than FLUSH_TIMEOUT_S."""
    try:
        await asyncio.wait_for(writer.wait_closed(), FLUSH_TIMEOUT_S)
    except TimeoutError:
        writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    except OSError:
        pass  # already lost with an error: the socket is closed


class FaultProxy:
    """A TCP proxy on 127.0.0.1:listen_port (0: a free port, see .port) to `upstream`, with injectable faults."""

    def __init__(self, upstream: tuple[str, int], listen_port: int = 0, name: str = "proxy", seed: int | None = None):
        self.upstream = upstream
        self.port = listen_port
        self.name = name
        self._rng = random.Random(seed)
        self._control = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # touched only on the loop's thread while it runs
        self._server: asyncio.Server | None = None
        self._held_port: socket.socket | None = None
        self._links: set[_Link] = set()
        self._latency: _Latency | None = None
        self._black_hole = False
        self._stats = ProxyStats()

    # lifecycle

    def start(self) -> FaultProxy:
        """Listen and serve from a new thread; return once listening. Raises ProxyError when the port is taken."""
        with self._control:
            if self._loop is not None:
                return self
            listener = self._bind()
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=_run_forever, args=(self._loop,), name=f"fault-proxy-{self.name}",
                                            daemon=True)
            self._thread.start()
            self._run(self._listen(listener))
            return self

    def stop(self) -> None:
        """Close the listener and every connection (RST), clear the faults, end the thread; idempotent."""
        with self._control:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            try:
                self._run(self._shut_down())
                self._release_port()
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(CONTROL_TIMEOUT_S)
                self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def listening(self) -> bool:
        """Running and not down: new connections are accepted."""
        return self._loop is not None and self._server is not None

    # faults

    def down(self) -> None:
        """A dead service: close the listener (connects get ECONNREFUSED) and reset every connection.

        The port stays held (ports.hold_port), so that `up()` finds it free."""
        with self._control:
            self._run(self._go_down())
            self._hold_port()

    def up(self) -> None:
        """Listen again on the same port. Raises ProxyError when something took the port meanwhile."""
        with self._control:
            self._require_running()
            if self._server is None:
                self._release_port()
                self._run(self._listen(self._bind()))

    def latency(self, ms: float, jitter_ms: float = 0.0, direction: Direction = "both") -> None:
        """Deliver each chunk ms ± uniform jitter_ms (never below 0) after it arrived, in order; latency(0) ends it.

        direction: "both", "upstream" (client to service) or "downstream" (service to client); with "both" a
        request-response round trip takes about 2 × ms longer."""
        if ms < 0 or jitter_ms < 0:
            raise ValueError(f"latency needs ms >= 0 and jitter_ms >= 0, got ms={ms}, jitter_ms={jitter_ms}")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        latency = _Latency(ms, jitter_ms, DIRECTIONS[direction]) if ms or jitter_ms else None
        with self._control:
            self._run(self._set(_latency=latency))

    def black_hole(self, on: bool = True) -> None:
        """A hung service: keep accepting, forward no data either way and not the service's close either.

        Clients wait until their own timeout; a client's close still goes through. `on=False` ends it for what
        comes next; connections that already lost bytes stay swallowed."""
        with self._control:
            self._run(self._set(_black_hole=on))

    def reset_peer(self) -> None:
        """Reset every current connection once (RST); new connections are served as usual."""
        with self._control:
            self._run(self._reset_links())

    def stats(self) -> ProxyStats:
        """A snapshot of the counts (see ProxyStats)."""
        with self._control:
            if self._loop is None:
                return dataclasses.replace(self._stats, active=0)
            return self._run(self._snapshot())

    # the loop's side: everything below runs on the proxy's thread

    def _require_running(self) -> None:
        if self._loop is None:
            raise self._not_running()

    def _not_running(self) -> ProxyError:
        return ProxyError(f"fault proxy {self.name!r} is not running; call start() first")

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` on the proxy's loop and wait for its result."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise self._not_running()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(CONTROL_TIMEOUT_S)

    def _bind(self) -> socket.socket:
        """A listening socket on HOST:port (port 0 picks one and fixes self.port)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not block up()
        try:
            listener.bind((HOST, self.port))
            listener.listen()
        except OSError as exc:
            listener.close()
            if exc.errno == errno.EADDRINUSE:
                raise ProxyError(f"fault proxy {self.name!r}: port {self.port} on {HOST} is in use; "
                                 "pick another port or stop what holds it") from None
            raise ProxyError(f"fault proxy {self.name!r} cannot listen on {HOST}:{self.port}: {exc.strerror}") from None
        self.port = listener.getsockname()[1]
        listener.setblocking(False)
        return listener

    def _hold_port(self) -> None:
        if self._held_port is None:
            self._held_port = hold_port(self.port)  # None when taken already: up() will say so

    def _release_port(self) -> None:
        if self._held_port is not None:
            self._held_port.close()
            self._held_port = None

    async def _listen(self, listener: socket.socket) -> None:
        self._server = await asyncio.start_server(self._accept, sock=listener)

    async def _set(self, **fields: object) -> None:
        """Assign fault settings on the loop's thread, between two chunks."""
        for name, value in fields.items():
            setattr(self, name, value)

    async def _snapshot(self) -> ProxyStats:
        return dataclasses.replace(self._stats, active=len(self._links))

    async def _go_down(self) -> None:
        if self._server is not None:
            self._server.close()  # closes the listening socket at once; its accept queue gets RSTs
            self._server = None
        await self._reset_links()

    async def _shut_down(self) -> None:
        await self._go_down()
        self._latency, self._black_hole = None, False

    async def _reset_links(self) -> None:
        """RST every connection: stop its pumps, then close both of its sides."""
        links = list(self._links)
        for link in links:
            link.must_reset = True
            if link.task is not None:
                link.task.cancel()
        await asyncio.gather(*(link.task for link in links if link.task is not None), return_exceptions=True)
        for link in links:  # a task cancelled before it ran never reached its own close
            await link.close()
            self._links.discard(link)

    def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, which accepted ones are not here;
        # without it Nagle's algorithm meets the client's delayed ACK and small writes wait 40 ms
        client_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(client_writer, self._stats)
        self._stats.accepted += 1
        if self._server is None:  # the kernel accepted it just before down(): it goes the way of the others
            link.reset_now()
            return
        self._links.add(link)
        link.task = asyncio.get_running_loop().create_task(self._serve(link, client_reader))

    async def _serve(self, link: _Link, client_reader: asyncio.StreamReader) -> None:
        """Connect upstream for one client, pump both ways until both directions end, then close both sides."""
        try:
            upstream_reader = await self._connect_upstream(link)
            if upstream_reader is not None:
                await self._pump_both_ways(link, client_reader, upstream_reader)
        finally:
            await link.close()
            self._links.discard(link)

    async def _connect_upstream(self, link: _Link) -> asyncio.StreamReader | None:
        """The upstream's reader, or None (and the client is to be reset) when it refuses or does not answer."""
        try:
            reader, link.upstream = await asyncio.wait_for(asyncio.open_connection(*self.upstream), CONNECT_TIMEOUT_S)
        except OSError:  # TimeoutError included
            self._stats.refused += 1
            link.must_reset = True
            return None
        return reader

    async def _pump_both_ways(self, link: _Link, client_reader: asyncio.StreamReader,
                              upstream_reader: asyncio.StreamReader) -> None:
        assert link.upstream is not None
        try:
            async with asyncio.TaskGroup() as pumps:
                for reader, writer, direction in ((client_reader, link.upstream, UPSTREAM),
                                                  (upstream_reader, link.client, DOWNSTREAM)):
                    line: asyncio.Queue = asyncio.Queue(DELAY_LINE_CHUNKS)
                    pumps.create_task(self._receive(reader, line, direction, link))
                    pumps.create_task(self._deliver(line, writer, direction))
        except* OSError:  # one side was reset or broke: the other side gets a reset too
            link.must_reset = True

    async def _receive(self, reader: asyncio.StreamReader, line: asyncio.Queue, direction: str, link: _Link) -> None:
        """Read chunks until EOF and put each on the delay line with its due time, or swallow it in a black hole."""
        while data := await reader.read(CHUNK_BYTES):
            if self._black_hole or link.swallowing:
                link.swallowing = True
                self._stats.bytes_swallowed += len(data)
            else:
                await line.put((self._due_time(direction), data))
        if direction == DOWNSTREAM and (self._black_hole or link.swallowing):
            await line.put((0.0, _SILENT_END))  # a hung service does not hang up: its client keeps waiting
        else:
            await line.put((self._due_time(direction), _EOF))

    async def _deliver(self, line: asyncio.Queue, writer: asyncio.StreamWriter, direction: str) -> None:
        """Write each chunk when it is due, in arrival order; pass on the EOF (half-close) at the end."""
        loop = asyncio.get_running_loop()
        while True:
            due, data = await line.get()
            if (wait_s := due - loop.time()) > 0:
                await asyncio.sleep(wait_s)
            if data is _SILENT_END:
                return
            if data == _EOF:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
            if direction == UPSTREAM:
                self._stats.bytes_upstream += len(data)
            else:
                self._stats.bytes_downstream += len(data)

    def _due_time(self, direction: str) -> float:
        """Loop time at which a chunk arriving now in `direction` is to be delivered."""
        now = asyncio.get_running_loop().time()
        latency = self._latency
        if latency is None or direction not in latency.directions:
            return now
        delay_ms = latency.ms + (self._rng.uniform(-latency.jitter_ms, latency.jitter_ms) if latency.jitter_ms else 0)
        return now + max(0.0, delay_ms) / 1000


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    """The proxy thread: serve until stopped, then release the loop's own resources."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        leftovers = asyncio.all_tasks(loop)  # only the loop's own accept tasks can be left, in a race with stop()
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
