"""The physical limits of one commit per delivery on this machine: the anchors the worker
benchmark reports its rates against (issue 9).

- PostgreSQL: one client (psycopg, the app's driver) on 127.0.0.1:5432, database ``test``,
  in a fresh ``bench_anchor_*`` schema, sends one tiny INSERT per transaction and commits,
  as fast as it can for --seconds. With ``synchronous_commit=on`` every commit waits for its
  WAL flush (fdatasync), so this is the server's single-client commit rate; with 2 clients
  (reported too) commits can share a flush (group commit).
- SQLite: one connection to a temp file in WAL mode with ``synchronous=FULL`` (the app's
  pragmas, ``store/engine.py``), ``BEGIN IMMEDIATE``, one tiny INSERT, ``COMMIT``: every
  commit fsyncs the WAL.

Both also report the CPU the client spent per commit and, for PostgreSQL, the server's, and
the share of the machine other processes used meanwhile.

    .venv/bin/python bench/anchors.py                 # 5 s each, appended to bench/RESULTS.md
    .venv/bin/python bench/anchors.py --seconds 2 --no-write
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import common
from common import PG_BASE, drop_schema, log, new_schema_name

PG_SETTINGS = ("synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "full_page_writes")


@dataclass
class Anchor:
    what: str
    clients: int
    commits: int
    wall: float
    client_cpu: float  # seconds, this process (all its threads)
    server_cpu: float  # seconds, every PostgreSQL process (0 for SQLite)
    other_cpu: float  # seconds, every other process on the machine
    setup: str

    @property
    def rate(self) -> float:
        return self.commits / self.wall

    def row(self) -> list[str]:
        cores = os.cpu_count() or 1
        per = lambda cpu: f"{1000 * cpu / max(self.commits, 1):.3f}"  # noqa: E731
        return [self.what, str(self.clients), f"{self.commits:,}", f"{self.wall:.1f}", f"{self.rate:,.0f}", per(self.client_cpu),
                per(self.server_cpu) if self.server_cpu else "-", f"{100 * self.other_cpu / (self.wall * cores):.0f}", self.setup]


HEADERS = ["anchor", "clients", "commits", "s", "commits/s", "client CPU ms/commit", "PostgreSQL CPU ms/commit", "other procs' CPU %", "setup"]


def _psycopg_conninfo() -> str:
    """``BENCH_PG_URL`` (an SQLAlchemy URL) as a libpq URL for psycopg."""
    return PG_BASE.replace("postgresql+psycopg://", "postgresql://", 1)


def _timed(what: str, setup: str, connections: list, loop) -> Anchor:
    """Run ``loop(connection, deadline) -> commits`` on each of ``connections`` in its own
    thread, measuring wall and CPU (before the connections close: a PostgreSQL backend's CPU
    is read from /proc while it lives)."""
    busy0, pg_meter, cpu0 = common.machine_busy_seconds(), common.PostgresCpu(), time.process_time()
    pg_meter.start()
    counts: list[int] = []
    t0 = time.perf_counter()
    deadline = t0 + SECONDS
    threads = [threading.Thread(target=lambda c=c: counts.append(loop(c, deadline))) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    client = time.process_time() - cpu0
    server = pg_meter.stop()
    server = server if "PostgreSQL" in what else 0.0
    other = max(0.0, common.machine_busy_seconds() - busy0 - client - server)
    for connection in connections:
        connection.close()
    return Anchor(what, len(connections), sum(counts), wall, client, server, other, setup)


SECONDS = 5.0


def postgres_commit_rate(clients: int = 1) -> Anchor:
    """One tiny INSERT per transaction from ``clients`` connections, in a fresh schema."""
    import psycopg

    schema = new_schema_name("anchor")
    conninfo = _psycopg_conninfo()
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
            admin.execute(f"CREATE TABLE {schema}.commits (id bigserial PRIMARY KEY, n integer NOT NULL)")
            settings = ", ".join(f"{name}={admin.execute(f'SHOW {name}').fetchone()[0]}" for name in PG_SETTINGS)
            version = admin.execute("SHOW server_version").fetchone()[0].split()[0]

        def loop(connection, deadline: float) -> int:
            commits = 0
            with connection.cursor() as cursor:
                while time.perf_counter() < deadline:
                    cursor.execute("INSERT INTO commits (n) VALUES (%s)", (commits,))
                    connection.commit()
                    commits += 1
            return commits

        where = PG_BASE.split("@")[-1]
        connections = [psycopg.connect(conninfo, options=f"-csearch_path={schema}") for _ in range(clients)]
        return _timed("PostgreSQL commit", f"PostgreSQL {version} at {where}, psycopg, one INSERT per transaction; {settings}",
                      connections, loop)
    finally:
        drop_schema(schema)


def _filesystem(path: Path) -> str:
    """The mount holding ``path`` and its type, from /proc/mounts."""
    best = ("?", "?")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path.resolve()).startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[0]):
                best = (mount, kind)
    except OSError:
        pass
    return f"{best[1]} mounted at {best[0]}"


def sqlite_commit_rate() -> Anchor:
    """One tiny INSERT per ``BEGIN IMMEDIATE ... COMMIT`` on a temp file, WAL, synchronous=FULL."""
    workdir = Path(tempfile.mkdtemp(prefix="clawback-bench-anchor-"))  # where bench/process.py puts its SQLite files
    try:
        path = workdir / "anchor.sqlite3"

        connection = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE commits (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")

        def loop(connection, deadline: float) -> int:
            commits = 0
            while time.perf_counter() < deadline:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO commits (n) VALUES (?)", (commits,))
                connection.execute("COMMIT")
                commits += 1
            return commits

        return _timed("SQLite commit", f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL, BEGIN IMMEDIATE; "
                                       f"temp file on {_filesystem(workdir)}", [connection], loop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(backends: list[str], seconds: float = 5.0, pg_clients: tuple[int, ...] = (1, 2)) -> dict[str, Anchor]:
    """The anchors for ``backends`` (``sqlite``, ``postgres``): keys ``sqlite``, ``postgres``
    (one client) and ``postgres×N`` for the other client counts."""
    global SECONDS
    SECONDS = seconds
    found: dict[str, Anchor] = {}
    if "sqlite" in backends:
        log(f"anchor: SQLite commit rate for {seconds:.0f} s")
        found["sqlite"] = sqlite_commit_rate()
    if "postgres" in backends:
        for clients in pg_clients:
            log(f"anchor: PostgreSQL commit rate, {clients} client(s), for {seconds:.0f} s")
            found["postgres" if clients == 1 else f"postgres×{clients}"] = postgres_commit_rate(clients)
    return found


def anchors_table(found: dict[str, Anchor]) -> str:
    return common.table(HEADERS, [anchor.row() for anchor in found.values()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each anchor runs")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    found = measure(args.backends.split(","), args.seconds)
    body = (anchors_table(found)
            + "\n\nEach commit is one tiny INSERT in its own transaction, from one client unless said: the most commits per second "
            "this machine's storage and database allow one writer, so the worker's events/s over it is how close one commit per "
            "delivery comes to the limit. \"other procs' CPU %\": share of the machine's cores busy with anything else meanwhile.")
    argv = "bench/anchors.py" + "".join(f" {a}" for a in sys.argv[1:])
    common.report("Anchors (single-client commit rates)", f".venv/bin/python {argv}", body, write=not args.no_write)


if __name__ == "__main__":
    main()
