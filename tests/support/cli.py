"""Running ``clawback`` commands in tests: in-process through click's ``CliRunner`` (stdout
and stderr kept apart, whatever the click version) or as a real subprocess of the
installed console script.

``CLAWBACK_INSTANCE_DIR`` is read once, when ``shopify_app.config`` is imported, so an
in-process run cannot move it through the environment alone: :class:`Cli` also points the
imported module globals at the test's directory, so nothing is ever written under the
working directory's ``instance/``.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from shopify_app.cli import main

CLAWBACK = str(Path(sys.executable).with_name("clawback"))

# Variables of the outer environment that would change what a command does.
_CLEARED = (
    "DATABASE_URL",
    "SHOPIFY_API_KEY",
    "SHOPIFY_API_SECRET",
    "SHOPIFY_API_SECRET_OLD",
    "SHOPIFY_APP_URL",
    "CLAWBACK_ENCRYPTION_KEY",
    "CLAWBACK_MAX_WEBHOOK_BYTES",
    "CLAWBACK_INBOX_RETENTION_DAYS",
    "SMTP_URL",
    "CLAWBACK_SHOPIFY_ORIGIN",
    "CLAWBACK_DEV",
)


def _runner() -> CliRunner:
    """A runner whose ``result.stdout`` holds stdout alone: click >= 8.2 always keeps the
    streams apart; older versions need ``mix_stderr=False``."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # pragma: no cover - click < 8.2
    return CliRunner()


TEST_ENCRYPTION_KEY = "8aMKtAahPtKXZmA4Rp0y3GRPhj8wFJ1w_GRtbe-ZccA="
"""A fixed Fernet key for commands run outside dev mode."""


def cli_env(database_url: str | None, instance_dir: Path, **extra: str | None) -> dict[str, str | None]:
    """The environment of one command: the test database and a private instance dir; dev mode
    on SQLite, and on PostgreSQL (which dev mode refuses) production mode with the test
    secrets. A value of None unsets the variable."""
    env: dict[str, str | None] = {name: None for name in _CLEARED}
    env.update(CLAWBACK_DEV="1", CLAWBACK_INSTANCE_DIR=str(instance_dir))
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if database_url is not None and database_url.startswith("postgresql"):
        env.update(CLAWBACK_DEV="0", SHOPIFY_API_KEY="dev-api-key", SHOPIFY_API_SECRET="dev-api-secret-for-local-use-only",
                   CLAWBACK_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY)
    env.update(extra)
    return env


@dataclass
class Cli:
    """``clawback`` in-process, on one database. ``cli("shop", "add", ...)`` asserts exit 0;
    ``cli.fails(...)`` asserts a non-zero exit; ``cli.json(...)`` parses stdout."""

    database_url: str | None
    instance_dir: Path
    monkeypatch: pytest.MonkeyPatch
    reuse_engine: bool = False

    def __post_init__(self) -> None:
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        self.monkeypatch.setattr("shopify_app.config.INSTANCE_DIR", self.instance_dir)
        self._engines: dict[str, Any] = {}
        if self.reuse_engine:
            # Scenario tests read results through many commands: keep one engine per URL
            # (a new one per command recompiles every statement) and migrate it only once.
            from shopify_app import cli as module
            from shopify_app.store.engine import Database

            migrated: set[str] = set()
            real_upgrade, real_check = module.upgrade, module.check_current

            def database(url: str) -> Database:
                if url not in self._engines:
                    self._engines[url] = Database(url)
                return self._engines[url]

            def upgrade(db: Database) -> None:
                if db.url not in migrated:
                    real_upgrade(db)
                    migrated.add(db.url)

            def check_current(db: Database) -> None:
                if db.url not in migrated:
                    real_check(db)
                    migrated.add(db.url)

            self.monkeypatch.setattr(module, "Database", database)
            self.monkeypatch.setattr(module, "upgrade", upgrade)
            self.monkeypatch.setattr(module, "check_current", check_current)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def run(self, *args: str, **env: str | None) -> Result:
        return _runner().invoke(main, list(args), env=cli_env(self.database_url, self.instance_dir, **env), catch_exceptions=True)

    def __call__(self, *args: str, **env: str | None) -> Result:
        result = self.run(*args, **env)
        if result.exit_code != 0:
            raise AssertionError(
                f"clawback {' '.join(args)} exited {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
                + (f"\nexception: {result.exception!r}" if result.exception and not isinstance(result.exception, SystemExit) else "")
            )
        return result

    def json(self, *args: str, **env: str | None) -> Any:
        """Run a command that prints JSON: stdout must be exactly one JSON document."""
        return json.loads(self(*args, **env).stdout)

    def fails(self, *args: str, **env: str | None) -> Result:
        """Run a command that must fail cleanly: non-zero exit, no traceback, nothing on stdout."""
        result = self.run(*args, **env)
        assert result.exit_code != 0, f"clawback {' '.join(args)} succeeded: {result.stdout}{result.stderr}"
        assert result.exception is None or isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}"
        assert result.stdout == "", f"an error printed to stdout: {result.stdout!r}"
        assert "Traceback" not in result.stderr
        return result

    # -- shortcuts for the commands every scenario uses ------------------------------------
    def export(self, shop: str, order: str | int | None = None) -> list[dict]:
        args = ["export", "--shop", shop, "--format", "json"]
        if order is not None:
            args += ["--order", str(order)]
        document = self.json(*args)
        assert list(document) == ["records"]
        return document["records"]

    def balances(self, shop: str) -> dict[str, dict]:
        document = self.json("balances", "--shop", shop, "--format", "json")
        assert list(document) == ["balances"]
        return {row["affiliate"]: row for row in document["balances"]}

    def approve_due(self, shop: str, as_of: str) -> list[str]:
        document = self.json("approve-due", "--shop", shop, "--as-of", as_of, "--format", "json")
        return document["approved"][shop]

    def payouts(self, shop: str, as_of: str) -> list[dict]:
        return self.json("payouts", "run", "--shop", shop, "--as-of", as_of, "--format", "json")["payouts"]

    def inbox(self) -> dict:
        return self.json("inbox", "--format", "json")


def error_line(result: Result) -> str:
    """The one ``Error:`` line click printed on stderr (usage errors add usage lines above it)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, f"expected one Error: line on stderr, got {result.stderr!r}"
    return lines[0]


def run_script(args: list[str], env: dict[str, str | None], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed ``clawback`` console script as a real process."""
    full = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    for key, value in env.items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return subprocess.run([CLAWBACK, *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


# -- end-to-end scenarios: signed webhooks in, worker, CLI out ---------------------------------

RECORD_KEYS = [
    "id", "order_id", "line_item_id", "affiliate", "kind", "status", "amount", "currency", "base", "rate",
    "pairs_with", "clawback", "reason", "source", "created_at", "approves_at", "occurred_at",
]
BALANCE_KEYS = ["affiliate", "currency", "pending", "payable", "paid", "owed", "flagged"]


def iso(moment) -> str:
    """UTC ISO 8601 with a ``Z``, as payloads and the CLI write times."""
    from datetime import timezone

    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def check_record_shape(record: dict) -> None:
    """The interfaces.md export shape: exactly these keys, ids and amounts as strings."""
    assert list(record) == RECORD_KEYS
    for key in ("id", "order_id", "line_item_id", "affiliate", "kind", "status", "amount", "currency", "base", "rate", "reason", "source",
                "created_at", "occurred_at"):
        assert isinstance(record[key], str), (key, record[key])
    assert record["pairs_with"] is None or isinstance(record["pairs_with"], str)
    assert isinstance(record["clawback"], bool)
    assert record["approves_at"] is None or isinstance(record["approves_at"], str)
    assert record["created_at"].endswith("Z") and record["occurred_at"].endswith("Z")


@dataclass
class Scenario:
    """One shop driven from outside: signed webhooks to the Flask test client, the worker in
    process, results read back through the CLI."""

    client: Any
    cli: Cli
    database: Any
    config: Any
    shop: str

    def post(self, topic: str, payload: Any, **kw: Any):
        from tests.support.signing import post_webhook

        response = post_webhook(self.client, topic, payload, shop=kw.pop("shop", self.shop), **kw)
        assert response.status_code == 200, (topic, response.status_code, response.data)
        return response

    def work(self, **kw: Any):
        from shopify_app import worker

        return worker.run(self.database, self.config, until_idle=True, **kw)

    def affiliate(self, code: str, email: str, *extra: str) -> None:
        self.cli("affiliate", "add", "--shop", self.shop, "--code", code, "--email", email, *extra)

    def records(self, order: str | int | None = None) -> list[dict]:
        records = self.cli.export(self.shop, order)
        for record in records:
            check_record_shape(record)
        assert [int(r["id"]) for r in records] == sorted(int(r["id"]) for r in records)
        return records

    def balances(self) -> dict[str, dict]:
        rows = self.cli.balances(self.shop)
        for row in rows.values():
            assert list(row) == BALANCE_KEYS
        return rows

    def deliveries(self) -> list:
        """Inbox rows in id order (detached copies)."""
        from sqlalchemy import select

        from shopify_app.store.tables import WebhookDelivery

        with self.database.transaction() as session:
            return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def net(records: list[dict], line_item_id: str | int) -> str:
    """Net commission of one line (sum of its records), as a decimal string."""
    from decimal import Decimal

    return str(sum((Decimal(r["amount"]) for r in records if r["line_item_id"] == str(line_item_id)), Decimal(0)))
