"""Errors a person can act on: a one-line message for the CLI, a 4xx on HTTP."""

from __future__ import annotations


class NotFound(LookupError):
    """An unknown shop, affiliate or order."""


class InvalidInput(ValueError):
    """Input a person typed is not valid (shop domain, code, email, rate, delay); ``field``
    names the form field it is about, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TryLater(RuntimeError):
    """A condition that will pass (a delivery it depends on is still in the inbox): try
    again later, and give up visibly after the configured number of attempts."""
