"""Registration POSTs against /healthz under gunicorn (2 sync workers) on SQLite.

    .venv/bin/python bench/register.py [--seconds 10] [--concurrency 16]

A fresh database (migrated, Akson seeded) in a temporary directory; the app under gunicorn
with the in-process mail thread off, so the figures are the request path alone (the
confirmation is rendered and queued in the outbox inside the request, as in production).

One load client drives both kinds of request (bench/_load.py, shared with bench/pages.py):
raw HTTP/1.1 over non-blocking sockets, one epoll loop per client process, a new connection
per request as wrk makes against gunicorn's sync workers; its CPU use is printed next to the
server's.

(a) GET /healthz. (b) Each client first GETs the event page once for its session cookie and
CSRF token, then POSTs registrations with unique e-mails (eligible municipalities in turn)
and expects 303. The meeting belongs to the Akson programme, so the form carries the series
field with the meeting itself ticked, as a browser shows it; `--series N` ticks N of the
programme's other events too, so that each POST registers for 1 + N events. After an
untimed warm-up of each, (a) and (b) alternate in short rounds, so
that both meet the same background load on a shared machine. Afterwards the database must
hold exactly one registration and one queued confirmation per 303 and event. Exit status 1 when the
target (POST rate >= 16 % of the /healthz rate, zero errors) or that check fails.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, Workspace, http  # noqa: E402
from _load import Get, Result, figures, print_figures, run_phase  # noqa: E402

EVENT = "akson-stormote"
#: The programme's other events, in the order the form lists them.
SERIES = ("akson-webinar-1", "akson-webinar-2", "akson-webinar-3")
TARGET_RATIO = 0.16


# --- what the clients send ------------------------------------------------------------------


def _healthz(port: int, _tag: str) -> Get:
    return Get(port, "/healthz")


class Registrations:
    """One browser: GETs the form once, then POSTs registrations with unique e-mails."""

    expected = 303

    def __init__(self, port: int, tag: str, ticked: tuple[str, ...] = ()):
        status, headers, body = http(port, "GET", f"/events/{EVENT}")
        if status != 200:
            raise RuntimeError(f"GET /events/{EVENT} answered {status}")
        cookie = headers["set-cookie"][0].split(";", 1)[0]
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
        self.municipalities = re.findall(rb'<option [^>]*value="(\d{4})"', body)
        if token is None or not self.municipalities:
            raise RuntimeError("the event page has no registration form")
        offered = re.findall(rb'name="events" value="([^"]+)"', body)
        if not offered:
            raise RuntimeError("the form offers no other event of the programme (no series field)")
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
        default=0,
        choices=range(len(SERIES) + 1),
        help="other events of the programme ticked on each POST besides the meeting",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args(argv)
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

    ticked = SERIES[: args.series]
    with (
        Workspace(keep=args.keep) as workspace,
        Server(workspace.env, workers=args.workers, log_dir=workspace.dir) as server,
    ):
        print(
            f"gunicorn -w {args.workers} -k sync on 127.0.0.1:{server.port}, SQLite at "
            f"{workspace.db_path}; concurrency {args.concurrency}; {args.seconds:g} s of each "
            f"kind in {args.rounds} alternating rounds after {args.warmup:g} s warm-up; "
            f"client in {args.client_processes} process(es)"
        )
        kinds = {"healthz": "(a) GET /healthz", "register": "(b) POST register"}
        makers = {
            "healthz": partial(_healthz, server.port),
            "register": partial(Registrations, server.port, ticked=ticked),
        }
        totals = {kind: Result() for kind in kinds}
        answered = []
        for kind, name in kinds.items():
            if args.warmup:
                warm = run_phase(
                    server.port,
                    makers[kind],
                    "w",
                    args.warmup,
                    args.concurrency,
                    args.client_processes,
                )
                answered += warm.succeeded
                if warm.errors:
                    print(f"warm-up {name}: {dict(warm.errors)}; {warm.error_samples[:1]}")
        for round_ in range(args.rounds):
            for kind in kinds:
                result = run_phase(
                    server.port,
                    makers[kind],
                    f"r{round_}-",
                    args.seconds / args.rounds,
                    args.concurrency,
                    args.client_processes,
                    server_cpu=server.cpu_seconds,
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
            f"database check (each 303 = one registration + one queued confirmation): "
            f"{'PASS' if db_ok else 'FAIL'} — {summary}"
        )
        if not (target_ok and db_ok):
            print(f"\ngunicorn log tail:\n{server.log_tail(20)}")
        return 0 if target_ok and db_ok else 1


if __name__ == "__main__":
    sys.exit(main())
