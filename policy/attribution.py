"""Which affiliate an order belongs to, and self-referrals.

Priority: a discount code equal to the affiliate's code; a ``ref`` note attribute; a
``ref=CODE`` query parameter in the landing site. Codes compare case-insensitively. An
order whose buyer email equals the affiliate's email earns nothing (self-referral).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Candidate:
    code: str
    email: str


@dataclass(frozen=True)
class Clues:
    """What an order shows about who referred it (interfaces.md, "Attribution of orders")."""

    discount_codes: Sequence[str] = ()
    ref_attribute: str | None = None
    landing_site: str | None = None
    buyer_emails: Sequence[str] = ()


def _landing_ref(landing_site: str | None) -> str | None:
    if not landing_site:
        return None
    values = parse_qs(urlsplit(landing_site).query).get("ref")
    return values[0] if values else None


def _claims(order: Clues) -> list[tuple[str, str]]:
    """``(how, code key)`` of each code the order carries, in priority order."""
    found = [
        *(("discount code", c) for c in order.discount_codes),
        ("ref attribute", order.ref_attribute),
        ("landing site ref", _landing_ref(order.landing_site)),
    ]
    return [(how, code.strip().casefold()) for how, code in found if code and code.strip()]


def code_keys(order: Clues) -> set[str]:
    """The code keys the order could be attributed by: the only affiliates worth loading."""
    return {key for _, key in _claims(order)}


def attribute(order: Clues, affiliates: Iterable[Candidate]) -> tuple[Candidate | None, str]:
    """The affiliate the order belongs to (or None) and a one-line why."""
    by_code = {a.code.casefold(): a for a in affiliates}
    found = next(((by_code[key], how) for how, key in _claims(order) if key in by_code), None)
    if found is None:
        return None, "no affiliate code on the order"
    candidate, how = found
    buyers = {e.strip().casefold() for e in order.buyer_emails if e}
    if candidate.email.strip().casefold() in buyers:
        return None, f"self-referral by {candidate.code} ({how}): no commission"
    return candidate, f"attributed to {candidate.code} by {how}"
