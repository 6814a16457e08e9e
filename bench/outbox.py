"""Delivering 1,000 confirmations with `flask mail send` against a baseline of plain smtplib.

    .venv/bin/python bench/outbox.py [--messages 1000] [--runs 3]

A fresh SQLite database (migrated, Akson seeded) gets 1,000 registrations, each with its
queued confirmation, once; every run starts from a copy of it. The mail goes to a local
aiosmtpd server in a process of its own, which counts what it receives.

(a) Baseline, in the same run: 1,000 already-built messages of the same size (the bytes
of one real confirmation, each with its own Message-ID) over one reused smtplib connection.
(b) `flask --app wsgi mail send` (a new process: start-up included) with the service's
settings: the claim renewed before each message, MAIL_TIMEOUT in force.

Each run measures both; the figures are medians of the runs. Afterwards the server must
have received every message exactly once (by Message-ID) and the outbox must say *sent* for
each. Exit status 1 when the target (b at most 3x a) or that check fails.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import resource
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BIN, ROOT, Workspace, free_port  # noqa: E402

TARGET = 3.0
EVENT = "akson-stormote"


# --- the SMTP server, in a process of its own -------------------------------------------------


def _serve(port: int, commands) -> None:
    """aiosmtpd on loopback; answers "report" with the Message-IDs received, "reset", "stop"."""
    from aiosmtpd.controller import Controller  # noqa: PLC0415 (only in the server process)

    received: list[str] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            found = re.search(rb"^Message-ID: *(\S+)", envelope.content, re.M | re.I)
            received.append(found[1].decode() if found else "")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    commands.send("ready")
    while True:
        command = commands.recv()
        if command == "report":
            commands.send(list(received))
        elif command == "reset":
            received.clear()
            commands.send("ok")
        else:
            controller.stop()
            commands.send("stopped")
            return


class SMTPServer:
    def __init__(self):
        self.port = free_port()
        self.pipe, child = multiprocessing.get_context("fork").Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(self.port, child), daemon=True
        )
        self.process.start()
        if self.pipe.recv() != "ready":
            raise RuntimeError("the SMTP server did not start")

    def ask(self, command: str):
        self.pipe.send(command)
        return self.pipe.recv()

    def close(self) -> None:
        self.ask("stop")
        self.process.join(10)


# --- the workspace ----------------------------------------------------------------------------


def queue_confirmations(workspace: Workspace, count: int) -> bytes:
    """Register `count` people (their confirmations queued); returns one composed message."""
    os.environ.update(workspace.env)
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select  # noqa: PLC0415 (the app's settings come from the env above)

    from webinars import create_app, registrations  # noqa: PLC0415
    from webinars.extensions import db  # noqa: PLC0415
    from webinars.mail.messages import compose_bytes  # noqa: PLC0415
    from webinars.models import Event, Municipality, OutboxMessage  # noqa: PLC0415

    app = create_app()
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == EVENT))
        numbers = [
            m.number
            for m in db.session.scalars(select(Municipality).where(Municipality.active))
            if registrations.eligible(event, m)
        ]
        for n in range(count):
            registrations.register(
                event,
                name=f"Ordfører Nummer {n}",
                email=f"ordforer-{n}@kommune{n % 300}.example",
                role="ordforer",
                municipality=numbers[n % len(numbers)],
            )
        sample = compose_bytes(db.session.scalars(select(OutboxMessage).limit(1)).one())
        db.engine.dispose()
    return sample


def baseline_messages(sample: bytes, count: int) -> list[bytes]:
    """`count` copies of one real message, each with its own Message-ID (same size)."""
    head, _, _ = sample.partition(b"\r\n\r\n")
    old = re.search(rb"^Message-ID: *(\S+)", head, re.M | re.I)[1]
    messages = []
    for n in range(count):
        new = (b"<%d.baseline@bench" % n).ljust(len(old) - 1, b"x") + b">"
        messages.append(sample.replace(old, new, 1))
    return messages


def run_baseline(port: int, messages: list[bytes]) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for data in messages:
            smtp.sendmail("noreply@localhost", ["ordforer@kommune.example"], data)
    return time.perf_counter() - started


def run_service(env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the process, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "mail", "send"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"flask mail send failed:\n{done.stdout}{done.stderr}")
    return seconds, cpu, done.stdout.strip()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy, write-ahead log included (SQLite's backup API)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def outbox_states(db_path: Path) -> Counter:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return Counter(status for (status,) in con.execute("SELECT status FROM outbox"))
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Queue once, then baseline and service in each run; print medians and the checks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases")
    args = parser.parse_args(argv)

    server = SMTPServer()
    try:
        with Workspace(keep=args.keep) as workspace:
            sample = queue_confirmations(workspace, args.messages)
            baseline = baseline_messages(sample, args.messages)
            print(
                f"{args.messages} confirmations queued in {workspace.db_path}; one message is "
                f"{len(sample):,} bytes; aiosmtpd on 127.0.0.1:{server.port}"
            )
            rows, ok = [], True
            for run in range(1, args.runs + 1):
                server.ask("reset")
                base = run_baseline(server.port, baseline)
                got = server.ask("report")
                if len(got) != args.messages or len(set(got)) != args.messages:
                    print(f"run {run}: baseline delivered {len(got)} ({len(set(got))} distinct)")
                    ok = False

                copy = workspace.dir / f"run-{run}.sqlite"
                copy_database(workspace.db_path, copy)
                env = {
                    **workspace.env,
                    "DATABASE_URL": f"sqlite:///{copy}",
                    "MAIL_SERVER": "127.0.0.1",
                    "MAIL_PORT": str(server.port),
                }
                server.ask("reset")
                service, cpu, said = run_service(env)
                got = Counter(server.ask("report"))
                states = outbox_states(copy)
                exactly_once = len(got) == args.messages and set(got.values()) == {1}
                all_sent = states == Counter({"sent": args.messages})
                ok = ok and exactly_once and all_sent
                rows.append((base, service))
                print(
                    f"run {run}: baseline {base:6.2f} s   flask mail send {service:6.2f} s "
                    f"(CPU {cpu:.2f} s)   ratio {service / base:4.2f}x   ({said}; server received "
                    f"{sum(got.values())}, {len(got)} distinct; outbox {dict(states)})"
                )
    finally:
        server.close()

    base = statistics.median(r[0] for r in rows)
    service = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[1] / r[0] for r in rows)
    print(
        f"\nmedian of {args.runs}: baseline {base:.2f} s, flask mail send {service:.2f} s, "
        f"ratio {ratio:.2f}x (target <= {TARGET:g}x): {'PASS' if ratio <= TARGET else 'FAIL'}"
    )
    print(f"every message delivered exactly once and marked sent: {'PASS' if ok else 'FAIL'}")
    return 0 if ok and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
