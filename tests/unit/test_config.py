"""The configuration refuses what would be unsafe in production: dev mode with a public URL or
PostgreSQL, a Shopify origin that would carry tokens over plain HTTP or to a fixed host, and
production without its secrets. Tokens at rest survive a key rotation."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet

from shopify_app.config import Config, ConfigError, check_origin
from shopify_app.store.crypto import TokenCipher

PRODUCTION = {"SHOPIFY_API_KEY": "key", "SHOPIFY_API_SECRET": "secret", "CLAWBACK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
              "SHOPIFY_APP_URL": "https://clawback.example.com", "DATABASE_URL": "postgresql+psycopg://app@db/clawback"}


def test_dev_mode_is_on_only_while_no_secret_is_set() -> None:
    assert Config.from_env({}).dev_mode is True
    assert Config.from_env(PRODUCTION).dev_mode is False


@pytest.mark.parametrize("env, message", [
    ({"SHOPIFY_APP_URL": "https://clawback.example.com"}, "dev mode (CLAWBACK_DEV) refuses a public SHOPIFY_APP_URL"),
    ({"SHOPIFY_APP_URL": "http://10.0.0.5:8080"}, "refuses a public SHOPIFY_APP_URL"),
    ({"DATABASE_URL": "postgresql+psycopg://app@db/clawback"}, "refuses a PostgreSQL DATABASE_URL"),
    ({**PRODUCTION, "CLAWBACK_DEV": "1"}, "dev mode (CLAWBACK_DEV) refuses"),
])
def test_dev_mode_refuses_to_start_where_it_could_do_harm(env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config.from_env(env)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:3000", "http://[::1]:8080"])
def test_dev_mode_runs_on_this_machine(url: str) -> None:
    assert Config.from_env({"SHOPIFY_APP_URL": url}).dev_mode is True


@pytest.mark.parametrize("template, expected", [
    ("https://{shop}", "https://{shop}"),
    ("https://{shop}/", "https://{shop}"),
    ("https://proxy.example.com/shops/{shop}", "https://proxy.example.com/shops/{shop}"),
    ("http://127.0.0.1:8080/{shop}", "http://127.0.0.1:8080/{shop}"),
    ("http://localhost/{shop}", "http://localhost/{shop}"),
    ("http://[::1]:9000/{shop}", "http://[::1]:9000/{shop}"),
])
def test_check_origin_accepts_https_and_loopback(template: str, expected: str) -> None:
    assert check_origin(template) == expected


@pytest.mark.parametrize("template", [
    "http://{shop}",  # plain HTTP to the shop: the token would travel in clear
    "http://example.com/{shop}",
    "http://127.0.0.1.{shop}",  # looks loopback, is not
    "https://example.com",  # no {shop}
    "https://{shop}/{shop}",
    "ftp://{shop}",
    "{shop}",
    "https://user@{shop}",
    "https://{shop}?x=1",
    "http://127.0.0.1:99999/{shop}",
])
def test_check_origin_refuses_everything_else(template: str) -> None:
    with pytest.raises(ConfigError, match="CLAWBACK_SHOPIFY_ORIGIN") as caught:
        check_origin(template)
    assert "\n" not in str(caught.value)


def test_the_app_refuses_to_start_on_an_unsafe_origin() -> None:
    with pytest.raises(ConfigError, match="would send tokens in the clear"):
        Config.from_env({**PRODUCTION, "CLAWBACK_SHOPIFY_ORIGIN": "http://{shop}"})
    assert Config.from_env({**PRODUCTION, "CLAWBACK_SHOPIFY_ORIGIN": "http://127.0.0.1:9/{shop}/"}).shopify_origin == "http://127.0.0.1:9/{shop}"


def test_production_names_every_missing_secret() -> None:
    with pytest.raises(ConfigError, match="SHOPIFY_API_KEY, CLAWBACK_ENCRYPTION_KEY"):
        Config.from_env({"SHOPIFY_API_SECRET": "secret", "SHOPIFY_APP_URL": "https://clawback.example.com"})


def test_a_rotated_key_still_reads_old_tokens_and_rotate_moves_them_to_the_new_key() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    stored = TokenCipher([old]).encrypt("shpat_secret")
    both = TokenCipher([new, old])  # CLAWBACK_ENCRYPTION_KEY="new,old"
    assert both.decrypt(stored) == "shpat_secret"
    rotated = both.rotate(stored)
    assert TokenCipher([new]).decrypt(rotated) == "shpat_secret"
    with pytest.raises(ConfigError, match="cannot be decrypted with any configured key"):
        TokenCipher([new]).decrypt(stored)
    cipher = TokenCipher.from_config(Config.from_env({**PRODUCTION, "CLAWBACK_ENCRYPTION_KEY": f"{new.decode()}, {old.decode()}"}))
    assert cipher.decrypt(stored) == "shpat_secret"


def test_a_key_that_is_not_a_fernet_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        TokenCipher.from_config(Config.from_env({**PRODUCTION, "CLAWBACK_ENCRYPTION_KEY": "not-a-key"}))


@pytest.mark.parametrize("value, days", [(None, 30), ("", 30), ("7", 7), (" 90 ", 90), ("3650", 3650)])
def test_inbox_retention_days_default_and_bounds(value: str | None, days: int) -> None:
    env = {} if value is None else {"CLAWBACK_INBOX_RETENTION_DAYS": value}
    assert Config.from_env(env).inbox_retention_days == days


@pytest.mark.parametrize("value", ["6", "0", "-30", "3651", "thirty", "7.5"])
def test_an_inbox_retention_shorter_than_shopifys_retries_or_malformed_is_refused(value: str) -> None:
    # Below 7 days a Shopify retry could outlive the row that makes it a duplicate.
    with pytest.raises(ConfigError, match="CLAWBACK_INBOX_RETENTION_DAYS must be a whole number of days from 7 to 3650") as caught:
        Config.from_env({"CLAWBACK_INBOX_RETENTION_DAYS": value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", ["0", "-1", "1023", "67108865", "five", "5e6"])
def test_a_webhook_size_limit_out_of_bounds_or_malformed_is_refused(value: str) -> None:
    # 0 would answer 413 to every webhook, unseen; a huge limit lets one request fill memory.
    with pytest.raises(ConfigError, match="CLAWBACK_MAX_WEBHOOK_BYTES must be a whole number of bytes from 1024 to 67108864") as caught:
        Config.from_env({"CLAWBACK_MAX_WEBHOOK_BYTES": value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value, limit", [(None, 5 * 1024 * 1024), ("", 5 * 1024 * 1024), ("2000", 2000)])
def test_the_webhook_size_limit_default_and_a_set_one(value: str | None, limit: int) -> None:
    env = {} if value is None else {"CLAWBACK_MAX_WEBHOOK_BYTES": value}
    assert Config.from_env(env).max_webhook_bytes == limit
