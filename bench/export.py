"""Participant exports of 100,000 registrations through HTTP, under gunicorn on SQLite.

    .venv/bin/python bench/export.py [--rows 100000] [--runs 3] [--keep]

A fresh database (migrated, Akson seeded) in a temporary directory gets ROWS registrations
for the Akson meeting, spread over the 292 municipalities outside Midt-Norge, inserted in
bulk with SQLAlchemy Core. The app runs under gunicorn with one sync worker and the mail
thread off; the benchmark logs in as an organiser through /organiser/login and downloads
/organiser/events/akson-stormote/participants.csv and .xlsx, RUNS times each.

Per download: the wall time from sending the request to the last byte, and the serving
worker's peak resident memory above its idle size. Idle is the worker's VmRSS after a
warm-up (login and one small export of each kind, so imports and first-use caches are
paid). Before each download the worker's peak (VmHWM) is reset through
/proc/<pid>/clear_refs, and VmRSS is also sampled every 10 ms while the download runs; the
higher of the two counts. Medians are printed with the spread.

For comparison on a noisy machine, the same run measures in-process baselines in a forked
child: the same rows streamed with Core straight to a CSV file, and straight into
XlsxWriter in constant-memory mode, with no HTTP, labels or neutralising.

Exit status 1 when a target is missed (CSV <= 1.5 s, XLSX <= 6 s, <= 50 MB above idle) or
a download is incomplete.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import statistics
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (  # noqa: E402
    Sampler,
    Server,
    Workspace,
    cpu_seconds,
    login,
    reset_peak,
    status_kb,
)

EVENT = "akson-stormote"
EMAIL = "bench@organiser.test"
PASSWORD = "bench-password-long-enough"
TARGETS = {"csv": 1.5, "xlsx": 6.0}
TARGET_MB = 50.0
MB = 1024 * 1024
OSLO = ZoneInfo("Europe/Oslo")

FIRST = ["Kari", "Ola", "Åse", "Øystein", "Ærling", "Ingrid", "Per", "Sigrun", "Bjørn", "Siv"]
LAST = ["Nordmann", "Bærheim", "Søreide", "Haugen", "Østby", "Dahl", "Strøm", "Vik"]
ROLES = ["ordforer", "varaordforer", "kommunedirektor", "kommunalsjef", "nokkelperson"]


# --- the database ---------------------------------------------------------------------------


def fill(db_path: Path, rows: int) -> int:
    """Insert `rows` registrations for the Akson meeting and an organiser; returns their count."""
    from sqlalchemy import create_engine, func, insert, select, update
    from werkzeug.security import generate_password_hash

    from webinars.models import Event, Municipality, Organiser, Registration

    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        event_id = conn.scalar(select(Event.id).where(Event.slug == EVENT))
        numbers = conn.scalars(
            select(Municipality.number)
            .where(Municipality.health_region != "Midt-Norge", Municipality.active)
            .order_by(Municipality.number)
        ).all()
        if len(numbers) != 292:
            raise RuntimeError(f"expected 292 eligible municipalities, found {len(numbers)}")
        conn.execute(
            insert(Organiser).values(email=EMAIL, password_hash=generate_password_hash(PASSWORD))
        )
        start = datetime(2020, 4, 20, 6, 0, tzinfo=UTC)
        batch = []
        for i in range(rows):
            name = f"{FIRST[i % len(FIRST)]} {LAST[(i // 10) % len(LAST)]} {i}"
            organisation = f"{numbers[i % 292]} kommune, helse og omsorg"
            if i % 1000 == 7:
                name = f'=HYPERLINK("http://evil.test/{i}","klikk")'  # must be neutralised
            if i % 1000 == 8:
                organisation = "+47 900 00 000"  # must be kept
            batch.append(
                {
                    "event_id": event_id,
                    "name": name,
                    "email": f"deltaker{i}@kommune{i % 292}.no",
                    "role": ROLES[i % len(ROLES)],
                    "municipality_number": numbers[i % 292],
                    "organisation": organisation,
                    "status": "cancelled" if i % 50 == 0 else "confirmed",
                    "locale": "nb",
                    "ical_sequence": 0,
                    "created_at": start + timedelta(seconds=7 * i),
                    "updated_at": start + timedelta(seconds=7 * i),
                }
            )
            if len(batch) == 10_000:
                conn.execute(insert(Registration), batch)
                batch = []
        if batch:
            conn.execute(insert(Registration), batch)
        confirmed = conn.scalar(
            select(func.count()).where(
                Registration.event_id == event_id, Registration.status == "confirmed"
            )
        )
        conn.execute(update(Event).where(Event.id == event_id).values(seats_taken=confirmed))
        total = conn.scalar(select(func.count()).where(Registration.event_id == event_id))
    engine.dispose()
    return total


# --- HTTP -----------------------------------------------------------------------------------


def download(port: int, path: str, cookie: str, keep: Path | None = None) -> tuple[float, int]:
    """GET `path`, reading the body in 64 KiB blocks; (seconds to the last byte, bytes)."""
    conn = HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    size = 0
    out = open(keep, "wb") if keep else None  # noqa: SIM115
    try:
        while block := response.read(65536):
            size += len(block)
            if out:
                out.write(block)
    finally:
        if out:
            out.close()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, size


def check_csv(path: Path, rows: int) -> None:
    with open(path, encoding="utf-8", newline="") as f:
        assert f.read(1) == "\ufeff", "no BOM"
        records = list(csv.reader(f))
    assert len(records) == rows + 1, f"CSV has {len(records) - 1} rows, not {rows}"
    assert records[8][0].startswith("'=HYPERLINK"), records[8][0]
    assert records[9][6] == "+47 900 00 000", records[9][6]


def check_xlsx(path: Path, rows: int) -> None:
    with zipfile.ZipFile(path) as archive, archive.open("xl/worksheets/sheet1.xml") as sheet:
        head = sheet.read(4096).decode()
    assert f'<dimension ref="A1:M{rows + 1}"/>' in head, head[:400]


# --- baselines (no HTTP, no labels, no neutralising) -------------------------------------------


def _baseline(kind: str, db_path: str, out_path: str, pipe) -> None:
    from sqlalchemy import create_engine, select

    from webinars.models import Event
    from webinars.participants import Filters, export_select

    reset_peak(os.getpid())
    idle = status_kb(os.getpid(), "VmRSS")
    engine = create_engine(f"sqlite:///{db_path}")
    started, cpu = time.perf_counter(), time.process_time()
    with engine.connect() as conn:
        event_id = conn.scalar(select(Event.id).where(Event.slug == EVENT))
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            export_select(event_id, Filters(), "sqlite")
        )
        if kind == "csv":
            with open(out_path, "w", encoding="utf-8-sig", newline="") as f:
                writer = csv.writer(f)
                for row in result:
                    writer.writerow((*row[:8], row[8].astimezone(OSLO).strftime("%Y-%m-%d %H:%M")))
        else:
            import xlsxwriter

            workbook = xlsxwriter.Workbook(out_path, {"constant_memory": True})
            sheet = workbook.add_worksheet()
            stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
            for r, row in enumerate(result, 1):
                for c in range(8):
                    if row[c]:
                        sheet.write_string(r, c, row[c])
                sheet.write_datetime(r, 8, row[8].astimezone(OSLO).replace(tzinfo=None), stamp)
            workbook.close()
    pipe.send(
        {
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "mb": (status_kb(os.getpid(), "VmHWM") - idle) / 1024,
        }
    )


def baseline(kind: str, db_path: Path, workdir: Path) -> dict[str, float]:
    """Wall and CPU seconds and MB above the child's idle size for one baseline run."""
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_baseline, args=(kind, str(db_path), str(workdir / f"baseline.{kind}"), send)
    )
    child.start()
    result = receive.recv()
    child.join()
    return result


# --- the run ----------------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f}  ({min(values):.2f}-{max(values):.2f})"


def measure_download(
    port: int, worker: int, path: str, cookie: str, idle_kb: int, keep: Path | None
) -> dict[str, float]:
    """One download: wall seconds, the worker's CPU seconds, MB above idle at the peak."""
    reset_peak(worker)
    cpu = cpu_seconds(worker)
    with Sampler(worker) as sampler:
        seconds, size = download(port, path, cookie, keep=keep)
    peak_kb = max(sampler.peak_kb, status_kb(worker, "VmHWM"))
    return {
        "seconds": seconds,
        "cpu": cpu_seconds(worker) - cpu,
        "mb": (peak_kb - idle_kb) / 1024,
        "size": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("at least 3 runs")

    kinds = ("csv", "xlsx")
    http_runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    base_runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    with Workspace(keep=args.keep) as work:
        started = time.perf_counter()
        total = fill(work.db_path, args.rows)
        print(f"filled {total:,} registrations in {time.perf_counter() - started:.1f} s")
        out = work.dir / "download"
        with Server(work.env, workers=1, log_dir=work.dir) as server:
            [worker] = server.worker_pids()
            cookie = login(server.port, EMAIL, PASSWORD)
            base = f"/organiser/events/{EVENT}/participants"
            # Warm-up: the code paths of both exports, on a handful of rows.
            for suffix in (".csv?q=999", ".xlsx?q=999"):
                download(server.port, base + suffix, cookie)
            idle_kb = status_kb(worker, "VmRSS")
            if not reset_peak(worker):
                print("note: VmHWM cannot be reset here; peaks come from sampling only")
            # Interleaved, so a burst of load elsewhere on the machine hits both alike.
            for run in range(args.runs):
                for kind in kinds:
                    base_runs[kind].append(baseline(kind, work.db_path, work.dir))
                    result = measure_download(
                        server.port,
                        worker,
                        f"{base}.{kind}",
                        cookie,
                        idle_kb,
                        out if run == 0 else None,
                    )
                    http_runs[kind].append(result)
                    if run == 0:
                        (check_csv if kind == "csv" else check_xlsx)(out, total)
                        print(f"{kind}: {result['size'] / MB:.1f} MB, {total:,} rows, checked")

    print()
    print(
        f"{total:,} registrations, {args.runs} runs each (median, range), "
        "gunicorn 1 sync worker, SQLite"
    )
    print(
        f"worker idle size {idle_kb / 1024:.1f} MB; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    ok = True
    for kind in kinds:
        name = kind.upper()
        runs, bases = http_runs[kind], base_runs[kind]
        seconds = [r["seconds"] for r in runs]
        above = [r["mb"] for r in runs]
        ratios = [r["seconds"] / b["seconds"] for r, b in zip(runs, bases, strict=True)]
        print(f"{name} over HTTP, wall s      {summary(seconds)}   target <= {TARGETS[kind]}")
        print(f"{name} worker CPU s          {summary([r['cpu'] for r in runs])}")
        print(f"{name} worker MB above idle  {summary(above)}   target <= {TARGET_MB:.0f}")
        print(
            f"  baseline wall s          {summary([b['seconds'] for b in bases])}   "
            "(Core -> file in-process)"
        )
        print(f"  baseline CPU s           {summary([b['cpu'] for b in bases])}")
        print(f"  baseline MB above idle   {summary([b['mb'] for b in bases])}")
        print(f"  HTTP / baseline wall     {summary(ratios)}")
        ok &= statistics.median(seconds) <= TARGETS[kind]
        ok &= max(above) <= TARGET_MB
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
