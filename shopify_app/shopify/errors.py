"""Errors about Shopify data, each a one-line message a merchant or an engineer can act on."""

from __future__ import annotations


class PayloadError(ValueError):
    """The body is not a payload Shopify sends: bad bytes, or a field missing, malformed or
    out of bounds. Retrying cannot help; the message names the field path
    (``order 1001: line_items[0].price_set.shop_money.amount: not a decimal amount: '12x'``),
    so the delivery is marked failed with a reason a person can act on."""


class NeedsFetch(LookupError):
    """The payload is valid but too thin for its event (an exchange line not priced yet, a
    return whose lines the webhook left out): fetch the order or the return from Shopify and
    try again. Retrying with fresher data can help, so it is not a ``PayloadError``."""
