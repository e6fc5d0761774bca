"""Worker benchmark: how fast `clawback worker --until-idle` turns stored deliveries into ledger records.

For each backend: a fresh database (a temp SQLite file; a new PostgreSQL schema, upgraded
with `clawback db upgrade` and dropped afterwards), one shop with two affiliates, then
--events deliveries (default 4,000) enqueued straight into the inbox with
``inbox.store_delivery`` in transactions of 5,000 (``tests.support.deliveries.workload``:
orders/paid + refunds/create, 1-3 lines and 1-3 refunds per order, 30 % of orders with a refund
before the order, 30 % with a duplicate delivery). Then the inbox is drained by
`clawback worker --until-idle` processes started together (SQLite: 1, PostgreSQL: 2) and
timed from spawn to the last exit (process start-up included). Peak RSS per worker is its
``ru_maxrss`` from ``os.wait4``. Progress is sampled every few seconds to show whether the
rate holds over the run.

Before the drains it measures the anchors of issue 9 in the same run (``bench/anchors.py``:
the database's own single-client commit rate, one tiny INSERT per transaction) and reports
every rate as a ratio to its backend's anchor, with the CPU split of the drain between the
workers, PostgreSQL and the other processes of this shared machine.

    .venv/bin/python bench/process.py                       # 4,000 events, SQLite and PostgreSQL (--events 50000: the goal's size)
    .venv/bin/python bench/process.py --events 5000 --no-write   # quick look
    .venv/bin/python bench/process.py --profile-only --events 3000 --backends postgres   # cProfile a worker in-process
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import anchors
import common
from common import VENV_BIN, clean_env, clawback, create_schema, drop_schema, log, new_schema_name

from shopify_app.store.engine import Database
from shopify_app.store.migrate import upgrade
from tests.support import deliveries

SHOP = "bench-process.myshopify.com"
CHUNK = 5000
DRAIN_TIMEOUT = 15 * 60  # seconds; a worker still running then is killed and the run reported as such


def events_for(count: int, seed: int = 7) -> list[tuple[str, dict]]:
    """Exactly ``count`` deliveries from the shared workload (about 3.3 deliveries per order)."""
    orders = math.ceil(count / 3.0) + 10
    events = deliveries.workload(orders, seed=seed)
    while len(events) < count:  # pragma: no cover - the estimate above is generous
        orders *= 2
        events = deliveries.workload(orders, seed=seed)
    return events[:count]


@dataclass
class Backend:
    name: str
    url: str
    workers: int
    env: dict[str, str]
    schema: str | None = None
    workdir: Path | None = None


def prepare(name: str, pg_workers: int, sqlite_workers: int) -> Backend:
    if name == "sqlite":
        workdir = Path(tempfile.mkdtemp(prefix="clawback-bench-process-"))
        url = f"sqlite:///{workdir / 'clawback.sqlite3'}"
        database = Database(url)
        upgrade(database)
        database.dispose()
        return Backend("SQLite", url, sqlite_workers, clean_env(CLAWBACK_INSTANCE_DIR=str(workdir), DATABASE_URL=url), workdir=workdir)
    if name == "postgres":
        schema = new_schema_name("process")
        url = create_schema(schema) + f"&application_name={schema}"  # lets the lock sampler find our workers
        workdir = Path(tempfile.mkdtemp(prefix="clawback-bench-process-"))
        env = clean_env(CLAWBACK_INSTANCE_DIR=str(workdir), DATABASE_URL=url)
        backend = Backend("PostgreSQL", url, pg_workers, env, schema=schema, workdir=workdir)
        try:
            clawback("db", "upgrade", env=env)
        except subprocess.CalledProcessError as failed:
            cleanup(backend)
            raise SystemExit(f"clawback db upgrade failed: {failed.stderr.strip()}") from None
        return backend
    raise SystemExit(f"unknown backend {name!r} (sqlite, postgres)")


def cleanup(backend: Backend) -> None:
    if backend.schema:
        drop_schema(backend.schema)
    if backend.workdir:
        shutil.rmtree(backend.workdir, ignore_errors=True)


def enqueue(backend: Backend, events: list[tuple[str, dict]]) -> float:
    database = Database(backend.url)
    deliveries.setup_shop(database, SHOP)
    t0 = time.perf_counter()
    for start in range(0, len(events), CHUNK):
        deliveries.enqueue(database, events[start : start + CHUNK], domain=SHOP)
    elapsed = time.perf_counter() - t0
    database.dispose()
    return elapsed


def processed_count(backend: Backend) -> int | None:
    """Deliveries no longer waiting (any status but ``received``), read without taking write locks."""
    sql = "SELECT count(*) FROM webhook_deliveries WHERE status <> 'received'"
    try:
        if backend.url.startswith("sqlite"):
            path = backend.url.split("///", 1)[1]
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as connection:
                return connection.execute(sql).fetchone()[0]
        import psycopg

        schema = backend.schema
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3", options=f"-csearch_path={schema}") as connection:
            return connection.execute(sql).fetchone()[0]
    except Exception:  # noqa: BLE001 - progress is informative only
        return None


class LockSampler(threading.Thread):
    """Every 0.2 s: how many of our PostgreSQL workers are active, and how many wait on a lock (and on what)."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(daemon=True)
        self.backend = backend
        self.stop = threading.Event()
        self.samples = 0
        self.waiting = 0  # worker-samples spent waiting on a heavyweight lock
        self.active = 0  # worker-samples running a statement (not idle in transaction)
        self.on: dict[str, int] = {}

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3", autocommit=True) as connection:
                while not self.stop.wait(0.2):
                    rows = connection.execute(
                        "SELECT state, wait_event_type, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) FROM pg_stat_activity WHERE application_name = %s",
                        (self.backend.schema,),
                    ).fetchall()
                    if not rows:
                        continue
                    self.samples += 1
                    for state, wait_type, query in rows:
                        if state == "active":
                            self.active += 1
                        if wait_type == "Lock":
                            self.waiting += 1
                            self.on[query] = self.on.get(query, 0) + 1
        except Exception as exc:  # noqa: BLE001 - informative only
            log(f"lock sampler stopped: {exc}")

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        top = max(self.on.items(), key=lambda kv: kv[1])[0] if self.on else ""
        return (f"{self.samples} samples: workers waiting on a row/table lock in {100 * self.waiting / max(self.samples * self.backend.workers, 1):.0f} % "
                f"of worker-samples" + (f", mostly `{top}…`" if top else ""))


@dataclass
class WorkerRun:
    pid: int
    wall: float = 0.0
    maxrss_kb: int = 0
    status: int | None = None
    summary: str = ""
    cpu: float = 0.0


@dataclass
class DrainResult:
    wall: float
    workers: list[WorkerRun]
    samples: list[tuple[float, int]] = field(default_factory=list)
    killed: bool = False
    locks: str = ""
    postgres_cpu: float = 0.0  # every PostgreSQL process during the drain (other sessions' queries included)
    other_cpu: float = 0.0  # every process but the workers and PostgreSQL

    @property
    def worker_cpu(self) -> float:
        return sum(run.cpu for run in self.workers)


def drain(backend: Backend, timeout: float = DRAIN_TIMEOUT) -> DrainResult:
    runs: list[WorkerRun] = []
    procs: list[subprocess.Popen] = []
    logs = []
    busy0, pg_cpu_meter = common.machine_busy_seconds(), common.PostgresCpu()
    pg_cpu_meter.start()
    t0 = time.perf_counter()
    for i in range(backend.workers):
        err = (backend.workdir / f"worker{i}.err").open("w+")
        logs.append(err)
        procs.append(subprocess.Popen([str(VENV_BIN / "clawback"), "worker", "--until-idle"], env=backend.env, cwd=common.ROOT,
                                      stdout=subprocess.DEVNULL, stderr=err))
        runs.append(WorkerRun(procs[-1].pid))

    def reap(proc: subprocess.Popen, run: WorkerRun) -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        run.wall = time.perf_counter() - t0
        run.status = os.waitstatus_to_exitcode(status)
        run.maxrss_kb = usage.ru_maxrss
        run.cpu = usage.ru_utime + usage.ru_stime
        proc.returncode = run.status

    threads = [threading.Thread(target=reap, args=(p, r), daemon=True) for p, r in zip(procs, runs)]
    for t in threads:
        t.start()
    sampler = LockSampler(backend) if backend.schema else None
    if sampler:
        sampler.start()
    samples: list[tuple[float, int]] = []
    killed = False
    while any(t.is_alive() for t in threads):
        now = time.perf_counter() - t0
        if now > timeout:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
            killed = True
            break
        count = processed_count(backend)
        if count is not None:
            samples.append((now, count))
        for t in threads:
            t.join(timeout=5.0 / len(threads))
    for t in threads:
        t.join(timeout=10)
    wall = time.perf_counter() - t0
    pg_cpu = pg_cpu_meter.stop()
    if not backend.schema:
        pg_cpu = 0.0  # on SQLite any PostgreSQL work is another session's: "other"
    busy = common.machine_busy_seconds() - busy0
    if sampler:
        sampler.stop.set()
        sampler.join(timeout=5)
    for run, err in zip(runs, logs):
        err.seek(0)
        lines = [line.strip() for line in err.read().splitlines() if line.strip()]
        run.summary = lines[-1] if lines else ""
        err.close()
    result = DrainResult(wall, runs, samples, killed, sampler.summary() if sampler else "", pg_cpu)
    # The benchmark's own progress polling and lock sampling count as "other" (small).
    result.other_cpu = max(0.0, busy - result.worker_cpu - pg_cpu)
    return result


def unfinished(backend: Backend) -> list[tuple[str, str, int]]:
    """Deliveries that did not end done/ignored, grouped by status and the start of their last error."""
    from sqlalchemy import select

    from shopify_app.store.tables import WebhookDelivery

    database = Database(backend.url)
    groups: dict[tuple[str, str], int] = {}
    try:
        with database.transaction() as session:
            rows = session.execute(
                select(WebhookDelivery.status, WebhookDelivery.last_error).where(WebhookDelivery.status.not_in(("done", "ignored")))
            ).all()
        samples: dict[tuple[str, str], str] = {}
        for status, error in rows:
            text = error or "(no error recorded)"
            key = (status, text.splitlines()[0][:160])
            groups[key] = groups.get(key, 0) + 1
            samples.setdefault(key, re.sub(r"\s+", " ", text)[:420])
        return [(status, f"{head} — e.g. `{samples[(status, head)]}`" if samples[(status, head)] != head else head, count)
                for (status, head), count in sorted(groups.items())]
    except Exception as exc:  # noqa: BLE001 - informative only
        return [("?", f"could not read: {type(exc).__name__}", 0)]
    finally:
        database.dispose()


def rate_profile(samples: list[tuple[float, int]], total: int) -> str:
    """events/s over the first and the last fifth of the drain, from the progress samples."""
    if len(samples) < 4 or total <= 0:
        return "n/a"
    def rate_between(lo: int, hi: int) -> float | None:
        inside = [(t, c) for t, c in samples if lo <= c <= hi]
        if len(inside) < 2 or inside[-1][0] == inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
    first = rate_between(0, total // 5)
    last = rate_between(total * 4 // 5, total)
    fmt = lambda r: "n/a" if r is None else f"{r:.0f}"  # noqa: E731
    return f"{fmt(first)} → {fmt(last)}"


def profile_inprocess(backend: Backend, top: int = 18) -> str:
    """Run the worker loop in this process under cProfile; the top functions by own and cumulative time."""
    from shopify_app import worker
    from shopify_app.config import Config

    from sqlalchemy import event

    database = Database(backend.url)
    config = Config(database_url=backend.url)  # no environment: dev mode would refuse PostgreSQL
    statements: dict[str, int] = {}

    @event.listens_for(database.engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany) -> None:
        words = statement.split()
        verb = words[0].upper() if words else "?"
        table = next((w.strip('"') for w, prev in zip(words[1:], words) if prev.upper() in ("FROM", "INTO", "UPDATE")), "")
        key = f"{verb} {table}".strip()
        statements[key] = statements.get(key, 0) + 1

    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    report = worker.run(database, config, until_idle=True)
    profiler.disable()
    elapsed = time.perf_counter() - t0
    database.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue(), file=sys.stderr)
    def short(filename: str, line: int, func: str) -> str:
        name = filename.replace(str(common.ROOT) + "/", "").split("site-packages/")[-1]
        return f"`{name}:{line}({func})`"

    project = ("/shopify_app/", "/policy/", "/ledger/")
    items = stats.stats.items()  # (file, line, func) -> (cc, nc, tt, ct, callers)
    ours = sorted(((k, v) for k, v in items if any(p in k[0] for p in project) and "site-packages" not in k[0]), key=lambda kv: kv[1][3], reverse=True)[:top]
    libs = sorted(((k, v) for k, v in items if not any(p in k[0] for p in project) or "site-packages" in k[0]), key=lambda kv: kv[1][2], reverse=True)[:12]
    per = max(report.tried, 1)
    stmt_rows = [[f"`{k}`", v, f"{v / per:.2f}"] for k, v in sorted(statements.items(), key=lambda kv: -kv[1])]
    stmt_rows.append(["**all**", sum(statements.values()), f"{sum(statements.values()) / per:.1f}"])
    ours_rows = [[short(*k), v[1], f"{v[3]:.2f}", f"{1000 * v[3] / per:.1f}", f"{100 * v[3] / elapsed:.0f}"] for k, v in ours]
    libs_rows = [[short(*k), v[1], f"{v[2]:.2f}", f"{100 * v[2] / elapsed:.0f}"] for k, v in libs]
    return (f"cProfile of `worker.run(until_idle=True)` in-process on {backend.name}: {report.tried} deliveries in {elapsed:.1f} s "
            f"({report.tried / elapsed:.0f}/s under the profiler, which roughly doubles the cost of Python calls).\n\n"
            + common.table(["project function (by cumulative time)", "calls", "cumulative s", "ms per delivery", "% of run"], ours_rows)
            + "\n\n"
            + common.table(["library/builtin function (by own time)", "calls", "own s", "% of run"], libs_rows)
            + "\n\nSQL statements sent (plus BEGIN/COMMIT/SAVEPOINT on the connection):\n\n"
            + common.table(["statement", "count", "per delivery"], stmt_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=4_000,
                        help="deliveries to enqueue and drain (default 4,000 to stay under ~10 minutes at today's rate; "
                             "the brief's size is 50,000)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sqlite-workers", default="1", help="worker processes on SQLite; a comma list runs each count on a fresh database")
    parser.add_argument("--pg-workers", default="2,1",
                        help="worker processes on PostgreSQL; a comma list runs each count on a fresh schema (default 2,1: the goal's 2, and 1 for scaling)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the timed runs, also cProfile an in-process worker over N fresh events per backend")
    parser.add_argument("--profile-only", action="store_true", help="only the cProfile run, over --events events")
    parser.add_argument("--timeout", type=float, default=DRAIN_TIMEOUT, help="kill the workers after this many seconds")
    parser.add_argument("--anchor-seconds", type=float, default=5.0, help="how long each commit-rate anchor runs (0: none)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    started = time.monotonic()
    rows, rss_rows, cpu_rows, notes, profiles = [], [], [], [], []
    goal_rows = []
    names = args.backends.split(",")
    found = anchors.measure(names, args.anchor_seconds, pg_clients=(1,)) if args.anchor_seconds > 0 and not args.profile_only else {}
    cores = os.cpu_count() or 1
    if not args.profile_only:
        log(f"building {args.events} events")
        events = events_for(args.events)
        topics = {}
        for topic, _ in events:
            topics[topic] = topics.get(topic, 0) + 1
        runs = [(name, int(n)) for name in names for n in (args.pg_workers if name == "postgres" else args.sqlite_workers).split(",")]
        for name, workers in runs:
            backend = prepare(name, workers, workers)
            try:
                rev = common.git_rev()  # the workers import the code as it is when they start
                log(f"{backend.name}: enqueueing {len(events)} deliveries")
                enqueue_s = enqueue(backend, events)
                log(f"{backend.name}: draining with {backend.workers} worker process(es)")
                result = drain(backend, args.timeout)
                statuses = deliveries.inbox_statuses(Database(backend.url))
                for status, error, count in unfinished(backend):
                    notes.append(f"{backend.name} ×{backend.workers}: {count} deliver{'y' if count == 1 else 'ies'} left `{status}`: {error}")
                processed = sum(v for k, v in statuses.items() if k != "received")
                records = None
                try:
                    records = len(deliveries.ledger_outcome(Database(backend.url), SHOP))
                except Exception as exc:  # noqa: BLE001
                    notes.append(f"{backend.name}: could not count ledger records ({type(exc).__name__}: {exc})")
                rate = processed / result.wall
                anchor = found.get(name)
                ratio = f"{rate / anchor.rate:.2f} × ({anchor.rate:,.0f}/s)" if anchor else "n/a"
                rows.append([backend.name, backend.workers, rev, len(events), f"{len(events) / enqueue_s:.0f}", f"{result.wall:.1f}",
                             f"{rate:.0f}", ratio, rate_profile(result.samples, len(events)),
                             ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())), records if records is not None else "?"])
                per = max(processed, 1)
                cpu_rows.append([f"{backend.name} ×{backend.workers}", f"{1000 * result.worker_cpu / per:.2f}",
                                 f"{1000 * result.postgres_cpu / per:.2f}" if backend.schema else "-",
                                 f"{100 * result.worker_cpu / (result.wall * cores):.0f}",
                                 f"{100 * result.postgres_cpu / (result.wall * cores):.0f}" if backend.schema else "-",
                                 f"{100 * result.other_cpu / (result.wall * cores):.0f}"])
                for i, run in enumerate(result.workers):
                    rss_rows.append([f"{backend.name} ×{backend.workers}", i + 1, f"{run.maxrss_kb / 1024:.0f}", f"{run.cpu:.1f}", f"{run.wall:.1f}", run.status, run.summary])
                peak = max((r.maxrss_kb for r in result.workers), default=0) / 1024
                if result.locks:
                    notes.append(f"{backend.name} ×{backend.workers} lock waits during the drain (pg_stat_activity): {result.locks}.")
                if result.killed:
                    notes.append(f"{backend.name}: workers killed after {args.timeout:.0f} s; the rate covers what was processed by then.")
                if backend.name == "PostgreSQL" and backend.workers == 2:
                    goal_rows.append([backend.name, f"≥ 1,000 events/s with {backend.workers} workers", f"{rate:.0f}/s ({ratio} anchor)",
                                      "met" if rate >= 1000 else "missed"])
                if backend.name == "SQLite" and backend.workers == 1:
                    goal_rows.append([backend.name, "≥ 500 events/s with 1 worker", f"{rate:.0f}/s ({ratio} anchor)", "met" if rate >= 500 else "missed"])
                goal_rows.append([f"{backend.name} ×{backend.workers}", "peak RSS < 200 MB per worker", f"{peak:.0f} MB", "met" if peak < 200 else "missed"])
                log(f"{backend.name}: {rate:.0f} events/s, peak RSS {peak:.0f} MB")
            finally:
                cleanup(backend)
    profile_n = args.events if args.profile_only else args.profile
    if profile_n:
        events = events_for(profile_n, seed=11)
        for name in names:
            backend = prepare(name, 1, 1)
            try:
                enqueue(backend, events)
                profile_rev = common.git_rev()
                log(f"{backend.name}: profiling an in-process worker over {profile_n} events")
                profiles.append(f"(git {profile_rev}) " + profile_inprocess(backend))
            finally:
                cleanup(backend)

    parts = []
    if rows:
        parts.append(
            f"Workload: `tests.support.deliveries.workload` trimmed to {args.events} deliveries "
            f"({', '.join(f'{k} {v}' for k, v in sorted(topics.items()))}), one shop, two affiliates; "
            f"enqueued with `store_delivery` in transactions of {CHUNK}. Drain timed from spawning the "
            f"`clawback worker --until-idle` processes to the last exit. Wall time {time.monotonic() - started:.0f} s.\n\n"
            + common.table(["backend", "workers", "git", "deliveries", "enqueue /s", "drain s", "events/s", "× anchor (commits/s)",
                            "events/s first → last fifth", "statuses after", "ledger records"], rows)
            + "\n\n"
            + common.table(["backend", "worker CPU ms/event", "PostgreSQL CPU ms/event", "workers' CPU % of machine",
                            "PostgreSQL CPU % of machine", "other procs' CPU %"], cpu_rows)
            + "\n\n"
            + common.table(["backend", "worker", "peak RSS MB", "CPU s", "exited at s", "exit", "its report"], rss_rows)
            + "\n\n"
            + common.table(["backend", "goal", "measured", "verdict"], goal_rows)
        )
    if found:
        parts.insert(0, "Anchors, measured first in this run (`bench/anchors.py`: one tiny INSERT per transaction, one client):\n\n"
                     + anchors.anchors_table(found))
    if notes:
        parts.append("\n".join(f"- {n}" for n in notes))
    parts += profiles
    argv = "bench/process.py" + "".join(f" {a}" for a in sys.argv[1:])
    common.report("Process (worker drain)", f".venv/bin/python {argv}", "\n\n".join(parts), write=not args.no_write)


if __name__ == "__main__":
    main()
