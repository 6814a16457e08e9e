"""A series registration of four events against a single registration, from one run.

    .venv/bin/python bench/series.py [--requests 200] [--warmup 20]

A fresh database (migrated, Akson seeded) in a temporary directory, the app under gunicorn
(2 sync workers, the in-process mail thread off) on SQLite. One client GETs the meeting's
form once for its session cookie and CSRF token, then POSTs registrations one at a time,
alternating (a) a single registration (no event ticked) and (b) the meeting with the
programme's three webinars ticked, each with a unique e-mail; every answer must be a 303.
Alternating one by one means both kinds meet the same background load on a shared machine.

Prints the p50 and p99 of each and the ratio of the p50s. Afterwards the database must hold,
per (a) answer, one registration and one queued confirmation, and per (b) answer four of
each, one per event. Exit status 1 when the target (the four-event p50 within 3x the single
p50, zero errors) or that check fails.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, Workspace, http, percentile  # noqa: E402

EVENT = "akson-stormote"
SERIES = ("akson-webinar-1", "akson-webinar-2", "akson-webinar-3")
TARGET = 3.0


class Client:
    """One browser: the form once, then registrations with unique e-mails."""

    def __init__(self, port: int):
        self.port = port
        status, headers, body = http(port, "GET", f"/events/{EVENT}")
        if status != 200:
            raise RuntimeError(f"GET /events/{EVENT} answered {status}")
        self.cookie = headers["set-cookie"][0].split(";", 1)[0]
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body)
        options = re.findall(rb'<option [^>]*value="(\d{4})"', body)
        self.municipalities = [m.decode() for m in options]
        offered = {s.decode() for s in re.findall(rb'name="events" value="([^"]+)"', body)}
        if token is None or not self.municipalities or not set(SERIES) <= offered:
            raise RuntimeError("the event page has no registration form with the series")
        self.token = quote_plus(token[1].decode())
        self.count = 0

    def register(self, ticked: tuple[str, ...]) -> tuple[float, str, int]:
        """POST one registration; (seconds, e-mail, status)."""
        self.count += 1
        email = f"series-{len(ticked)}-{self.count}@kommune.example"
        municipality = self.municipalities[self.count % len(self.municipalities)]
        body = (
            f"name=Bench+Ordf%C3%B8rer+{self.count}&email={quote_plus(email)}"
            f"&role=ordforer&municipality={municipality}&organisation="
            + "".join(f"&events={slug}" for slug in ticked)
            + f"&csrf_token={self.token}"
        ).encode()
        headers = {
            "Cookie": self.cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        started = time.perf_counter()
        status, _, _ = http(self.port, "POST", f"/events/{EVENT}/register", headers, body)
        return time.perf_counter() - started, email, status


def check_database(db_path: Path, answered: dict[str, tuple[str, ...]]) -> tuple[bool, str]:
    """Each answered e-mail: one registration and one queued confirmation per event posted."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        registrations = Counter(
            con.execute(
                "SELECT r.email, e.slug FROM registrations r JOIN events e ON e.id = r.event_id"
                " WHERE r.status = 'confirmed'"
            )
        )
        confirmations = Counter(
            con.execute(
                "SELECT o.recipient, e.slug FROM outbox o JOIN events e ON e.id = o.event_id"
                " JOIN registrations r ON r.id = o.registration_id AND r.event_id = e.id"
                " WHERE o.kind = 'confirmation' AND o.status = 'queued' AND o.token IS NOT NULL"
            )
        )
        all_registrations = con.execute("SELECT count(*) FROM registrations").fetchone()[0]
        all_messages = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        con.close()
    expected = Counter(
        (email, slug) for email, ticked in answered.items() for slug in (EVENT, *ticked)
    )
    ok = (
        registrations == expected
        and confirmations == expected
        and all_registrations == all_messages == len(expected)
    )
    summary = (
        f"{len(answered)} answers, {len(expected)} registrations expected; "
        f"{all_registrations} stored, {all_messages} messages queued"
    )
    return ok, summary


def main(argv: list[str] | None = None) -> int:
    """Alternate single and four-event registrations; print both p50s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed POSTs of each kind")
    parser.add_argument("--warmup", type=int, default=20, help="untimed POSTs of each kind")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("need --requests >= 1 and --warmup >= 0")

    kinds = {"single": (), "four": SERIES}
    with (
        Workspace(keep=args.keep) as workspace,
        Server(workspace.env, workers=args.workers, log_dir=workspace.dir) as server,
    ):
        print(
            f"gunicorn -w {args.workers} -k sync on 127.0.0.1:{server.port}, SQLite at "
            f"{workspace.db_path}; one client, one request at a time; {args.requests} timed "
            f"POSTs of each kind, alternating, after {args.warmup} untimed"
        )
        client = Client(server.port)
        latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
        answered: dict[str, tuple[str, ...]] = {}
        errors = Counter()
        for n in range(args.warmup + args.requests):
            for kind, ticked in kinds.items():
                seconds, email, status = client.register(ticked)
                if status != 303:
                    errors[f"{kind}: HTTP {status}"] += 1
                    continue
                answered[email] = ticked
                if n >= args.warmup:
                    latencies[kind].append(seconds)
        print()
        print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}")
        p50 = {}
        names = {"single": "(a) single registration", "four": "(b) meeting + 3 webinars ticked"}
        for kind in kinds:
            ordered = sorted(latencies[kind])
            p50[kind] = percentile(ordered, 0.50) * 1000 if ordered else float("nan")
            p99 = percentile(ordered, 0.99) * 1000 if ordered else float("nan")
            print(f"{names[kind]:34}{p50[kind]:9.1f}{p99:9.1f}{len(ordered):10d}")
        ratio = p50["four"] / p50["single"] if p50["single"] else float("inf")
        target_ok = ratio <= TARGET and not errors
        print(f"\np50 four events / p50 single: {ratio:.2f}x")
        print(
            f"target (<= {TARGET:g}x, zero errors): {'PASS' if target_ok else 'FAIL'}"
            + (f" — errors {dict(errors)}" if errors else "")
        )
        db_ok, summary = check_database(workspace.db_path, answered)
        print(
            "database check (one registration + one queued confirmation per event posted): "
            f"{'PASS' if db_ok else 'FAIL'} — {summary}"
        )
        if not (target_ok and db_ok):
            print(f"\ngunicorn log tail:\n{server.log_tail(20)}")
        return 0 if target_ok and db_ok else 1


if __name__ == "__main__":
    sys.exit(main())
