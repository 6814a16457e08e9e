"""The campaign page, its map and the call list, against /healthz, under gunicorn on SQLite.

    .venv/bin/python bench/campaign.py [--registrations 100000] [--rounds 60] [--runs 3] [--keep]

A fresh database (migrated, Akson seeded) gets, inserted in bulk with SQLAlchemy Core:
REGISTRATIONS registrations across the four events of the Akson programme (the meeting
half of them, the webinars a sixth each), spread over the 292 eligible municipalities and
three weeks; 3,000 contacts, every one invited to the meeting; a participant report for
webinar 1 (two in three of its registrants attended); and accepted declarations for 150
municipalities. The app runs under gunicorn with one sync worker and the mail thread off;
the benchmark logs in as an organiser.

Each run sends, one request at a time, ROUNDS rounds of: GET /healthz, the campaign page
/organiser/programmes/akson, /organiser/programmes/akson/map.svg and
/organiser/programmes/akson/calls.csv (interleaved, so a burst of load elsewhere on the
machine hits every path alike). It prints p50 and p99 of each path and each page's p50 as
a multiple of the /healthz p50 measured in the same run, and the worker's peak resident
memory while serving the campaign page above its idle size (logged in, before any campaign
page: the first page's one-time costs, such as the projected outlines, count), with VmHWM
reset before each page and VmRSS sampled every 10 ms.

Exit status 1 when a target is missed: the campaign page and the map within 50x /healthz,
calls.csv within 20x, the page's memory above idle under 30 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (  # noqa: E402
    Sampler,
    Server,
    Workspace,
    http,
    login,
    percentile,
    reset_peak,
    status_kb,
)

EMAIL = "bench@organiser.test"
PASSWORD = "bench-password-long-enough"
PROGRAMME = "akson"
PATHS = {
    "healthz": "/healthz",
    "page": f"/organiser/programmes/{PROGRAMME}",
    "map": f"/organiser/programmes/{PROGRAMME}/map.svg",
    "calls.csv": f"/organiser/programmes/{PROGRAMME}/calls.csv",
}
TARGETS = {"page": 50.0, "map": 50.0, "calls.csv": 20.0}
TARGET_MB = 30.0
OSLO = ZoneInfo("Europe/Oslo")
ROLES = ["ordforer", "varaordforer", "kommunedirektor", "kommunalsjef", "nokkelperson"]


# --- the database ---------------------------------------------------------------------------


def fill(db_path: Path, registrations: int) -> dict[str, int]:
    """Registrations, contacts, invitations, a participant report and declarations."""
    from sqlalchemy import create_engine, func, insert, select, update
    from werkzeug.security import generate_password_hash

    from webinars.models import (
        AttendanceReport,
        Contact,
        Declaration,
        Event,
        Invitation,
        Municipality,
        Organiser,
        Programme,
        Registration,
        RegistrationCount,
    )

    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        programme_id = conn.scalar(select(Programme.id).where(Programme.slug == PROGRAMME))
        events = conn.scalars(
            select(Event.id).where(Event.programme_id == programme_id).order_by(Event.starts_at)
        ).all()
        numbers = conn.scalars(
            select(Municipality.number)
            .where(Municipality.health_region != "Midt-Norge", Municipality.active)
            .order_by(Municipality.number)
        ).all()
        if len(numbers) != 292 or len(events) != 4:
            raise RuntimeError(f"expected 292 municipalities and 4 events: {numbers}, {events}")
        conn.execute(
            insert(Organiser).values(email=EMAIL, password_hash=generate_password_hash(PASSWORD))
        )
        # The three weeks before today (the seeded meeting is two weeks ahead).
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(weeks=3)
        step = timedelta(weeks=3) / registrations
        per_day: dict[tuple[int, date], int] = {}
        # The meeting gets half, each webinar a sixth.
        shares = [events[0]] * 3 + [events[1], events[2], events[3]]
        batch = []
        for i in range(registrations):
            at = start + step * i
            batch.append(
                {
                    "event_id": shares[i % 6],
                    "name": f"Deltaker {i}",
                    "email": f"deltaker{i}@kommune{i % 292}.no",
                    "role": ROLES[i % len(ROLES)],
                    "municipality_number": numbers[(i * 7) % 292],
                    "organisation": "",
                    "token_hash": hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                    "status": "cancelled" if i % 50 == 0 else "confirmed",
                    "locale": "nb",
                    "ical_sequence": 0,
                    # Two in three of webinar 1's registrants attended.
                    "attended_minutes": 45 if shares[i % 6] == events[1] and (i // 6) % 3 else None,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            day = (shares[i % 6], at.astimezone(OSLO).date())
            per_day[day] = per_day.get(day, 0) + 1
            if len(batch) == 10_000:
                conn.execute(insert(Registration), batch)
                batch = []
        if batch:
            conn.execute(insert(Registration), batch)
        # What each registration made through the app counts as it is made.
        conn.execute(
            insert(RegistrationCount),
            [{"event_id": e, "day": d, "count": n} for (e, d), n in per_day.items()],
        )
        for event_id in events:
            confirmed = conn.scalar(
                select(func.count()).where(
                    Registration.event_id == event_id, Registration.status == "confirmed"
                )
            )
            conn.execute(update(Event).where(Event.id == event_id).values(seats_taken=confirmed))
        now = datetime.now(UTC)
        conn.execute(
            insert(Contact),
            [
                {
                    "municipality_number": numbers[n % 292],
                    "name": f"Kontakt {n}",
                    "role": ROLES[n % len(ROLES)],
                    "email": f"kontakt{n}@kommune{n % 292}.no",
                    "source": "imported",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(3000)
            ],
        )
        contact_ids = conn.scalars(select(Contact.id)).all()
        conn.execute(
            insert(Invitation),
            [{"event_id": events[0], "contact_id": c, "invited_at": now} for c in contact_ids],
        )
        conn.execute(
            insert(AttendanceReport).values(
                event_id=events[1],
                source="zoom",
                filename="zoom.csv",
                attendees=11_000,
                matched=10_900,
                unmatched="[]",
                loaded_by=EMAIL,
                loaded_at=now,
            )
        )
        conn.execute(
            insert(Declaration),
            [
                {
                    "programme_id": programme_id,
                    "municipality_number": numbers[(n * 37) % 292],  # 150 distinct ones
                    "status": "accepted",
                    "signed_on": date.today() - timedelta(days=n % 20),
                    "signed_by_name": f"Ordfører {n}",
                    "source": "file",
                    "recorded_by": EMAIL,
                    "recorded_at": now,
                }
                for n in range(150)
            ],
        )
        counts = {
            "registrations": conn.scalar(select(func.count(Registration.id))),
            "contacts": conn.scalar(select(func.count(Contact.id))),
            "invitations": conn.scalar(select(func.count(Invitation.id))),
            "attended": conn.scalar(
                select(func.count(Registration.id)).where(
                    Registration.attended_minutes.is_not(None)
                )
            ),
            "declarations": conn.scalar(select(func.count(Declaration.id))),
        }
    engine.dispose()
    return counts


# --- one run --------------------------------------------------------------------------------


def get(port: int, path: str, cookie: str) -> tuple[float, bytes]:
    """One request on a new connection: seconds to the last byte, and the body."""
    started = time.perf_counter()
    status, _headers, body = http(port, "GET", path, {"Cookie": cookie})
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    return elapsed, body


def check(bodies: dict[str, bytes]) -> None:
    """The pages answered what they should (and not an error page of the right size)."""
    assert bodies["page"].count(b"data-municipality=") == 356, "the page's map"
    assert b"Hvem ringer vi n" in bodies["page"], "the call list"
    assert bodies["map"].count(b"data-municipality=") == 356, "the map"
    lines = bodies["calls.csv"].decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 292 - 150, f"calls.csv has {len(lines) - 1} rows"


def run(port: int, worker: int, cookie: str, rounds: int, idle_kb: int) -> dict:
    """ROUNDS interleaved rounds of the four paths; times in ms and the page's memory."""
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    peak_mb = 0.0
    bodies = {}
    for _round in range(rounds):
        for name, path in PATHS.items():
            if name == "page":
                reset_peak(worker)
                with Sampler(worker) as sampler:
                    seconds, bodies[name] = get(port, path, cookie)
                peak_kb = max(sampler.peak_kb, status_kb(worker, "VmHWM"))
                peak_mb = max(peak_mb, (peak_kb - idle_kb) / 1024)
            else:
                seconds, bodies[name] = get(port, path, cookie)
            times[name].append(seconds * 1000)
    check(bodies)
    figures = {}
    for name, values in times.items():
        values.sort()
        figures[name] = {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99)}
    return {"times": figures, "mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    runs = []
    with Workspace(keep=args.keep) as work:
        started = time.perf_counter()
        counts = fill(work.db_path, args.registrations)
        print(
            f"filled in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{n:,} {what}" for what, n in counts.items())
        )
        with Server(work.env, workers=1, log_dir=work.dir) as server:
            [worker] = server.worker_pids()
            cookie = login(server.port, EMAIL, PASSWORD)
            get(server.port, PATHS["healthz"], cookie)
            # Idle: logged in, before any campaign page. The first page pays for what is kept
            # afterwards (the projected outlines, compiled templates): measured on its own.
            idle_kb = status_kb(worker, "VmRSS")
            reset_peak(worker)
            with Sampler(worker) as sampler:
                get(server.port, PATHS["page"], cookie)
            first_mb = (max(sampler.peak_kb, status_kb(worker, "VmHWM")) - idle_kb) / 1024
            for path in PATHS.values():  # the rest of the warm-up
                get(server.port, path, cookie)
            for _ in range(args.runs):
                runs.append(run(server.port, worker, cookie, args.rounds, idle_kb))

    print(
        f"\n{args.rounds} sequential requests per path and run, gunicorn 1 sync worker, SQLite; "
        f"worker idle {idle_kb / 1024:.1f} MB; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    ok = True
    for number, result in enumerate(runs, 1):
        base = result["times"]["healthz"]["p50"]
        parts = []
        for name, figures in result["times"].items():
            text = f"{name} p50 {figures['p50']:.1f} ms p99 {figures['p99']:.1f} ms"
            if name in TARGETS:
                ratio = figures["p50"] / base
                text += f" ({ratio:.1f}x)"
            parts.append(text)
        print(f"run {number}: " + "; ".join(parts) + f"; page +{result['mb']:.1f} MB")
    for name, target in TARGETS.items():
        ratios = [r["times"][name]["p50"] / r["times"]["healthz"]["p50"] for r in runs]
        median = statistics.median(ratios)
        print(f"{name:9} p50 / healthz p50: median {median:.1f}x (target <= {target:.0f}x)")
        ok &= median <= target
    worst = max([first_mb, *(r["mb"] for r in runs)])
    print(
        f"page memory above idle: first request +{first_mb:.1f} MB, at most {worst:.1f} MB "
        f"in all (target < {TARGET_MB:.0f} MB)"
    )
    ok &= worst < TARGET_MB
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
