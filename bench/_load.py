"""The load client the benchmarks share: raw HTTP/1.1 over non-blocking sockets, one epoll
loop per client process, no HTTP library.

Gunicorn's sync workers close the connection after each response, so every request opens a
new one (wrk does the same against this server). On a 2-core machine the client shares the
CPU with the server, and it costs per request, so it weighs on /healthz far more than on
slow pages: a slow or saturated client would hold the /healthz rate down and flatter every
ratio. Its CPU use is printed next to the server's.

A client is any object with `expected` (the status that counts as success) and `next()`,
returning the raw request and an ident (kept for each success, or None).
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import selectors
import socket
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from _common import percentile

DRAIN_SECONDS = 30  # a request still open this long after the phase ends counts as an error


class Get:
    """Every request the same GET (with optional headers), answered with `expected`."""

    def __init__(self, port: int, path: str, expected: int = 200, headers: dict | None = None):
        self.expected = expected
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.raw = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}\r\n"
        ).encode()

    def next(self) -> tuple[bytes, None]:
        return self.raw, None


@dataclass
class Result:
    """What one client process saw in one timed window."""

    latencies: array = field(default_factory=lambda: array("d"))
    errors: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)  # idents (e-mails) answered as expected
    seconds: float = 0.0  # from the first request sent to the last answer received
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def add(self, other: Result, *, parallel: bool) -> None:
        """Add another process's share of one window (parallel) or a later window."""
        self.latencies.extend(other.latencies)
        self.errors.update(other.errors)
        self.error_samples.extend(other.error_samples[: 5 - len(self.error_samples)])
        self.succeeded.extend(other.succeeded)
        if parallel:
            self.seconds = max(self.seconds, other.seconds)
        else:
            self.seconds += other.seconds
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu


class _Conn:
    __slots__ = ("sock", "client", "ident", "started", "request", "buffer")


def run_load(port: int, clients: list, start_at: float, stop_at: float) -> Result:
    """Keep one request in flight per client from start_at until stop_at, then drain."""
    address = ("127.0.0.1", port)
    selector = selectors.DefaultSelector()
    result = Result()
    latencies = result.latencies
    clock = time.perf_counter
    in_flight = 0

    def fail(reason: str, detail: str) -> None:
        result.errors[reason] += 1
        if len(result.error_samples) < 5:
            result.error_samples.append(detail[:300])

    def launch(client) -> None:
        nonlocal in_flight
        conn = _Conn()
        conn.client = client
        conn.request, conn.ident = client.next()
        conn.buffer = bytearray()
        sock = conn.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn.started = clock()
        in_flight += 1
        code = sock.connect_ex(address)
        if code == 0:
            if send(conn):
                selector.register(sock, selectors.EVENT_READ, conn)
        elif code == errno.EINPROGRESS:
            selector.register(sock, selectors.EVENT_WRITE, conn)
        else:
            finish(conn, None, f"connect: {errno.errorcode.get(code, code)}")

    def send(conn: _Conn) -> bool:
        # A request is well under a kilobyte: an empty socket buffer takes it whole.
        try:
            sent = conn.sock.send(conn.request)
        except OSError as exc:
            finish(conn, None, f"{type(exc).__name__}: {exc}")
            return False
        if sent != len(conn.request):
            finish(conn, None, f"send: only {sent} of {len(conn.request)} bytes")
            return False
        return True

    def finish(conn: _Conn, status: int | None, problem: str = "") -> None:
        nonlocal in_flight
        in_flight -= 1
        ended = clock()
        if conn.sock.fileno() >= 0:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(conn.sock)
            conn.sock.close()
        last_end[0] = ended
        if status == conn.client.expected:
            latencies.append(ended - conn.started)
            if conn.ident is not None:
                result.succeeded.append(conn.ident)
        elif status is None:
            fail(problem.split(":", 1)[0], problem)
        else:
            fail(f"HTTP {status}", bytes(conn.buffer[:300]).decode("latin-1"))
        if ended < stop_at:
            idle.append(conn.client)  # its next request starts from the main loop

    while time.perf_counter() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.perf_counter())))
    cpu_before = time.process_time()
    first_start = clock()
    last_end = [first_start]
    idle = list(clients)
    while idle or in_flight:
        while idle:
            launch(idle.pop())
        if clock() > stop_at + DRAIN_SECONDS:
            for key in list(selector.get_map().values()):
                finish(key.data, None, "timeout: no answer within the drain period")
            break
        for key, mask in selector.select(1.0):
            conn = key.data
            sock = conn.sock
            if mask & selectors.EVENT_WRITE:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    finish(conn, None, f"connect: {errno.errorcode.get(code, code)}")
                elif send(conn):
                    selector.modify(sock, selectors.EVENT_READ, conn)
                continue
            # Gunicorn's sync worker answers and closes: read until the end of the stream.
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        finish(conn, _status(conn.buffer))
                        break
                    conn.buffer += data
            except BlockingIOError:
                pass
            except OSError as exc:
                finish(conn, None, f"{type(exc).__name__}: {exc}")
    result.client_cpu = time.process_time() - cpu_before
    result.seconds = last_end[0] - first_start
    selector.close()
    return result


def _status(response: bytearray) -> int:
    """The status code of a raw HTTP/1.x response, 0 when it is not one."""
    if response[:7] == b"HTTP/1." and response[9:12].isdigit():
        return int(response[9:12])
    return 0


def _client_process(port, make_client, tag, count, start_at_pipe, stop_seconds, out):
    """One client process: prepare its clients, wait for the start signal, run, report."""
    try:
        clients = [make_client(f"{tag}-{i}") for i in range(count)]
        out.send("ready")
        start_at = start_at_pipe.recv()
        out.send(run_load(port, clients, start_at, start_at + stop_seconds))
    except Exception as exc:  # report it to the parent instead of dying silently
        out.send(exc)


def run_phase(
    port: int,
    make_client: Callable[[str], object],
    tag: str,
    seconds: float,
    concurrency: int,
    processes: int,
    server_cpu=lambda: 0.0,
) -> Result:
    """Run `concurrency` clients split over `processes` processes for `seconds`.

    `make_client(tag)` makes one client (a unique tag each) in its process; the clients get
    ready (a registering client GETs the form) before the clock starts;
    `server_cpu()` is read when it starts and when every answer is in.
    """
    ctx = multiprocessing.get_context("fork")
    workers = []
    for index in range(processes):
        count = concurrency // processes + (1 if index < concurrency % processes else 0)
        start_recv, start_send = ctx.Pipe(duplex=False)
        out_recv, out_send = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=_client_process,
            args=(port, make_client, f"{tag}{index}", count, start_recv, seconds, out_send),
            daemon=True,
        )
        process.start()
        workers.append((process, start_send, out_recv))
    for _process, _, out_recv in workers:
        message = out_recv.recv()
        if message != "ready":
            raise RuntimeError(f"client process failed while preparing: {message!r}")
    cpu_before = server_cpu()
    start_at = time.perf_counter() + 0.05  # CLOCK_MONOTONIC: the same clock in every process
    for _, start_send, _ in workers:
        start_send.send(start_at)
    total = Result()
    for process, _, out_recv in workers:
        message = out_recv.recv()
        process.join()
        if isinstance(message, Exception):
            raise RuntimeError(f"client process failed: {message!r}")
        total.add(message, parallel=True)
    total.server_cpu = server_cpu() - cpu_before
    return total


# --- reporting ----------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cores: float
    server_cores: float
    server_cpu_ms: float


def figures(name: str, result: Result) -> Figures:
    latencies = sorted(result.latencies)
    seconds = max(result.seconds, 1e-9)
    requests = len(latencies)
    server_cpu = result.server_cpu
    return Figures(
        name=name,
        requests=requests,
        seconds=seconds,
        rate=requests / seconds,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        errors=sum(result.errors.values()),
        client_cores=result.client_cpu / seconds,
        server_cores=server_cpu / seconds,
        server_cpu_ms=server_cpu / max(requests, 1) * 1000,
    )


def print_figures(rows: list[Figures]) -> None:
    print(
        f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'errors':>8}"
        f"{'server CPU ms/req':>19}{'CPU cores server/client':>25}"
    )
    for f in rows:
        print(
            f"{f.name:24}{f.rate:9.0f}{f.p50_ms:9.1f}{f.p99_ms:9.1f}{f.requests:10d}"
            f"{f.errors:8d}{f.server_cpu_ms:19.2f}{f.server_cores:15.2f} / {f.client_cores:.2f}"
        )
