"""Named domain errors. Each names the rule that was broken, so a log line explains itself."""


class LedgerError(Exception):
    """Base of every error the core raises on purpose."""


class MoneyError(LedgerError, ValueError):
    """A value is not valid money: float input, unknown currency, too many decimals, mismatch."""


class IdempotencyConflict(LedgerError):
    """The same idempotency key arrived again with different content. Never applied."""

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        super().__init__(f"conflict on {key}: same id, different content{': ' + detail if detail else ''}")


class InvariantViolation(LedgerError):
    """A proposed change would break a ledger invariant. A programming error: roll back."""
