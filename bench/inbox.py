"""Inbox at size: what a big ``webhook_deliveries`` table costs the worker's claim, and how
fast the cleanup (``store.inbox.prune``) works it off.

For each backend (a temp SQLite file; a fresh PostgreSQL schema, dropped afterwards): --rows
finished deliveries (done, ignored; received and settled 40 days ago, refunds/create bodies
of 0.7-2 KB like the intake's), plus --pending received ones due now. Then:
  (a) one claim of a batch (``inbox.claim``, the worker's first statement) with the table full,
      median and p99 of --runs;
  (b) the table's size on disk, bytes per delivery;
  (c) ``inbox.prune`` of everything older than 30 days, in batches of --batch: rows/s and each
      batch's time (the longest is how long a batch holds its locks, and SQLite's writer lock);
  (d) the claim again once the table holds only the pending deliveries.

    .venv/bin/python bench/inbox.py                       # 200,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/inbox.py --rows 20000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import common
from common import fmt_ms, log, percentile

from sqlalchemy import text

from shopify_app.dev import samples
from shopify_app.store import inbox
from shopify_app.store.engine import Database
from shopify_app.store.migrate import upgrade
from shopify_app.store.tables import WebhookDelivery

NOW = datetime.now(timezone.utc)
OLD = NOW - timedelta(days=40)
SHOP = "bench-inbox.myshopify.com"
CHUNK = 10_000


def bodies(count: int) -> list[bytes]:
    """A few distinct refunds/create bodies, as the intake stores them."""
    return [samples.encode(samples.refund(9000 + n, 5000 + n, [(50000 + n * 10 + k, 1, "19.99") for k in range(1 + n % 5)]))
            for n in range(count)]


def fill(database: Database, rows: int, pending: int) -> float:
    """``rows`` finished deliveries and ``pending`` received ones, with Core executemany."""
    table = WebhookDelivery.__table__
    variety = bodies(16)
    headers = json.dumps({"x-shopify-topic": "refunds/create", "x-shopify-shop-domain": SHOP, "x-shopify-api-version": "2026-07"})
    t0 = time.perf_counter()

    def row(n: int, finished: bool) -> dict:
        at = OLD + timedelta(seconds=n) if finished else NOW
        return {"webhook_id": str(uuid.uuid4()), "shop_domain": SHOP, "topic": "refunds/create", "event_id": None, "api_version": "2026-07",
                "triggered_at": None, "received_at": at, "headers_json": headers, "body": variety[n % len(variety)],
                "status": ("done" if n % 10 else "ignored") if finished else "received", "attempts": 1 if finished else 0,
                "next_attempt_at": at, "last_error": None, "order_id": str(5000 + n), "business_key": f"refund:{9000 + n}",
                "processed_at": at if finished else None}

    for start in range(0, rows, CHUNK):
        with database.engine.begin() as connection:
            connection.execute(table.insert(), [row(n, True) for n in range(start, min(rows, start + CHUNK))])
    with database.engine.begin() as connection:
        connection.execute(table.insert(), [row(rows + n, False) for n in range(pending)])
    common.maintain(database, "VACUUM ANALYZE webhook_deliveries" if database.is_postgres else "ANALYZE")
    return time.perf_counter() - t0


def size_bytes(database: Database) -> int:
    with database.engine.connect() as connection:
        if database.is_postgres:
            return int(connection.execute(text("SELECT pg_total_relation_size('webhook_deliveries')")).scalar_one())
        # dbstat is not always compiled in: the file's pages, all tables (the inbox is all there is here)
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()
        return int(pages * connection.execute(text("PRAGMA page_size")).scalar_one())


def time_claims(database: Database, runs: int, limit: int) -> list[float]:
    times = []
    for _ in range(runs + 2):
        with database.transaction() as session:
            t0 = time.perf_counter()
            claimed = inbox.claim(session, NOW + timedelta(seconds=1), database.is_postgres, limit)
            times.append(time.perf_counter() - t0)
            session.rollback()
        assert claimed, "nothing to claim"
    return times[2:]


def timed_prune(database: Database, batch: int) -> tuple[int, float, list[float]]:
    """``inbox.prune`` to the end, one batch at a time, timing each."""
    before = NOW - timedelta(days=30)
    times, removed = [], 0
    t0 = time.perf_counter()
    while True:
        started = time.perf_counter()
        count = inbox.prune(database, before, batch, max_batches=1)
        times.append(time.perf_counter() - started)
        removed += count
        if count < batch:
            break
    return removed, time.perf_counter() - t0, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="finished deliveries in the table")
    parser.add_argument("--pending", type=int, default=1_000, help="received deliveries due now")
    parser.add_argument("--batch", type=int, default=1_000, help="rows per prune transaction (the worker's default)")
    parser.add_argument("--claim", type=int, default=5, help="deliveries per claim (the SQLite worker's batch; PostgreSQL's is 1)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    started = time.monotonic()
    rows = []
    for name in args.backends.split(","):
        with common.scratch_database(name, "inbox") as (url, label):
            database = Database(url)
            upgrade(database)
            log(f"{label}: filling {args.rows:,} finished + {args.pending:,} received deliveries")
            fill_s = fill(database, args.rows, args.pending)
            size = size_bytes(database)
            busy0, own0, t0, pg_meter = common.machine_busy_seconds(), time.process_time(), time.perf_counter(), common.PostgresCpu()
            pg_meter.start()
            full = time_claims(database, args.runs, args.claim)
            log(f"{label}: pruning")
            removed, prune_s, batches = timed_prune(database, args.batch)
            after = time_claims(database, args.runs, args.claim)
            pg_cpu, own = pg_meter.stop(), time.process_time() - own0
            other = max(0.0, common.machine_busy_seconds() - busy0 - own - (pg_cpu if database.is_postgres else 0.0))
            phase = time.perf_counter() - t0
            rows.append([label, f"{args.rows:,}", f"{fill_s:.0f}", f"{size / 2**20:,.0f} MB ({size / max(args.rows + args.pending, 1):,.0f} B/delivery)",
                         f"{fmt_ms(statistics.median(full))} / {fmt_ms(percentile(full, 99))}",
                         f"{removed:,}", f"{removed / prune_s:,.0f}", f"{len(batches)}",
                         f"{fmt_ms(statistics.median(batches))} / {fmt_ms(max(batches))}",
                         f"{fmt_ms(statistics.median(after))} / {fmt_ms(percentile(after, 99))}",
                         f"{100 * other / (phase * (os.cpu_count() or 1)):.0f}"])
            database.dispose()
    body = (
        f"{args.rows:,} finished deliveries (done 90 %, ignored 10 %; settled 40 days ago; refunds/create bodies of 0.7-2 KB) and "
        f"{args.pending:,} received ones due now. A claim takes {args.claim} (`inbox.claim`, in a transaction rolled back after); "
        f"the prune deletes everything finished more than 30 days ago in batches of {args.batch:,} (`inbox.prune`, one "
        f"transaction each). Wall time {time.monotonic() - started:.0f} s.\n\n"
        + common.table(["backend", "finished rows", "fill s", "table size", "claim ms median / p99 (full table)", "pruned",
                         "pruned rows/s", "batches", "batch ms median / max", "claim ms median / p99 (after)",
                         "other procs' CPU %"], rows)
    )
    argv = "bench/inbox.py" + "".join(f" {a}" for a in sys.argv[1:])
    common.report("Inbox at size (claim, cleanup)", f".venv/bin/python {argv}", body, write=not args.no_write)


if __name__ == "__main__":
    main()
