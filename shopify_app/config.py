"""Typed settings from the environment (docs/interfaces.md, "Configuration").

The app refuses to start on a configuration that would be unsafe in production: dev mode
(built-in secrets, ``?shop=`` instead of session tokens) together with a public URL or a
PostgreSQL database, or a Shopify origin that would send tokens over plain HTTP.

``CLAWBACK_INBOX_RETENTION_DAYS`` (default 30, from 7 to 3650): how long a finished webhook
delivery (done or ignored) stays in the inbox before the worker deletes it; the ledger is the
record of what it did. Deliveries that are in flight or need a person are never deleted.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

DEFAULT_MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
MAX_WEBHOOK_BYTES = range(1024, 64 * 1024 * 1024 + 1)
INBOX_RETENTION_DAYS = range(7, 3651)
"""The retention of finished deliveries, in days. At least 7: a Shopify retry of a pruned
delivery is no longer a duplicate to the inbox (it is tried again, and the ledger's record
identities make it add nothing), so rows are kept well past Shopify's retry window (8 tries
over 4 hours today, up to 48 hours in older documentation) and a weekend of nobody looking."""
DEFAULT_INBOX_RETENTION_DAYS = 30
INSTANCE_DIR = Path(os.environ.get("CLAWBACK_INSTANCE_DIR", Path.cwd() / "instance"))


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'clawback.sqlite3'}"


@dataclass(frozen=True)
class Config:
    api_key: str = "dev-api-key"
    api_secret: str = "dev-api-secret-for-local-use-only"
    api_secret_old: str | None = None
    app_url: str = "http://127.0.0.1:8080"
    database_url: str = field(default_factory=_default_database_url)
    encryption_key: str | None = None  # one Fernet key, or several comma-separated: the first encrypts
    smtp_url: str | None = None
    shopify_origin: str = "https://{shop}"  # where token and Admin API calls go; {shop} is the shop domain
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES
    dev_mode: bool = True
    worker_max_attempts: int = 8
    # Deliveries per worker transaction: one commit, one claim, one read of the orders and
    # one write of each changed row per batch (``store.batch``; its orders are locked in key
    # order first, so two workers never deadlock). 50, not 20: 458 -> 572/s on SQLite and
    # 372 -> 445/s with two PostgreSQL workers (bench/RESULTS.md, 2026-12-02). On SQLite a
    # batch holds the write lock for ~85 ms (1.7 ms per delivery): an intake running beside
    # the worker may wait that long for its INSERT, far inside Shopify's 5 s.
    worker_batch: int = 50
    parked_attention_hours: int = 24
    reconcile_every: timedelta = timedelta(hours=6)  # per shop, by the worker: webhooks are not guaranteed
    # Finished deliveries older than this are deleted by the worker (store.inbox.prune): at
    # most ``inbox_prune_batches`` transactions of a batch each time it runs its periodic jobs
    # (every idle minute), so a backlog is worked off without holding the worker for long.
    # SQLite: small batches, because each holds the writer lock the intake needs (1,000 rows
    # took ~40 ms there, bench/inbox.py; PostgreSQL ~6 ms, and its intake does not wait).
    inbox_retention_days: int = DEFAULT_INBOX_RETENTION_DAYS
    inbox_prune_batch: int = 1000
    inbox_prune_batch_sqlite: int = 200
    inbox_prune_batches: int = 20

    @property
    def prune_batch(self) -> int:
        """Rows per cleanup transaction on this configuration's database."""
        return self.inbox_prune_batch_sqlite if self.is_sqlite else self.inbox_prune_batch

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """Secrets a webhook HMAC may be made with: current first, then the one being rotated out."""
        return tuple(s for s in (self.api_secret, self.api_secret_old) if s)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Config:
        env = os.environ if env is None else env
        dev_mode = env.get("CLAWBACK_DEV", "1" if "SHOPIFY_API_SECRET" not in env else "0") not in {"0", "false", ""}
        values: dict[str, object] = {
            "api_key": env.get("SHOPIFY_API_KEY", "dev-api-key" if dev_mode else ""),
            "api_secret": env.get("SHOPIFY_API_SECRET", "dev-api-secret-for-local-use-only" if dev_mode else ""),
            "api_secret_old": env.get("SHOPIFY_API_SECRET_OLD") or None,
            "app_url": env.get("SHOPIFY_APP_URL", "http://127.0.0.1:8080"),
            "database_url": env.get("DATABASE_URL") or _default_database_url(),
            "encryption_key": env.get("CLAWBACK_ENCRYPTION_KEY") or None,
            "smtp_url": env.get("SMTP_URL") or None,
            "shopify_origin": env.get("CLAWBACK_SHOPIFY_ORIGIN") or "https://{shop}",
            "dev_mode": dev_mode,
        }
        values["max_webhook_bytes"] = bounded(env.get("CLAWBACK_MAX_WEBHOOK_BYTES") or None, "CLAWBACK_MAX_WEBHOOK_BYTES",
                                              MAX_WEBHOOK_BYTES, DEFAULT_MAX_WEBHOOK_BYTES, "bytes",
                                              "a smaller limit refuses real orders; a larger one lets one request fill memory")
        values["inbox_retention_days"] = retention_days(env.get("CLAWBACK_INBOX_RETENTION_DAYS") or None, "CLAWBACK_INBOX_RETENTION_DAYS")
        values.update(overrides)
        config = cls(**values)  # type: ignore[arg-type]
        config = replace(config, shopify_origin=check_origin(config.shopify_origin))
        if config.dev_mode and not is_loopback(config.app_url):
            raise ConfigError(f"dev mode (CLAWBACK_DEV) refuses a public SHOPIFY_APP_URL ({config.app_url}): set SHOPIFY_API_SECRET and CLAWBACK_ENCRYPTION_KEY")
        if config.dev_mode and config.is_postgres:
            raise ConfigError("dev mode (CLAWBACK_DEV) refuses a PostgreSQL DATABASE_URL: it is for the embedded SQLite default only")
        if not config.dev_mode:
            missing = [name for name, value in (("SHOPIFY_API_KEY", config.api_key), ("SHOPIFY_API_SECRET", config.api_secret), ("CLAWBACK_ENCRYPTION_KEY", config.encryption_key)) if not value]
            if missing:
                raise ConfigError(f"missing required settings outside dev mode: {', '.join(missing)}")
        return config


def bounded(text: str | None, name: str, allowed: range, default: int, unit: str, why: str) -> int:
    """A whole number within ``allowed`` (``default`` for None); ``name`` says where the value
    came from in the error, ``why`` why the bounds are what they are."""
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value not in allowed:
        raise ConfigError(f"{name} must be a whole number of {unit} from {allowed.start} to {allowed.stop - 1}, got {text[:40]!r} ({why})")
    return value


def retention_days(text: str | None, name: str) -> int:
    """A retention in whole days within ``INBOX_RETENTION_DAYS`` (the default for None)."""
    return bounded(text, name, INBOX_RETENTION_DAYS, DEFAULT_INBOX_RETENTION_DAYS, "days",
                   "a shorter one could forget a delivery Shopify still retries")


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_origin(template: str) -> str:
    """``CLAWBACK_SHOPIFY_ORIGIN`` (stripped of a trailing slash) when it is safe to send
    tokens to: it names ``{shop}`` exactly once (each shop's tokens go to that shop), carries
    no credentials, query or fragment, and is HTTPS, or plain HTTP to a loopback host only (a
    local fake Shopify for tests and development). Anything else refuses to start, so a
    misconfigured deployment never sends a token over plain HTTP."""
    text = template.strip().rstrip("/")
    if text.count("{shop}") != 1:
        raise ConfigError(f"CLAWBACK_SHOPIFY_ORIGIN {template!r} must contain {{shop}} exactly once")
    parts = urlsplit(text.replace("{shop}", "probe.myshopify.com"))
    try:
        host, _ = parts.hostname, parts.port  # .port raises ValueError on a malformed port
    except ValueError:
        raise ConfigError(f"CLAWBACK_SHOPIFY_ORIGIN {template!r} is not a URL") from None
    if not host or "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"CLAWBACK_SHOPIFY_ORIGIN {template!r} must be scheme://host[:port][/path], no credentials, query or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(f"http://{parts.netloc}")):
        return text
    raise ConfigError(f"CLAWBACK_SHOPIFY_ORIGIN {template!r} would send tokens in the clear: use https:// or a loopback host")
