"""The ``clawback`` command line (docs/interfaces.md). JSON goes to stdout alone, messages to
stderr; errors exit non-zero with one line saying why."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import requests
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import LedgerError
from policy.settings import SettingError
from shopify_app import worker
from shopify_app.clock import utcnow
from shopify_app.config import INBOX_RETENTION_DAYS, Config, ConfigError, retention_days
from shopify_app.presenters import balance_json, inbox_json, payout_json, record_json, records_csv, settings_json
from shopify_app.services import ledger, shops as registry
from shopify_app.services.errors import InvalidInput, NotFound
from shopify_app.shopify.app_config import BACKFILL_MAX_DAYS
from shopify_app.store import inbox as inbox_store, shops as shop_rows
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.engine import Database
from shopify_app.store.migrate import SchemaBehind, check_current, upgrade

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _database(config: Config) -> Database:
    """The configured database at the code's schema: the embedded SQLite default migrates
    itself; PostgreSQL must be migrated by ``clawback db upgrade``, and says so."""
    database = Database(config.database_url)
    if config.is_sqlite:
        upgrade(database)
    else:
        check_current(database)
    return database


def _as_of(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint="--as-of") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _emit_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


class _Errors(click.Group):
    """Turns the app's expected errors into one-line messages and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (NotFound, InvalidInput, SettingError, ConfigError, LedgerError, SchemaBehind) as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
        except requests.RequestException as exc:
            url = exc.request.url if exc.request is not None else "the webhook endpoint"
            raise click.ClickException(f"could not reach {url}: {type(exc).__name__}") from None


@click.group(cls=_Errors)
def main() -> None:
    """Clawback: affiliate commissions that follow refunds, exchanges and chargebacks."""


# -- database ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL."""
    config = _config()
    upgrade(Database(config.database_url))
    click.echo(f"database at {config.database_url.split('@')[-1]} is up to date", err=True)


# -- shops, affiliates, settings -----------------------------------------------------------------


@main.group()
def shop() -> None:
    """Shops."""


@shop.command("add")
@click.argument("domain")
@click.option("--token", help="An Admin API access token (custom apps); stored encrypted.")
@click.option("--currency", help="The shop currency (ISO 4217); learned from the first order otherwise.")
def shop_add(domain: str, token: str | None, currency: str | None) -> None:
    """Register a shop without OAuth (custom apps, tests)."""
    config = _config()
    encrypted = TokenCipher.from_config(config).encrypt(token) if token else None
    with _database(config).transaction() as session:
        added = registry.add_shop(session, domain, utcnow(), encrypted, currency)
    click.echo(f"shop {added.domain} registered", err=True)


@main.group()
def keys() -> None:
    """The keys that encrypt tokens at rest (CLAWBACK_ENCRYPTION_KEY)."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored token with the first key of CLAWBACK_ENCRYPTION_KEY.

    Put the new key first and keep the old one after it (comma-separated), run this, then
    drop the old key."""
    from shopify_app.services.install import rotate_keys

    config = _config()
    with _database(config).transaction() as session:
        count = rotate_keys(session, TokenCipher.from_config(config))
    click.echo(f"{count} stored tokens re-encrypted with the first key", err=True)


@main.group()
def affiliate() -> None:
    """Affiliates."""


@affiliate.command("add")
@click.option("--shop", "domain", required=True)
@click.option("--code", required=True)
@click.option("--email", required=True)
@click.option("--rate", help="Commission rate in percent (0-100); overrides the shop default.")
@click.option("--approval-delay-days", help="Days (0-3650); overrides the shop's approval delay.")
def affiliate_add(domain: str, code: str, email: str, rate: str | None, approval_delay_days: str | None) -> None:
    """An affiliate whose code attributes orders."""
    with _database(_config()).transaction() as session:
        shop_row = registry.require_shop(session, domain)
        added = registry.add_affiliate(session, shop_row, code, email, utcnow(), rate, approval_delay_days)
    click.echo(f"affiliate {added.code} added to {shop_row.domain}", err=True)


@main.group()
def settings() -> None:
    """The shop's policy settings."""


@settings.command("show")
@click.option("--shop", "domain", required=True)
@FORMAT
def settings_show(domain: str, fmt: str) -> None:
    with _database(_config()).reading() as session:
        current = registry.shop_settings(registry.require_shop(session, domain))
    if fmt == "json":
        _emit_json(settings_json(current))
    else:
        for key, value in current.as_strings().items():
            click.echo(f"{key}={value}")


@settings.command("set")
@click.option("--shop", "domain", required=True)
@click.argument("assignments", nargs=-1, required=True)
def settings_set(domain: str, assignments: tuple[str, ...]) -> None:
    """Set KEY=VALUE pairs (all or nothing)."""
    pairs = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="ASSIGNMENTS")
        pairs[key.strip()] = value
    with _database(_config()).transaction() as session:
        shop_row = registry.require_shop(session, domain)
        registry.update_settings(session, shop_row, pairs)
    click.echo(f"settings of {shop_row.domain} updated: {', '.join(pairs)}", err=True)


# -- ledger jobs and reports -----------------------------------------------------------------------


@main.command("approve-due")
@click.option("--shop", "domain")
@click.option("--as-of", "as_of")
@FORMAT
def approve_due(domain: str | None, as_of: str | None, fmt: str) -> None:
    """Approve every pending record whose time has come."""
    moment = _as_of(as_of)
    with _database(_config()).transaction() as session:
        shops = [registry.require_shop(session, domain)] if domain else shop_rows.all_shops(session)
        approved = {s.domain: ledger.approve_due(session, s, moment) for s in shops}
    if fmt == "json":
        _emit_json({"as_of": moment.isoformat(), "approved": {d: [str(i) for i in ids] for d, ids in approved.items()}})
    else:
        for shop_domain, ids in approved.items():
            click.echo(f"{shop_domain}: {len(ids)} records approved as of {moment.isoformat()}")


@main.group()
def payouts() -> None:
    """Payouts."""


@payouts.command("run")
@click.option("--shop", "domain", required=True)
@click.option("--as-of", "as_of")
@FORMAT
def payouts_run(domain: str, as_of: str | None, fmt: str) -> None:
    """Create payouts from approved, unpaid records."""
    moment = _as_of(as_of)
    with _database(_config()).transaction() as session:
        created = ledger.run_payouts(session, registry.require_shop(session, domain), moment)
        rows = [payout_json(p) for p in created]
    if fmt == "json":
        _emit_json({"payouts": rows})
    else:
        for row in rows:
            click.echo(f"payout {row['id']}: {row['affiliate']} {row['total']} {row['currency']} ({row['records']} records)")
        if not rows:
            click.echo("no payout due")


@main.command("export")
@click.option("--shop", "domain", required=True)
@click.option("--order", "order_id")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def export(domain: str, order_id: str | None, fmt: str) -> None:
    """Ledger records, in creation order."""
    with _database(_config()).reading() as session:
        records = ledger.export_records(session, registry.require_shop(session, domain), order_id)
    if fmt == "json":
        _emit_json({"records": [record_json(r) for r in records]})
    else:
        click.echo(records_csv(records), nl=False)


@main.command("balances")
@click.option("--shop", "domain", required=True)
@FORMAT
def balances(domain: str, fmt: str) -> None:
    """Balances per affiliate."""
    with _database(_config()).reading() as session:
        shop_row = registry.require_shop(session, domain)
        shop_domain = shop_row.domain
        flagged = {a.code: a.flagged for a in shop_rows.affiliates(session, shop_row.id)}
        rows = [balance_json(b, flagged.get(b.affiliate, False)) for b in ledger.balances(session, shop_row)]
    if fmt == "json":
        _emit_json({"balances": rows})
        return
    if not rows:
        click.echo(f"no balances yet for {shop_domain}: no commission has been recorded")
    for row in rows:
        click.echo(f"{row['affiliate']} {row['currency']}: pending {row['pending']}, payable {row['payable']}, paid {row['paid']}, owed {row['owed']}")


@main.group("inbox", invoke_without_command=True)
@click.option("--shop", "domain", help="Only this shop's deliveries.")
@FORMAT
@click.pass_context
def inbox(ctx: click.Context, domain: str | None, fmt: str) -> None:
    """Stored webhook deliveries by status, and those needing attention."""
    if ctx.invoked_subcommand is not None:
        return
    config = _config()
    with _database(config).reading() as session:
        shop_domain = registry.domain_of(domain) if domain else None
        parked_since = utcnow() - timedelta(hours=config.parked_attention_hours)
        summary = inbox_json(inbox_store.counts_by_status(session, shop_domain),
                             inbox_store.needing_attention(session, parked_since, shop_domain))
    if fmt == "json":
        _emit_json(summary)
        return
    click.echo(", ".join(f"{k}: {v}" for k, v in summary["counts"].items()) or "no deliveries")
    for item in summary["attention"]:
        click.echo(f"attention: delivery {item['id']} {item['topic']} {item['status']}: {item['why']}")


@inbox.command("prune")
@click.option("--older-than-days", "days", metavar="N",
              help=f"Delete deliveries finished more than N days ago ({INBOX_RETENTION_DAYS.start}-{INBOX_RETENTION_DAYS.stop - 1}; "
                   "default: CLAWBACK_INBOX_RETENTION_DAYS, 30).")
@FORMAT
def inbox_prune(days: str | None, fmt: str) -> None:
    """Delete finished (done or ignored) deliveries older than the retention, in batches.

    Deliveries in flight or needing a person (received, parked, held, failed, conflict,
    review) are never deleted; the worker runs this by itself."""
    config = _config()
    days_kept = config.inbox_retention_days if days is None else retention_days(days, "--older-than-days")
    now = utcnow()
    before = now - timedelta(days=days_kept)
    removed = inbox_store.prune(_database(config), before, config.prune_batch)
    if fmt == "json":
        _emit_json({"removed": removed, "older_than_days": days_kept, "finished_before": before.isoformat()})
    else:
        click.echo(f"{removed} finished {'delivery' if removed == 1 else 'deliveries'} removed (finished before {before.isoformat()}, {days_kept} days ago)")


# -- reading Shopify -------------------------------------------------------------------------------


def _catch_up(domain: str, since: datetime, what: str) -> None:
    from shopify_app.services.reading import admin_readers
    from shopify_app.services.reconcile import NoAccess, catch_up

    config = _config()
    database = _database(config)
    shop_domain = registry.domain_of(domain)
    with click.progressbar(length=0, label=f"{what} {shop_domain}", file=sys.stderr, show_pos=True) as bar:
        try:
            report = catch_up(database, shop_domain, since, utcnow(), admin_readers(config), progress=lambda n: bar.update(1))
        except NoAccess as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{what} {shop_domain} since {since.isoformat()}: {report.orders} orders read, {report.applied} moved the ledger, "
               f"{report.records} records written", err=True)
    for problem in report.problems:
        click.echo(f"not applied: {problem}", err=True)
    if report.problems:
        sys.exit(1)


@main.command("reconcile")
@click.option("--shop", "domain", required=True)
@click.option("--since", help="ISO 8601; default: the shop's last reconciliation (an hour before it).")
def reconcile(domain: str, since: str | None) -> None:
    """Re-read orders updated since the last sync and apply what webhooks missed."""
    from shopify_app.services.reconcile import resume_from

    if since:
        moment = _as_of(since)
    else:
        with _database(_config()).reading() as session:
            shop_row = registry.require_shop(session, domain)
            moment = resume_from(shop_row.last_reconciled_at, shop_row.installed_at)
    _catch_up(domain, moment, "reconciled")


@main.command("backfill")
@click.option("--shop", "domain", required=True)
@click.option("--days", required=True, type=click.IntRange(1, BACKFILL_MAX_DAYS),
              help=f"How far back (1-{BACKFILL_MAX_DAYS}: older orders need read_all_orders, which the app does not request).")
def backfill(domain: str, days: int) -> None:
    """Import past orders and refunds (on install); safe to run while webhooks arrive."""
    _catch_up(domain, utcnow() - timedelta(days=days), "backfilled")


# -- processing and serving --------------------------------------------------------------------------


@main.command("worker")
@click.option("--until-idle", is_flag=True, help="Exit once every stored delivery has been tried in this run.")
def worker_command(until_idle: bool) -> None:
    """Process received webhooks, retry parked ones, run due approvals."""
    config = _config()
    report = worker.run(_database(config), config, until_idle=until_idle)
    click.echo(f"tried {report.tried}: " + ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items())) + f"; approved {report.approved}"
               + (f"; pruned {report.pruned}" if report.pruned else ""), err=True)


THREADS = 8
"""Request threads per gunicorn worker process."""


def _serve(config: Config, host: str, port: int, run_worker: bool, workers: int) -> None:
    """gunicorn with ``workers`` processes; on the embedded default the worker loop runs too.

    A database connection must never cross a fork (SQLite's lock bookkeeping is per
    process, and pooled PostgreSQL sockets would be shared), so the master migrates, closes
    its connections and opens none again; each gunicorn worker builds its own app after the
    fork. The worker loop runs as ``clawback worker`` in a fresh child process started and
    stopped with the server: a forked child would inherit gunicorn's signal handlers.
    """
    import gc
    import subprocess

    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    from shopify_app.webhooks.routes import PATHS

    _database(config).dispose()
    children: list[subprocess.Popen] = []

    def when_ready(_server) -> None:
        if run_worker:
            env = {**os.environ, "DATABASE_URL": config.database_url}
            children.append(subprocess.Popen([sys.executable, "-m", "shopify_app.cli", "worker"], env=env))

    def on_exit(_server) -> None:
        for child in children:
            child.terminate()
            child.wait(timeout=30)

    class _AccessLog(Logger):
        """gunicorn's access log less the acknowledged webhook deliveries: their lines cost
        0.3-0.4 ms of server CPU each (``bench/ingest.py``), a fifth of an acknowledgement. Every
        other request is logged, refused and failed deliveries included; each acknowledged
        one is a row of the inbox."""

        def access(self, resp, req, environ, request_time) -> None:
            if resp.status_code != 200 or environ.get("PATH_INFO") not in PATHS:
                super().access(resp, req, environ, request_time)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            # Threads: a client that stalls mid-request holds one thread (for at most the
            # intake's body timeout), not a whole worker, so Shopify's deliveries still go through.
            # 8 acknowledged more deliveries per second than 4 or 16 (bench/ingest.py, PostgreSQL).
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": THREADS,
                               "accesslog": "-", "logger_class": _AccessLog, "when_ready": when_ready, "on_exit": on_exit}.items():
                self.cfg.set(key, value)

        def load(self):
            from shopify_app.app import create_app

            app = create_app(config, migrate=False)
            # Everything loaded so far lives as long as the worker: out of the collector's
            # sight, a full collection no longer walks it. Those walks paused a worker for
            # 150-280 ms (bench/ingest.py: p99 at 500/s 95 ms before, 31 ms after).
            gc.freeze()
            return app

    _Server().run()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="Also read from PORT (set by `shopify app dev`).")
@click.option("--no-worker", is_flag=True, help="Do not run the worker in this process.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="gunicorn worker processes")
def serve(host: str, port: int, no_worker: bool, workers: int) -> None:
    """The web app (gunicorn); on the embedded default it also runs the worker in-process."""
    config = _config()
    _serve(config, host, port, run_worker=config.is_sqlite and not no_worker, workers=workers)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed the demo shop and exit.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """A ready demo on its own SQLite file: a shop, affiliates, orders with refunds and an exchange.

    Never the configured DATABASE_URL: a demo must not seed sample orders into a real ledger."""
    from shopify_app.dev.demo import DEMO_SHOP, demo_database_url, seed

    config = _config()
    url = demo_database_url()
    if os.environ.get("DATABASE_URL") and os.environ["DATABASE_URL"] != url:
        click.echo(f"note: the demo uses its own database ({url}), not DATABASE_URL", err=True)
    config = dataclasses.replace(config, database_url=url)
    database = _database(config)
    click.echo(seed(database, config), err=True)
    click.echo(f"inspect it with: DATABASE_URL={url} clawback export --shop clawback-demo.myshopify.com", err=True)
    if not no_serve:
        click.echo(f"the admin: http://{host}:{port}/?shop={DEMO_SHOP} (Ctrl-C stops)", err=True)
        _serve(config, host, port, run_worker=True, workers=1)


@main.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--topic", required=True)
@click.option("--shop", "domain", required=True)
@click.option("--url", help="Webhook endpoint; default: SHOPIFY_APP_URL/webhooks.")
def replay(file: Path, topic: str, domain: str, url: str | None) -> None:
    """Send a payload file as a correctly signed Shopify webhook."""
    from shopify_app.dev.replay import send

    config = _config()
    status = send(file.read_bytes(), topic, registry.domain_of(domain), config, url)
    click.echo(f"{topic} -> {status}", err=True)
    if not 200 <= status < 300:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
