"""Webhook intake benchmark: how fast `clawback serve` acknowledges signed deliveries.

Starts, one after the other, (1) the bare floor (bench/bare_app.py: Flask + HMAC check only,
gunicorn, 2 workers), (2) `clawback serve --no-worker --workers 2` on a temp SQLite file and
(3) the same on a fresh PostgreSQL schema (created, `clawback db upgrade`d, dropped after).
Against each it sends signed refunds/create bodies (1-2 KB, a unique X-Shopify-Webhook-Id
each) from an asyncio load generator in this process:

- closed loop: --count deliveries (default 5,000) at --concurrency 32 -> ack throughput;
- open loop: a fixed offered rate (--rate 500/s for --duration 10 s, up to 64 connections),
  latency measured from each delivery's *scheduled* send time (no coordinated omission).

The load generator shares the machine's cores with the server; its CPU time and the
server's (master + workers, from /proc) are reported per delivery. The bare endpoint runs
gunicorn's sync workers, which close the connection after every response (each delivery
pays a new TCP connection, inside the measured latency); `clawback serve` runs threaded
workers that keep connections alive.

    .venv/bin/python bench/ingest.py                 # all three targets, appends to RESULTS.md
    .venv/bin/python bench/ingest.py --count 1000 --duration 3 --no-write   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import common  # noqa: E402  (bench/ is on sys.path when run as a script)
from common import PG_BASE, VENV_BIN, Server, clean_env, clawback, create_schema, drop_schema, fmt_ms, free_port, log, new_schema_name, percentile

from shopify_app.dev import samples as payloads
from shopify_app.dev.replay import shopify_headers
from shopify_app.cli import THREADS

SECRET = "dev-api-secret-for-local-use-only"  # the dev-mode secret `clawback serve` uses when SHOPIFY_API_SECRET is unset
SHOP = "bench-ingest.myshopify.com"
TOPIC = "refunds/create"


# -- requests ----------------------------------------------------------------------------------


def refund_body(rng: random.Random, n: int) -> bytes:
    """A realistic refunds/create body of about 1-2 KB (1-3 refunded lines, sometimes a discrepancy)."""
    order_id = 5_500_000_000_000 + n
    lines = [(order_id * 10 + k, rng.randint(1, 3), f"{rng.randint(500, 30000) / 100:.2f}") for k in range(rng.randint(1, 3))]
    discrepancy = f"-{rng.randint(1, 500) / 100:.2f}" if rng.random() < 0.3 else None
    return payloads.encode(payloads.refund(900_000_000_000 + n, order_id, lines, discrepancy=discrepancy))


def build_requests(count: int, port: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        body = refund_body(rng, n)
        headers = shopify_headers(body, TOPIC, SHOP, SECRET, webhook_id=str(uuid.uuid4()))
        head = [f"POST /webhooks HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}", "Connection: keep-alive", "User-Agent: Shopify-Captain-Hook"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        out.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return out


# -- an asyncio HTTP/1.1 client with keep-alive (reconnects when the server closes) ----------------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def send(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.opened += 1
        self.writer.write(raw)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, lines[0].startswith("HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection":
                close = value.strip().lower() == "close"
        if length:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    connections: int = 0
    loader_cpu: float = 0.0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0  # all PostgreSQL server processes (ours and anyone else's)
    other_cpu: float = 0.0  # CPU seconds of every other process on the machine during the run

    @property
    def ok(self) -> int:
        return len(self.latencies)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def _one(conn: Connection, raw: bytes, started: float, result: LoadResult, timeout: float) -> None:
    try:
        status = await asyncio.wait_for(conn.send(raw), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        result.error(type(exc).__name__)
        await conn.close()
        return
    if status == 200:
        result.latencies.append(time.perf_counter() - started)
    else:
        result.error(f"HTTP {status}")


async def closed_loop(port: int, requests: list[bytes], concurrency: int, timeout: float = 10.0) -> LoadResult:
    """Every connection sends its next delivery as soon as the previous one is answered."""
    result = LoadResult()
    queue = iter(requests)
    conns = [Connection(port) for _ in range(concurrency)]

    async def run(conn: Connection) -> None:
        for raw in queue:  # a shared iterator: each delivery is taken once
            await _one(conn, raw, time.perf_counter(), result, timeout)
        await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(run(c) for c in conns))
    result.wall = time.perf_counter() - t0
    result.connections = sum(c.opened for c in conns)
    return result


async def open_loop(port: int, requests: list[bytes], rate: float, max_connections: int, timeout: float = 10.0) -> LoadResult:
    """Delivery i is due at t0 + i/rate whatever happened before; latency counts from that moment."""
    result = LoadResult()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    conns = [Connection(port) for _ in range(max_connections)]
    for c in conns:
        idle.put_nowait(c)
    tasks = []

    async def fire(raw: bytes, due: float) -> None:
        conn = await idle.get()  # waiting for a free connection counts in the latency
        try:
            await _one(conn, raw, due, result, timeout)
        finally:
            idle.put_nowait(conn)

    t0 = time.perf_counter() + 0.05
    for i, raw in enumerate(requests):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(raw, due)))
    await asyncio.gather(*tasks)
    result.wall = time.perf_counter() - t0
    for c in conns:
        await c.close()
    result.connections = sum(c.opened for c in conns)
    return result


def measured(server: Server, coro_factory) -> LoadResult:
    cpu0, self0, busy0, pg0 = server.cpu_seconds(), time.process_time(), common.machine_busy_seconds(), common.postgres_cpu_seconds()
    result = asyncio.run(coro_factory())
    result.server_cpu = server.cpu_seconds() - cpu0
    result.loader_cpu = time.process_time() - self0
    result.postgres_cpu = max(0.0, common.postgres_cpu_seconds() - pg0)
    result.other_cpu = max(0.0, common.machine_busy_seconds() - busy0 - result.server_cpu - result.loader_cpu - result.postgres_cpu)
    return result


# -- targets ----------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    argv: list[str]
    env: dict[str, str]
    database_url: str | None = None
    cleanup: list = field(default_factory=list)


def stored_rows(database_url: str) -> int | str:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(database_url)
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM webhook_deliveries WHERE shop_domain = :s"), {"s": SHOP}).scalar_one()
        engine.dispose()
        return int(count)
    except Exception as exc:  # noqa: BLE001
        return f"? ({type(exc).__name__})"


def make_targets(names: list[str], port: int, workdir: Path, workers: int = 2) -> list[Target]:
    targets = []
    clawback_serve = [str(VENV_BIN / "clawback"), "serve", "--no-worker", "--workers", str(workers), "--port", str(port)]
    for name in names:
        if name == "bare":
            argv = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "bench.bare_app:app"]
            targets.append(Target("bare Flask + HMAC", argv, clean_env()))
        elif name == "sqlite":
            instance = workdir / "sqlite-instance"
            url = f"sqlite:///{instance / 'clawback.sqlite3'}"
            targets.append(Target("clawback serve, SQLite", clawback_serve, clean_env(CLAWBACK_INSTANCE_DIR=str(instance), DATABASE_URL=url), url))
        elif name == "postgres":
            schema = new_schema_name("ingest")
            targets.append(Target("clawback serve, PostgreSQL", clawback_serve, {}, None, [schema]))
        else:
            raise SystemExit(f"unknown target {name!r} (bare, sqlite, postgres)")
    return targets


def prepare_postgres(target: Target, workdir: Path) -> None:
    schema = target.cleanup[0]
    url = create_schema(schema)
    target.database_url = url
    target.env = clean_env(CLAWBACK_INSTANCE_DIR=str(workdir / "pg-instance"), DATABASE_URL=url)
    clawback("db", "upgrade", env=target.env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="deliveries in the closed-loop run (default 5000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0, help="offered deliveries/s in the open-loop run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each open-loop run")
    parser.add_argument("--max-connections", type=int, default=64, help="connection cap of the open-loop runs")
    parser.add_argument("--half-capacity", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the open loop at half the closed-loop throughput (p99 at a load the server sustains)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--targets", default="bare,sqlite,postgres")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes of every server (the brief's setting is 2)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args()

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="clawback-bench-ingest-"))
    notes: list[str] = []
    closed_results: dict[str, LoadResult] = {}
    open_results: list[tuple[str, float, LoadResult]] = []
    sizes: list[int] = []
    revs: dict[str, str] = {}
    targets = make_targets(args.targets.split(","), port, workdir, args.workers)
    t_start = time.monotonic()
    seed = 7
    try:
        for target in targets:
            if target.cleanup:
                prepare_postgres(target, workdir)
            seed += 1
            log(f"{target.name}: signing {args.warmup + args.count} requests")
            reqs = build_requests(args.warmup + args.count, port, seed=seed)
            sizes += [len(r.split(b"\r\n\r\n", 1)[1]) for r in reqs]
            log_path = workdir / f"{target.name.split(',')[-1].strip().replace(' ', '_')}.log"
            acknowledged = args.warmup
            revs[target.name] = common.git_rev()  # the server imports the code as it is when it starts
            with Server(target.argv, target.env, port, log_path) as server:
                asyncio.run(closed_loop(port, reqs[: args.warmup], 8))
                log(f"{target.name}: closed loop, {args.count} at concurrency {args.concurrency}")
                closed = measured(server, lambda: closed_loop(port, reqs[args.warmup :], args.concurrency))
                closed_results[target.name] = closed
                acknowledged += closed.ok
                capacity = closed.ok / closed.wall if closed.wall else 0
                rates = [args.rate] + ([round(capacity / 2)] if args.half_capacity and capacity >= 2 else [])
                for rate in rates:
                    seed += 1
                    open_reqs = build_requests(max(1, int(rate * args.duration)), port, seed=seed)
                    time.sleep(1.0)
                    log(f"{target.name}: open loop, {rate:g}/s for {args.duration:g} s")
                    opened = measured(server, lambda: open_loop(port, open_reqs, rate, args.max_connections))
                    open_results.append((target.name, rate, opened))
                    acknowledged += opened.ok
            if target.database_url:
                stored = stored_rows(target.database_url)
                notes.append(f"{target.name}: {stored} rows stored for {acknowledged} acknowledged deliveries (incl. {args.warmup} warm-up).")
            for kind, result in [("closed", closed)] + [(f"open {r:g}/s", o) for n, r, o in open_results if n == target.name]:
                if result.error_kinds:
                    notes.append(f"{target.name} ({kind}): errors {json.dumps(result.error_kinds)}; server log {log_path}")
            if target.cleanup:
                drop_schema(target.cleanup[0])
    finally:
        for target in targets:
            if target.cleanup:
                drop_schema(target.cleanup[0])

    def per(result: LoadResult, seconds: float) -> str:
        return f"{seconds * 1000 / max(result.ok, 1):.2f}"

    bare = closed_results.get("bare Flask + HMAC")
    bare_tput = bare.ok / bare.wall if bare else None
    closed_rows = []
    for name, closed in closed_results.items():
        tput = closed.ok / closed.wall if closed.wall else 0
        closed_rows.append([
            name, revs.get(name, "?"), f"{tput:.0f}", f"{tput / bare_tput:.2f}" if bare_tput else "n/a",
            fmt_ms(percentile(closed.latencies, 50)), fmt_ms(percentile(closed.latencies, 99)), closed.errors,
            per(closed, closed.server_cpu), per(closed, closed.loader_cpu), per(closed, closed.postgres_cpu),
            f"{100 * closed.other_cpu / (closed.wall * (os.cpu_count() or 1)):.0f}", closed.connections,
        ])
    open_rows = []
    for name, rate, opened in open_results:
        open_rows.append([
            name, f"{rate:g}" + (" (offered)" if rate == args.rate else " (½ capacity)"), f"{opened.ok / opened.wall:.0f}" if opened.wall else "n/a",
            fmt_ms(percentile(opened.latencies, 50)), fmt_ms(percentile(opened.latencies, 99)), fmt_ms(max(opened.latencies, default=None)),
            opened.errors, per(opened, opened.server_cpu),
            f"{100 * opened.other_cpu / (opened.wall * (os.cpu_count() or 1)):.0f}",
        ])
    goals = []
    for name, closed in closed_results.items():
        if name.startswith("bare"):
            continue
        at_rate = [o for n, r, o in open_results if n == name and r == args.rate]
        if at_rate:
            p99 = percentile(at_rate[0].latencies, 99)
            goals.append([name, f"p99 ack < 50 ms at {args.rate:g}/s", f"{fmt_ms(p99)} ms",
                          "met" if p99 is not None and p99 < 0.050 and not at_rate[0].errors else "missed"])
        tput = closed.ok / closed.wall
        if bare_tput:
            goals.append([name, "throughput ≥ 0.5 × bare", f"{tput / bare_tput:.2f} × ({tput:.0f} vs {bare_tput:.0f}/s)",
                          "met" if tput >= 0.5 * bare_tput and not closed.errors else "missed"])
    body = (
        f"Deliveries: refunds/create, body {min(sizes)}-{max(sizes)} B (mean {sum(sizes) / len(sizes):.0f}), a unique webhook id each; "
        f"warm-up {args.warmup} at concurrency 8, then a closed loop of {args.count} at concurrency {args.concurrency}, then open loops of "
        f"{args.duration:g} s (≤ {args.max_connections} connections; latency counted from each delivery's scheduled send). "
        f"Every server: gunicorn, {args.workers} worker processes: sync workers for the bare endpoint (they answer `Connection: close`, so "
        f"each delivery opens a TCP connection), threaded ones for `clawback serve` ({THREADS} threads each, connections kept alive). "
        "Access log: none for the bare endpoint; `clawback serve` logs every request but the acknowledged deliveries. "
        f"The asyncio load generator (1 process) shares the 2 cores. Wall time {time.monotonic() - t_start:.0f} s.\n\n"
        "Closed loop (throughput):\n\n"
        + common.table(["target", "git", "acks/s", "× bare", "p50 ms", "p99 ms", "errors", "server CPU ms/ack", "loader CPU ms/ack",
                        "PostgreSQL CPU ms/ack", "other procs' CPU %", "TCP connections"], closed_rows)
        + "\n\nOpen loop (fixed offered rate):\n\n"
        + common.table(["target", "offered /s", "achieved /s", "p50 ms", "p99 ms", "max ms", "errors", "server CPU ms/ack", "other procs' CPU %"], open_rows)
        + "\n\n"
        + common.table(["target", "goal", "measured", "verdict"], goals)
        + "\n\n\"other procs' CPU %\": share of the machine's cores busy with processes other than the server, the load generator "
        "and PostgreSQL (other sessions on this shared machine); high values mean the numbers are pessimistic. \"PostgreSQL CPU\" "
        "sums every PostgreSQL server process, other sessions' queries included."
        + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else "")
    )
    argv = "bench/ingest.py" + "".join(f" {a}" for a in sys.argv[1:])
    common.report("Ingest (webhook acknowledgement)", f".venv/bin/python {argv}", body, write=not args.no_write)
    if any(r.errors for r in closed_results.values()) or any(o.errors for _, _, o in open_results):
        log(f"server logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
