"""Registration POSTs against /healthz under gunicorn (2 sync workers) on SQLite.

    .venv/bin/python bench/register.py [--seconds 10] [--concurrency 16]

A fresh database (migrated, Akson seeded) in a temporary directory; the app under gunicorn
with the in-process mail thread off, so the figures are the request path alone (the
confirmation is rendered and queued in the outbox inside the request, as in production).

One load client drives both kinds of request, and it is kept cheap: raw HTTP/1.1 over
non-blocking sockets and one epoll loop per client process, no HTTP library. Gunicorn's sync
workers close the connection after each response, so every request opens a new one (wrk
does the same against this server). On a 2-core machine the client shares the CPU with the
server, and it costs per request, so it weighs on /healthz far more than on the POSTs: a
slow or saturated client would hold the /healthz rate down and flatter the ratio. Its CPU
use is printed next to the server's.

(a) GET /healthz. (b) Each client first GETs the event page once for its session cookie and
CSRF token, then POSTs registrations with unique e-mails (eligible municipalities in turn)
and expects 303. The form posts the series field as a browser does with one of the
programme's other events ticked (`--series N` ticks N of them, 0 leaves the field out), so
each POST registers for 1 + N events. After an untimed warm-up of each, (a) and (b)
alternate in short rounds, so that both meet the same background load on a shared machine.
Afterwards the database must hold exactly one registration and one queued confirmation per
303 and event. Exit status 1 when the target (POST rate >= 12 % of the /healthz rate, zero
errors) or that check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import multiprocessing
import re
import selectors
import socket
import sqlite3
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, Workspace, http, percentile  # noqa: E402

EVENT = "akson-stormote"
#: The programme's other events, in the order the form lists them.
SERIES = ("akson-webinar-1", "akson-webinar-2", "akson-webinar-3")
TARGET_RATIO = 0.12
DRAIN_SECONDS = 30  # a request still open this long after the phase ends counts as an error


# --- what the clients send ------------------------------------------------------------------


class Healthz:
    """Every request the same GET /healthz."""

    expected = 200

    def __init__(self, port: int):
        self.raw = (
            f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ).encode()

    def next(self) -> tuple[bytes, None]:
        return self.raw, None


class Registrations:
    """One browser: GETs the form once, then POSTs registrations with unique e-mails."""

    expected = 303

    def __init__(self, port: int, tag: str, ticked: tuple[str, ...] = SERIES[:1]):
        status, headers, body = http(port, "GET", f"/events/{EVENT}")
        if status != 200:
            raise RuntimeError(f"GET /events/{EVENT} answered {status}")
        cookie = headers["set-cookie"][0].split(";", 1)[0]
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
        self.municipalities = re.findall(rb'<option value="(\d{4})"', body)
        if token is None or not self.municipalities:
            raise RuntimeError("the event page has no registration form")
        offered = re.findall(rb'name="events" value="([^"]+)"', body)
        if any(slug.encode() not in offered for slug in ticked):
            raise RuntimeError(f"the form does not offer {ticked} (it offers {offered})")
        self.tag = tag
        self.count = 0
        self.head = (
            f"POST /events/{EVENT}/register HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Connection: close\r\nCookie: {cookie}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        ).encode()
        series = "".join(f"&events={slug}" for slug in ticked).encode()
        self.tail = (
            b"&role=ordforer&organisation="
            + series
            + b"&csrf_token="
            + quote_plus(token[1]).encode()
        )

    def next(self) -> tuple[bytes, str]:
        self.count += 1
        email = f"ordforer-{self.tag}-{self.count}@kommune.example"
        municipality = self.municipalities[self.count % len(self.municipalities)]
        body = (
            f"name=Bench+Ordf%C3%B8rer+{self.tag}-{self.count}&email={quote_plus(email)}"
            f"&municipality=".encode()
            + municipality
            + self.tail
        )
        return self.head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body, email


# --- the load loop ----------------------------------------------------------------------------


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


def _client_process(port, kind, tag, count, start_at_pipe, stop_seconds, out, ticked):
    """One client process: prepare its clients, wait for the start signal, run, report."""
    try:
        if kind == "healthz":
            clients = [Healthz(port) for _ in range(count)]
        else:
            clients = [Registrations(port, f"{tag}-{i}", ticked) for i in range(count)]
        out.send("ready")
        start_at = start_at_pipe.recv()
        out.send(run_load(port, clients, start_at, start_at + stop_seconds))
    except Exception as exc:  # report it to the parent instead of dying silently
        out.send(exc)


def run_phase(
    port: int,
    kind: str,
    tag: str,
    seconds: float,
    concurrency: int,
    processes: int,
    server_cpu=lambda: 0.0,
    ticked: tuple[str, ...] = SERIES[:1],
) -> Result:
    """Run `concurrency` clients split over `processes` processes for `seconds`.

    The clients get ready (a registering client GETs the form) before the clock starts;
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
            args=(port, kind, f"{tag}{index}", count, start_recv, seconds, out_send, ticked),
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


def check_database(
    db_path: Path, succeeded: list[str], events: tuple[str, ...] = (EVENT,)
) -> tuple[bool, str]:
    """For every e-mail answered 303, exactly one registration and one queued confirmation
    for each of the events it posted, and nothing else."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        registrations = Counter(
            con.execute(
                "SELECT r.email, e.slug FROM registrations r JOIN events e ON e.id = r.event_id"
                " WHERE r.status = 'confirmed'"
            )
        )
        all_registrations = con.execute("SELECT count(*) FROM registrations").fetchone()[0]
        messages = Counter(
            con.execute(
                "SELECT o.recipient, e.slug FROM outbox o"
                " JOIN registrations r ON r.id = o.registration_id"
                " JOIN events e ON e.id = r.event_id AND e.id = o.event_id"
                " WHERE o.kind = 'confirmation' AND o.status = 'queued' AND o.token IS NOT NULL"
                " AND r.email = o.recipient"
            )
        )
        all_messages = con.execute(
            "SELECT count(*) FROM outbox WHERE kind = 'confirmation'"
        ).fetchone()[0]
    finally:
        con.close()
    answered = Counter(succeeded)
    expected = Counter((email, slug) for email in answered for slug in events)
    problems = []
    if any(n != 1 for n in answered.values()):
        problems.append("an e-mail was answered 303 twice")
    if registrations != expected or all_registrations != len(expected):
        missing = len(set(expected) - set(registrations))
        extra = all_registrations - (len(expected) - missing)
        problems.append(f"registrations: {missing} answered but not stored, {extra} not answered")
    if messages != expected or all_messages != len(expected):
        problems.append(
            f"confirmations: {all_messages} queued for {len(expected)} registrations answered"
            f" ({sum(messages.values())} matched to their registration)"
        )
    summary = (
        f"303 answers {len(answered)} for {len(events)} event(s) each, "
        f"registrations {all_registrations}, queued confirmations {all_messages}"
    )
    return not problems, summary + ("" if not problems else " — " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    """Run both phases, print the figures and the checks; 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="timed seconds per kind")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="alternate the two kinds this many times (so both see the same machine load)",
    )
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds per kind")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--client-processes", type=int, default=1, help="processes the load client is split over"
    )
    parser.add_argument(
        "--series",
        type=int,
        default=1,
        choices=range(len(SERIES) + 1),
        help="other events of the programme ticked on each POST (0: no series field)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args(argv)
    ticked = SERIES[: args.series]
    if (
        args.seconds <= 0
        or args.rounds < 1
        or args.warmup < 0
        or not 0 < args.client_processes <= args.concurrency
    ):
        parser.error(
            "need --seconds > 0, --rounds >= 1, --warmup >= 0 and "
            "0 < --client-processes <= --concurrency"
        )

    with (
        Workspace(keep=args.keep) as workspace,
        Server(workspace.env, workers=args.workers, log_dir=workspace.dir) as server,
    ):
        print(
            f"gunicorn -w {args.workers} -k sync on 127.0.0.1:{server.port}, SQLite at "
            f"{workspace.db_path}; concurrency {args.concurrency}; {args.seconds:g} s of each "
            f"kind in {args.rounds} alternating rounds after {args.warmup:g} s warm-up; "
            f"client in {args.client_processes} process(es); each POST ticks "
            f"{', '.join(ticked) or 'no other event'}"
        )
        kinds = {"healthz": "(a) GET /healthz", "register": "(b) POST register"}
        totals = {kind: Result() for kind in kinds}
        answered = []
        for kind, name in kinds.items():
            if args.warmup:
                warm = run_phase(
                    server.port,
                    kind,
                    "w",
                    args.warmup,
                    args.concurrency,
                    args.client_processes,
                    ticked=ticked,
                )
                answered += warm.succeeded
                if warm.errors:
                    print(f"warm-up {name}: {dict(warm.errors)}; {warm.error_samples[:1]}")
        for round_ in range(args.rounds):
            for kind in kinds:
                result = run_phase(
                    server.port,
                    kind,
                    f"r{round_}-",
                    args.seconds / args.rounds,
                    args.concurrency,
                    args.client_processes,
                    server_cpu=server.cpu_seconds,
                    ticked=ticked,
                )
                answered += result.succeeded
                totals[kind].add(result, parallel=False)
        rows = [figures(name, totals[kind]) for kind, name in kinds.items()]
        for kind, name in kinds.items():
            for sample in totals[kind].error_samples:
                print(f"  error in {name}: {sample}")
        rss = server.rss_bytes()
        print()
        print_figures(rows)
        healthz, post = rows
        ratio = post.rate / healthz.rate if healthz.rate else 0.0
        print(
            f"\nserver RSS after the run: {rss / 2**20:.0f} MiB (master + {args.workers} workers)"
        )
        if max(r.client_cores for r in rows) > 0.9 * args.client_processes:
            print(
                "warning: the load client used nearly all of its CPU; its own speed may "
                "have limited a phase (try --client-processes 2)"
            )
        target_ok = ratio >= TARGET_RATIO and healthz.errors == 0 and post.errors == 0
        print(f"\nratio POST / healthz: {ratio:.1%}")
        print(
            f"target (ratio >= {TARGET_RATIO:.0%}, zero errors): "
            f"{'PASS' if target_ok else 'FAIL'} ({healthz.errors + post.errors} errors)"
        )
        db_ok, summary = check_database(workspace.db_path, answered, (EVENT, *ticked))
        print(
            f"database check (each 303 = one registration + one queued confirmation per event): "
            f"{'PASS' if db_ok else 'FAIL'} — {summary}"
        )
        if not (target_ok and db_ok):
            print(f"\ngunicorn log tail:\n{server.log_tail(20)}")
        return 0 if target_ok and db_ok else 1


if __name__ == "__main__":
    sys.exit(main())
