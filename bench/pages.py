"""The public pages and calendar files against /healthz, under gunicorn (2 sync workers) on SQLite.

    .venv/bin/python bench/pages.py [--seconds 5] [--rounds 5] [--concurrency 16]
    .venv/bin/python bench/pages.py --profile event   # where a page's time goes, under load

A fresh database (migrated, Akson seeded) in a temporary directory and one registration
(made through the form, its manage token read from the queued confirmation). The app runs
under gunicorn with the mail thread off and the rate limits off (one client, one address).

The load client is bench/_load.py's (shared with bench/register.py): raw HTTP/1.1, one epoll
loop, a new connection per request as wrk makes against sync workers, concurrency 16. Each
kind gets the same seconds in short alternating rounds, so a burst of load elsewhere on a
shared machine hits every kind alike:

    healthz   GET /healthz
    front     GET /                                       the programme
    event     GET /events/akson-stormote                  the meeting, with its form
    ics       GET /events/akson-stormote/calendar.ics     its public calendar file
    feed      GET /calendar.ics                           the feed of every event
    feed 304  GET /calendar.ics with If-None-Match        what a subscribed calendar's poll costs
    manage    GET /r/<token>                              a registrant's own page

Every request is a first visit (no cookie): the pages make a session and a CSRF token each
time. Each rate is printed as a share of the /healthz rate of the same run, against the
targets; exit status 1 when one is missed or any request failed.

With --profile KIND only that kind runs, and each worker runs under cProfile; the merged
profile is printed by cumulative time.
"""

from __future__ import annotations

import argparse
import pstats
import re
import sqlite3
import sys
import tempfile
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, Workspace, http  # noqa: E402
from _load import Get, Result, figures, print_figures, run_phase  # noqa: E402

EVENT = "akson-stormote"
#: Each kind's rate as a share of the /healthz rate of the same run.
TARGETS = {
    "front": 0.40,
    "event": 0.30,
    "ics": 0.50,
    "feed": 0.50,
    "feed 304": 0.70,
    "manage": 0.30,
}

#: A gunicorn config that profiles each worker and writes its profile when it exits.
PROFILE_HOOKS = """
import cProfile, os

def post_worker_init(worker):
    worker.profile = cProfile.Profile()
    worker.profile.enable()

def worker_exit(server, worker):
    worker.profile.disable()
    worker.profile.dump_stats(os.path.join({directory!r}, f"worker-{{os.getpid()}}.prof"))
"""


def prepare(port: int, db_path: Path) -> dict[str, tuple[str, int, dict]]:
    """Register one person, find their manage token and the feed's ETag: every request."""
    status, headers, body = http(port, "GET", f"/events/{EVENT}")
    if status != 200:
        raise RuntimeError(f"GET /events/{EVENT} answered {status}")
    cookie = headers["set-cookie"][0].split(";", 1)[0]
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    form = urlencode(
        {
            "name": "Kari Nordmann",
            "email": "kari@bench.example",
            "role": "ordforer",
            "municipality": "0301",
            "organisation": "",
            "csrf_token": token.decode(),
        }
    ).encode()
    status, _, _ = http(
        port,
        "POST",
        f"/events/{EVENT}/register",
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        form,
    )
    if status != 303:
        raise RuntimeError(f"the registration answered {status}")
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (manage,) = con.execute(
            "SELECT token FROM outbox WHERE kind = 'confirmation' AND token IS NOT NULL"
        ).fetchone()
    finally:
        con.close()
    status, headers, _ = http(port, "GET", "/calendar.ics")
    if status != 200 or "etag" not in headers:
        raise RuntimeError(f"GET /calendar.ics answered {status} without an ETag")
    return {
        "healthz": ("/healthz", 200, {}),
        "front": ("/", 200, {}),
        "event": (f"/events/{EVENT}", 200, {}),
        "ics": (f"/events/{EVENT}/calendar.ics", 200, {}),
        "feed": ("/calendar.ics", 200, {}),
        "feed 304": ("/calendar.ics", 304, {"If-None-Match": headers["etag"][0]}),
        "manage": (f"/r/{manage}", 200, {}),
    }


def _client(port: int, path: str, expected: int, headers: dict, _tag: str) -> Get:
    return Get(port, path, expected, headers)


def measure(server: Server, kinds: dict, args) -> dict[str, Result]:
    """Warm each kind up, then run them in alternating rounds; the totals per kind."""
    makers = {
        kind: partial(_client, server.port, path, expected, headers)
        for kind, (path, expected, headers) in kinds.items()
    }
    for kind, make in makers.items():
        if args.warmup:
            warm = run_phase(server.port, make, "w", args.warmup, args.concurrency, 1)
            if warm.errors:
                print(f"warm-up {kind}: {dict(warm.errors)}; {warm.error_samples[:1]}")
    totals = {kind: Result() for kind in kinds}
    for round_ in range(args.rounds):
        for kind, make in makers.items():
            result = run_phase(
                server.port,
                make,
                f"r{round_}-",
                args.seconds / args.rounds,
                args.concurrency,
                1,
                server_cpu=server.cpu_seconds,
            )
            totals[kind].add(result, parallel=False)
    return totals


def report(totals: dict[str, Result]) -> bool:
    """Print the figures and each share of /healthz against its target; True when all pass."""
    rows = {kind: figures(kind, result) for kind, result in totals.items()}
    for kind, result in totals.items():
        for sample in result.error_samples:
            print(f"  error in {kind}: {sample}")
    print()
    print_figures(list(rows.values()))
    healthz, healthz_cpu = rows["healthz"].rate, rows["healthz"].server_cpu_ms
    # The rate decides. The CPU column (/healthz's server CPU per request over the kind's)
    # says the same where the server had the cores to itself, and shows what a busy shared
    # machine took from one kind's rounds more than from another's.
    print(f"\n{'share of /healthz':24}{'share':>9}{'target':>9}{'':6}{'by CPU':>9}")
    ok = all(row.errors == 0 for row in rows.values())
    for kind, target in TARGETS.items():
        if kind not in rows:
            continue
        share = rows[kind].rate / healthz if healthz else 0.0
        by_cpu = healthz_cpu / rows[kind].server_cpu_ms if rows[kind].server_cpu_ms else 0.0
        passed = share >= target
        ok &= passed
        verdict = "PASS" if passed else "FAIL"
        print(f"{kind:24}{share:9.1%}{target:9.0%}  {verdict}{by_cpu:9.1%}")
    errors = sum(row.errors for row in rows.values())
    print(f"\ntargets: {'PASS' if ok else 'FAIL'} ({errors} errors)")
    return ok


def profile(workspace: Workspace, kind: str, args) -> None:
    """Run one kind under load with every worker profiled; print the merged profile."""
    directory = Path(tempfile.mkdtemp(prefix="profile-", dir=workspace.dir))
    config = directory / "gunicorn_profile.py"
    config.write_text(PROFILE_HOOKS.format(directory=str(directory)))
    with Server(
        workspace.env, workers=args.workers, log_dir=workspace.dir, extra_args=("-c", str(config))
    ) as server:
        kinds = prepare(server.port, workspace.db_path)
        path, expected, headers = kinds[kind]
        make = partial(_client, server.port, path, expected, headers)
        result = run_phase(server.port, make, "p", args.seconds, args.concurrency, 1)
        print(f"{kind}: {len(result.latencies)} requests, {sum(result.errors.values())} errors")
    files = sorted(directory.glob("worker-*.prof"))
    if not files:
        print("no profile was written (did the workers exit cleanly?)")
        return
    stats = pstats.Stats(*map(str, files))
    stats.strip_dirs().sort_stats("cumulative").print_stats(args.profile_lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every kind, print the figures and the shares; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="timed seconds per kind")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--warmup", type=float, default=1, help="untimed seconds per kind")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--profile", metavar="KIND", help="profile one kind under load")
    parser.add_argument("--profile-lines", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rounds < 1 or args.warmup < 0:
        parser.error("need --seconds > 0, --rounds >= 1, --warmup >= 0")

    with Workspace(keep=args.keep) as workspace:
        if args.profile:
            profile(workspace, args.profile, args)
            return 0
        with Server(workspace.env, workers=args.workers, log_dir=workspace.dir) as server:
            kinds = prepare(server.port, workspace.db_path)
            print(
                f"gunicorn -w {args.workers} -k sync on 127.0.0.1:{server.port}, SQLite; "
                f"concurrency {args.concurrency}; {args.seconds:g} s of each kind in "
                f"{args.rounds} alternating rounds after {args.warmup:g} s warm-up; "
                "load client: bench/_load.py (raw HTTP/1.1, epoll, one process)"
            )
            ok = report(measure(server, kinds, args))
            if not ok:
                print(f"\ngunicorn log tail:\n{server.log_tail(10)}")
            return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
