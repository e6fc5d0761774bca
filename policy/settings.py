"""A shop's policy settings: one typed, validated value shared by the admin, the CLI and policy.

Keys and defaults are the product's outside (docs/interfaces.md); ``parse`` turns the
``KEY=VALUE`` strings a person types into typed values, or raises ``SettingError`` with a
one-line reason. Every value is bounded (``_LIMITS``): a rate of ``1E-999999999`` or a delay
of a hundred million days is refused here, before anything computes with it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from enum import StrEnum
from typing import Mapping

from ledger.money import minor_digits


class SettingError(ValueError):
    """A setting key or value is not valid."""


class DelayStarts(StrEnum):
    ORDER = "order"
    FULFILLMENT = "fulfillment"


class AmountOnlyRefunds(StrEnum):
    PRORATE = "prorate"
    IGNORE = "ignore"
    REVIEW = "review"


class ExchangeUpgrades(StrEnum):
    COMMISSION = "commission"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Settings:
    approval_delay_days: int = 30
    delay_starts: DelayStarts = DelayStarts.ORDER
    default_rate_percent: Decimal = Decimal("10")
    amount_only_refunds: AmountOnlyRefunds = AmountOnlyRefunds.PRORATE
    exchange_upgrades: ExchangeUpgrades = ExchangeUpgrades.COMMISSION
    minimum_payout: Decimal = Decimal("0")
    notify_affiliates: bool = True
    refund_rate_threshold_percent: Decimal = Decimal("30")
    refund_rate_minimum_orders: int = 10
    chargeback_threshold: int = 3
    flagged_extra_delay_days: int = 30

    def as_strings(self) -> dict[str, str]:
        """Every setting as the string a person would type (for display and storage)."""
        out = {}
        for key, value in asdict(self).items():
            out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    def updated(self, assignments: Mapping[str, str], currency: str | None = None) -> Settings:
        """A copy with ``assignments`` (key -> typed-in string) applied; all or nothing.
        ``currency`` is the shop's, when known: money settings may not be finer than it."""
        return replace(self, **{key: parse(key, raw, currency) for key, raw in assignments.items()})

    @classmethod
    def from_strings(cls, stored: Mapping[str, str]) -> Settings:
        """Settings as stored (unknown keys dropped); stored money values were checked against
        the shop's currency when saved, so they load without it."""
        return cls().updated({k: v for k, v in stored.items() if k in _FIELDS})


_FIELDS = {f.name: f for f in fields(Settings)}


@dataclass(frozen=True)
class _Limit:
    maximum: int
    decimals: int = 0  # decimal places allowed; for money, the currency's when the shop's is known
    money: bool = False


# Why these maxima: a delay beyond ten years is a typo (and a hundred million days overflows
# every date); a rate is a percentage; four decimals of a percent is finer than any contract;
# a billion is beyond any payout minimum. A count beyond them is no policy anyone sets.
_LIMITS = {
    "approval_delay_days": _Limit(3650),
    "flagged_extra_delay_days": _Limit(3650),
    "default_rate_percent": _Limit(100, decimals=4),
    "refund_rate_threshold_percent": _Limit(100, decimals=2),
    "refund_rate_minimum_orders": _Limit(100_000),
    "chargeback_threshold": _Limit(1000),
    "minimum_payout": _Limit(1_000_000_000, decimals=3, money=True),
}

_NUMBER = re.compile(r"[0-9]{1,12}(?:\.([0-9]{1,20}))?")


def _show(raw: str) -> str:
    """The typed-in value for a message, cut short: a pasted value can be megabytes."""
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


def _number(key: str, raw: str, limit: _Limit, currency: str | None) -> Decimal | int:
    """A plain decimal number within ``limit``: no sign, exponent, underscore or NaN."""
    text = raw.strip()
    decimals = minor_digits(currency) if limit.money and currency else limit.decimals
    found = _NUMBER.fullmatch(text)
    if found is None:
        kind = "a whole number" if decimals == 0 else "a number"
        raise SettingError(f"{key} must be {kind} from 0 to {limit.maximum}, got {_show(raw)}")
    places = len(found.group(1) or "")
    if places > decimals:
        unit = f"{currency} " if limit.money and currency else ""
        allowed = "no decimals" if decimals == 0 else f"at most {decimals} decimals"
        raise SettingError(f"{key} takes {unit}amounts with {allowed}, got {_show(raw)}")
    value = Decimal(text)
    if value > limit.maximum:
        raise SettingError(f"{key} must be from 0 to {limit.maximum}, got {_show(raw)}")
    return int(value) if _FIELDS[key].type == "int" else value


def _choice(key: str, raw: str, enum: type[StrEnum]) -> StrEnum:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise SettingError(f"{key} must be one of {allowed}, got {_show(raw)}") from None


def _boolean(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"true", "yes", "1", "on"}:
        return True
    if lowered in {"false", "no", "0", "off"}:
        return False
    raise SettingError(f"{key} must be true or false, got {_show(raw)}")


def parse(key: str, raw: str, currency: str | None = None) -> object:
    """Typed value of one setting from its string form."""
    if key not in _FIELDS:
        raise SettingError(f"unknown setting {key!r}; known: {', '.join(_FIELDS)}")
    if key in _LIMITS:
        return _number(key, raw, _LIMITS[key], currency)
    kind = _FIELDS[key].type
    if kind == "bool":
        return _boolean(key, raw)
    return _choice(key, raw, {"DelayStarts": DelayStarts, "AmountOnlyRefunds": AmountOnlyRefunds, "ExchangeUpgrades": ExchangeUpgrades}[kind])
