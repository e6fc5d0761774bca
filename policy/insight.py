"""The refund-lag insight: how long after their orders this shop's refunds came, and the
approval delay that would have held back a given share of them before any payout.

Pure: lags in days in, a histogram and recommendations out. No affiliate app offers this;
a merchant sets the holding period from their own history instead of a rule of thumb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

COVERAGES = (80, 90, 95)
"""The shares of refunds a delay is recommended for, in percent."""

BUCKET_EDGES = (0, 7, 14, 21, 30, 45, 60, 90)
"""Histogram buckets in days: a week at a time while most refunds come, wider after."""


@dataclass(frozen=True)
class Bucket:
    label: str
    low: int  # days, inclusive
    high: int | None  # days, exclusive; None: no upper end
    count: int


@dataclass(frozen=True)
class LagInsight:
    refunds: int
    buckets: tuple[Bucket, ...]
    recommended: dict[int, int]  # coverage percent -> days
    caught_by: float | None  # share (percent) of refunds the given delay held back


def lag_days(refunded_at, ordered_at) -> float:
    """Days from an order to its refund (never negative: a refund cannot precede its order)."""
    return max(0.0, (refunded_at - ordered_at).total_seconds() / 86400)


def recommended_delay(lags: Sequence[float], coverage: int) -> int:
    """The fewest whole days of delay that hold back at least ``coverage`` % of the refunds:
    the refund at that rank, rounded up to a whole day."""
    if not lags:
        return 0
    ordered = sorted(lags)
    rank = max(1, math.ceil(len(ordered) * coverage / 100))
    return math.ceil(ordered[rank - 1])


def insight(lags: Sequence[float], current_delay: int | None = None) -> LagInsight:
    edges = list(BUCKET_EDGES)
    buckets = []
    for index, low in enumerate(edges):
        high = edges[index + 1] if index + 1 < len(edges) else None
        count = sum(1 for lag in lags if lag >= low and (high is None or lag < high))
        label = f"{low}–{high - 1} days" if high is not None else f"{low}+ days"
        buckets.append(Bucket(label, low, high, count))
    caught = None
    if current_delay is not None and lags:
        caught = round(100 * sum(1 for lag in lags if lag <= current_delay) / len(lags), 1)
    return LagInsight(len(lags), tuple(buckets), {c: recommended_delay(lags, c) for c in COVERAGES}, caught)
