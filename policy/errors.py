"""Errors of the policy, each a one-line reason a merchant can read."""

from __future__ import annotations

from ledger.errors import LedgerError


class EventRefused(LedgerError):
    """An event contradicts what is known about its order (a refund in another currency than
    the sale, a line that is not on the order): never applied, kept visible with this reason.

    ``final`` is False when fresher knowledge could resolve it: a line not on the order yet
    may come with an exchange or an edit whose own delivery is late, so the caller retries
    before it gives up (visibly)."""

    def __init__(self, key: str, reason: str, *, final: bool = True) -> None:
        self.key = key
        self.final = final
        super().__init__(f"{key} refused: {reason}")
