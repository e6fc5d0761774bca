"""A shop's policy settings: one typed, validated value shared by the admin, the CLI and policy.

Keys and defaults are the product's outside (docs/interfaces.md); ``parse`` turns the
``KEY=VALUE`` strings a person types into typed values, or raises ``SettingError`` with a
one-line reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Mapping


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
    chargeback_threshold: int = 3
    flagged_extra_delay_days: int = 30

    def as_strings(self) -> dict[str, str]:
        """Every setting as the string a person would type (for display and storage)."""
        out = {}
        for key, value in asdict(self).items():
            out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    def updated(self, assignments: Mapping[str, str]) -> Settings:
        """A copy with ``assignments`` (key -> typed-in string) applied; all or nothing."""
        return replace(self, **{key: parse(key, raw) for key, raw in assignments.items()})

    @classmethod
    def from_strings(cls, stored: Mapping[str, str]) -> Settings:
        return cls().updated({k: v for k, v in stored.items() if k in _FIELDS})


_FIELDS = {f.name: f for f in fields(Settings)}


def _non_negative_int(key: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingError(f"{key} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise SettingError(f"{key} must not be negative, got {value}")
    return value


def _non_negative_decimal(key: str, raw: str, maximum: Decimal | None = None) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise SettingError(f"{key} must be a number, got {raw!r}") from None
    if not value.is_finite() or value < 0 or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise SettingError(f"{key} must be at least 0{bound}, got {raw!r}")
    return value


def _choice(key: str, raw: str, enum: type[StrEnum]) -> StrEnum:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise SettingError(f"{key} must be one of {allowed}, got {raw!r}") from None


def _boolean(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"true", "yes", "1", "on"}:
        return True
    if lowered in {"false", "no", "0", "off"}:
        return False
    raise SettingError(f"{key} must be true or false, got {raw!r}")


def parse(key: str, raw: str) -> object:
    """Typed value of one setting from its string form."""
    if key not in _FIELDS:
        raise SettingError(f"unknown setting {key!r}; known: {', '.join(_FIELDS)}")
    kind = _FIELDS[key].type
    if kind == "int":
        return _non_negative_int(key, raw)
    if kind == "bool":
        return _boolean(key, raw)
    if kind == "Decimal":
        maximum = Decimal(100) if key.endswith("_percent") else None
        return _non_negative_decimal(key, raw, maximum)
    return _choice(key, raw, {"DelayStarts": DelayStarts, "AmountOnlyRefunds": AmountOnlyRefunds, "ExchangeUpgrades": ExchangeUpgrades}[kind])
