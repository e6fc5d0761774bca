"""Shop domains: ``NAME.myshopify.com`` exactly, or refused.

ShopifyAPI's ``sanitize_shop_domain`` does the anchored check, but it also *normalises*:
``https://shop-a.myshopify.com/admin`` and ``shop-a`` both become ``shop-a.myshopify.com``
(and ShopifyAPI's ``Session`` would turn ``https://evil.com`` into ``evil.myshopify.com``).
A domain that needs rewriting is not what the sender claims to be, so it is refused, not
repaired: one rule for webhook headers, the CLI, OAuth and session tokens alike.
"""

from __future__ import annotations

from shopify.utils.shop_url import sanitize_shop_domain

MAX_LENGTH = 63 + len(".myshopify.com")  # one DNS label of at most 63 characters


class InvalidShopDomain(ValueError):
    """Not a ``NAME.myshopify.com`` host."""


def valid_shop_domain(raw: str | None) -> str:
    """``raw`` lowercased and stripped, when it is exactly a ``NAME.myshopify.com`` host."""
    text = (raw or "").strip().lower()
    if len(text) <= MAX_LENGTH and sanitize_shop_domain(text) == text:
        return text
    shown = repr(raw if raw is None or len(raw) <= 80 else raw[:77] + "...")
    raise InvalidShopDomain(f"not a valid shop domain: {shown} (expected NAME.myshopify.com)")
