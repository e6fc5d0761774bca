"""Access and refresh tokens encrypted at rest with Fernet (AES-128-CBC + HMAC, from
``cryptography``), through ``MultiFernet`` so the key can be rotated without downtime.

``CLAWBACK_ENCRYPTION_KEY`` holds one Fernet key, or several separated by commas: the first
encrypts, every one decrypts. To rotate: put the new key first, keep the old one after it,
run ``clawback keys rotate`` (re-encrypts every stored token with the new key), then drop
the old key. Production must set it; in dev mode a key is generated once and kept in
``instance/encryption.key`` so tokens survive restarts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shopify_app import config as configuration
from shopify_app.config import Config, ConfigError


def load_keys(config: Config) -> list[bytes]:
    """The configured keys, newest first."""
    if config.encryption_key:
        return [key.strip().encode() for key in config.encryption_key.split(",") if key.strip()]
    if not config.dev_mode:
        raise ConfigError("CLAWBACK_ENCRYPTION_KEY is required outside dev mode")
    path = Path(configuration.INSTANCE_DIR) / "encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return [path.read_bytes().strip()]


class TokenCipher:
    def __init__(self, keys: bytes | Sequence[bytes]) -> None:
        keys = [keys] if isinstance(keys, bytes) else list(keys)
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise ConfigError("CLAWBACK_ENCRYPTION_KEY holds a value that is not a Fernet key") from exc

    @classmethod
    def from_config(cls, config: Config) -> TokenCipher:
        return cls(load_keys(config))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("a stored token cannot be decrypted with any configured key (CLAWBACK_ENCRYPTION_KEY)") from exc

    def rotate(self, stored: str) -> str:
        """``stored`` re-encrypted with the first key (it may have been made with any)."""
        try:
            return self._fernet.rotate(stored.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("a stored token cannot be decrypted with any configured key (CLAWBACK_ENCRYPTION_KEY)") from exc
