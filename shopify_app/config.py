"""Typed settings from the environment (docs/interfaces.md, "Configuration")."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEFAULT_MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
INSTANCE_DIR = Path(os.environ.get("CLAWBACK_INSTANCE_DIR", Path.cwd() / "instance"))


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'clawback.sqlite3'}"


@dataclass(frozen=True)
class Config:
    api_key: str = "dev-api-key"
    api_secret: str = "dev-api-secret"
    api_secret_old: str | None = None
    app_url: str = "http://127.0.0.1:8080"
    database_url: str = field(default_factory=_default_database_url)
    encryption_key: str | None = None
    smtp_url: str | None = None
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES
    dev_mode: bool = True
    worker_max_attempts: int = 8
    # Deliveries per worker transaction. PostgreSQL: one, so a worker holds the hot balance
    # rows of an affiliate only for one delivery (larger batches serialised two workers on
    # those rows and deadlocked them, bench/RESULTS.md 12:42). SQLite: a few, to share one
    # fsync, but few, because the batch holds the write lock the webhook intake needs.
    worker_batch: int = 1
    worker_batch_sqlite: int = 5
    parked_attention_hours: int = 24

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """Secrets a webhook HMAC may be made with: current first, then the one being rotated out."""
        return tuple(s for s in (self.api_secret, self.api_secret_old) if s)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Config:
        env = os.environ if env is None else env
        dev_mode = env.get("CLAWBACK_DEV", "1" if "SHOPIFY_API_SECRET" not in env else "0") not in {"0", "false", ""}
        values: dict[str, object] = {
            "api_key": env.get("SHOPIFY_API_KEY", "dev-api-key" if dev_mode else ""),
            "api_secret": env.get("SHOPIFY_API_SECRET", "dev-api-secret" if dev_mode else ""),
            "api_secret_old": env.get("SHOPIFY_API_SECRET_OLD") or None,
            "app_url": env.get("SHOPIFY_APP_URL", "http://127.0.0.1:8080"),
            "database_url": env.get("DATABASE_URL") or _default_database_url(),
            "encryption_key": env.get("CLAWBACK_ENCRYPTION_KEY") or None,
            "smtp_url": env.get("SMTP_URL") or None,
            "dev_mode": dev_mode,
        }
        try:
            values["max_webhook_bytes"] = int(env.get("CLAWBACK_MAX_WEBHOOK_BYTES", DEFAULT_MAX_WEBHOOK_BYTES))
        except ValueError:
            raise ConfigError("CLAWBACK_MAX_WEBHOOK_BYTES must be a whole number of bytes") from None
        values.update(overrides)
        config = cls(**values)  # type: ignore[arg-type]
        if not config.dev_mode:
            missing = [name for name, value in (("SHOPIFY_API_KEY", config.api_key), ("SHOPIFY_API_SECRET", config.api_secret), ("CLAWBACK_ENCRYPTION_KEY", config.encryption_key)) if not value]
            if missing:
                raise ConfigError(f"missing required settings outside dev mode: {', '.join(missing)}")
        return config
