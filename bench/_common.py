"""Shared pieces for the benchmarks: a fresh database, a gunicorn server, /proc figures.

Linux only (process figures come from /proc). Everything runs on loopback.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
# The venv's own bin directory (not resolved: the python there is a symlink).
BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides: str) -> dict[str, str]:
    """The environment for the app: no mail server, no delivery thread, no rate limits, a
    fixed secret."""
    env = dict(os.environ)
    for name in ("MAIL_SERVER", "FLASK_APP", "FLASK_DEBUG"):
        env.pop(name, None)
    env.update(
        SECRET_KEY="bench-secret-key-not-for-production",
        MAIL_DELIVERY_THREAD="0",
        # One load client posts from one address: the per-client limits would stop it.
        RATELIMIT_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def flask(env: dict[str, str], *args: str) -> str:
    """Run `flask --app wsgi ARGS` in the checkout; raise with its output when it fails."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


class Workspace:
    """A temporary directory holding a fresh SQLite database (migrated, Akson seeded)."""

    def __init__(self, keep: bool = False, seed: bool = True):
        self.dir = Path(tempfile.mkdtemp(prefix="webinars-bench-"))
        self.keep = keep
        self.db_path = self.dir / "bench.sqlite"
        self.env = base_env(DATABASE_URL=f"sqlite:///{self.db_path}")
        flask(self.env, "db", "upgrade")
        if seed:
            flask(self.env, "seed", "akson")

    def close(self) -> None:
        if self.keep:
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; everything after ") " is fixed.
    return data[data.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """Direct children of a process (scans /proc, works without CONFIG_PROC_CHILDREN)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # After the name: state(0) ppid(1) ... utime(11) stime(12).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of a process now."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except OSError:
        return 0


def peak_rss_bytes(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process so far."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def http(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 30,
) -> tuple[int, dict[str, list[str]], bytes]:
    """One blocking HTTP/1.1 request on loopback: (status, headers by lower name, body)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, list[str]] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.setdefault(name.strip().lower(), []).append(value.strip())
    return int(status_line.split()[1]), parsed, payload


class Server:
    """The app under gunicorn on a free loopback port; stopped on exit."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 2,
        worker_class: str = "sync",
        log_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.port = free_port()
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"gunicorn-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (open while the server runs)
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-w",
                str(workers),
                "-k",
                worker_class,
                "-b",
                f"127.0.0.1:{self.port}",
                *extra_args,
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.workers = workers
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until /healthz answers 200 and every worker has started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                status, _, _ = http(self.port, "GET", "/healthz", timeout=2)
            except OSError:
                status = 0
            if status == 200 and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def pids(self) -> list[int]:
        return [self.process.pid, *self.worker_pids()]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss_bytes(self) -> int:
        """Resident memory of the master and its workers now."""
        return sum(rss_bytes(pid) for pid in self.pids())

    def peak_rss_bytes(self) -> int:
        """Sum of each process's peak resident memory."""
        return sum(peak_rss_bytes(pid) for pid in self.pids())

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, own processes); False when refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler:
    """Samples a process's VmRSS every few milliseconds in a thread; keeps the highest."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def login(port: int, email: str, password: str) -> str:
    """Log in through /organiser/login; returns the session cookie ("session=…")."""
    status, headers, body = http(port, "GET", "/organiser/login")
    if status != 200:
        raise RuntimeError(f"GET /organiser/login answered {status}")
    cookie = headers["set-cookie"][0].split(";", 1)[0]
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body).group(1).decode()
    form = urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    status, headers, _ = http(
        port,
        "POST",
        "/organiser/login",
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        form,
    )
    if status != 303 or "set-cookie" not in headers:
        raise RuntimeError(f"login failed: {status}")
    return headers["set-cookie"][0].split(";", 1)[0]
