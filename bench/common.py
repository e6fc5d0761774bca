"""Shared helpers for the benchmarks: machine facts, markdown tables, RESULTS.md, PostgreSQL
schemas, server processes. Benchmarks are measurements, not tests: nothing here asserts."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = BENCH / "RESULTS.md"
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# The project root goes first and bench/ last: run as a script, bench/ is sys.path[0], and
# bench/ledger.py would otherwise shadow the project's `ledger` package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p != str(ROOT) and Path(p or ".").resolve() != BENCH] + [str(BENCH)]


# -- facts about the run -------------------------------------------------------------------


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        # bench/RESULTS.md is written by the benchmarks themselves: it does not make the measured code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/RESULTS.md"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pg_version() -> str:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_BASE, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        return str(version)
    except Exception as exc:  # noqa: BLE001 - a fact for the report, not a requirement
        return f"unreachable ({type(exc).__name__})"


START_REV = git_rev()


def machine() -> list[tuple[str, str]]:
    end = git_rev()
    return [
        ("git", START_REV if end == START_REV else f"{START_REV} at start, {end} at the end (the tree changed during the run: see the per-run git column)"),
        ("nproc", str(os.cpu_count())),
        ("CPU", cpu_model()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL server", pg_version()),
        ("load average at report", load_average()),
    ]


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (all cores, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_by_pid() -> dict[int, float]:
    """User + system CPU seconds of each live PostgreSQL server process (from /proc; all sessions)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")] in ("postgres", "postmaster"):
                fields = text.rsplit(")", 1)[1].split()
                found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            pass
    return found


def postgres_cpu_seconds() -> float:
    """User + system CPU of every live PostgreSQL server process (read from /proc; all sessions)."""
    return sum(postgres_cpu_by_pid().values())


class PostgresCpu(threading.Thread):
    """PostgreSQL's CPU over a stretch of time, including backends that exit before it ends
    (a connection's backend takes its CPU count with it): each process is sampled every
    ``every`` seconds and its last reading kept. ``stop()`` returns the CPU seconds spent."""

    def __init__(self, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.first = postgres_cpu_by_pid()
        self.last = dict(self.first)
        self.done = threading.Event()

    def _sample(self) -> None:
        self.last.update(postgres_cpu_by_pid())

    def run(self) -> None:
        while not self.done.wait(self.every):
            self._sample()

    def stop(self) -> float:
        self._sample()
        self.done.set()
        self.join(timeout=5)
        return sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# -- output ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_table() -> str:
    return table(["machine", "value"], machine())


def report(title: str, command: str, body: str, write: bool = True) -> str:
    """Print the section and append it to bench/RESULTS.md (dated, one section per run)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title} — {stamp}\n\nCommand: `{command}`\n\n{machine_table()}\n\n{body.strip()}\n"
    print("\n" + section, flush=True)
    if write:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\nOne dated section per run, appended by the benchmarks themselves "
                               "(see bench/README.md). Goals are targets, not assertions.\n")
        with RESULTS.open("a") as out:
            out.write("\n" + section)
    return section


def fmt_ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f}"


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- PostgreSQL schemas ---------------------------------------------------------------------------


def pg_schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_BASE else "?"
    return f"{PG_BASE}{separator}options=" + urllib.parse.quote(f"-csearch_path={schema}", safe="-")


def new_schema_name(prefix: str) -> str:
    return f"bench_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def create_schema(schema: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_BASE, connect_args={"connect_timeout": 5})
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return pg_schema_url(schema)


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_BASE, connect_args={"connect_timeout": 5})
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - cleanup reports, never hides the result
        log(f"could not drop schema {schema}: {exc}")


BENCH_ENCRYPTION_KEY = "8aMKtAahPtKXZmA4Rp0y3GRPhj8wFJ1w_GRtbe-ZccA="
"""A fixed Fernet key for children run outside dev mode (nothing real is encrypted with it)."""


@contextmanager
def scratch_database(backend: str, prefix: str) -> Iterator[tuple[str, str]]:
    """``(url, label)`` of a fresh, empty place for one backend (``sqlite``: a file in a new
    temp directory; ``postgres``: a new ``bench_<prefix>_*`` schema), removed when done."""
    if backend == "postgres":
        schema = new_schema_name(prefix)
        try:
            yield create_schema(schema), "PostgreSQL"
        finally:
            drop_schema(schema)
    elif backend == "sqlite":
        workdir = Path(tempfile.mkdtemp(prefix=f"clawback-bench-{prefix}-"))
        try:
            yield f"sqlite:///{workdir / 'clawback.sqlite3'}", "SQLite"
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        raise SystemExit(f"unknown backend {backend!r} (sqlite, postgres)")


def maintain(database, *statements: str) -> None:
    """DDL and maintenance on a ``store.engine.Database``: outside a transaction on PostgreSQL
    (VACUUM refuses one), in one committed transaction on SQLite."""
    from sqlalchemy import text

    if database.is_postgres:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for statement in statements:
                connection.execute(text(statement))
    else:
        with database.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a `clawback` child: no inherited app settings; dev mode and its
    secret on SQLite. Dev mode refuses PostgreSQL, so on a PostgreSQL ``DATABASE_URL`` the
    child runs in production mode with the same (dev) secret and a fixed encryption key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "CLAWBACK_")) and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    if extra.get("DATABASE_URL", "").startswith("postgresql"):
        env.update(CLAWBACK_DEV="0", SHOPIFY_API_KEY="dev-api-key", SHOPIFY_API_SECRET="dev-api-secret-for-local-use-only",
                   CLAWBACK_ENCRYPTION_KEY=BENCH_ENCRYPTION_KEY)
    env.update(extra)
    return env


def clawback(*args: str, env: dict[str, str], check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "clawback"), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=check, timeout=timeout)


# -- server processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A child process in its own process group, stopped with SIGTERM (then SIGKILL) on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.argv, self.env, self.port, self.log_path = argv, env, port, log_path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}:\n{self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"server did not listen on {self.port} within 30 s")
        time.sleep(1.0)  # let every gunicorn worker finish booting
        return self

    def pids(self) -> list[int]:
        """The master and its children (gunicorn workers)."""
        if self.proc is None:
            return []
        pids = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
            except (OSError, IndexError, ValueError):
                pass
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its live workers (clock ticks from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / tick

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def __exit__(self, *exc) -> None:
        self.stop()
        self._log.close()
