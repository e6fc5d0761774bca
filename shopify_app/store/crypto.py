"""Access tokens encrypted at rest with Fernet (AES-128-CBC + HMAC, from ``cryptography``).

Production must set ``CLAWBACK_ENCRYPTION_KEY`` (a Fernet key). In dev mode a key is
generated once and kept in ``instance/encryption.key`` so tokens survive restarts.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shopify_app.config import INSTANCE_DIR, Config, ConfigError


def load_key(config: Config) -> bytes:
    if config.encryption_key:
        return config.encryption_key.encode()
    if not config.dev_mode:
        raise ConfigError("CLAWBACK_ENCRYPTION_KEY is required outside dev mode")
    path = Path(INSTANCE_DIR) / "encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_bytes().strip()


class TokenCipher:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigError("CLAWBACK_ENCRYPTION_KEY is not a valid Fernet key") from exc

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("an access token cannot be decrypted with the configured key") from exc
