"""The refund-lag insight: histogram buckets, recommended delays at 80/90/95 %, the share the
current delay holds back; and, as a property, that a recommended delay is the fewest whole
days that hold back the share it names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from policy.insight import BUCKET_EDGES, insight, lag_days, recommended_delay

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_lags_are_days_from_order_to_refund_and_never_negative() -> None:
    assert lag_days(T0 + timedelta(days=3, hours=12), T0) == 3.5
    assert lag_days(T0, T0 + timedelta(hours=1)) == 0.0  # a refund dated before its order counts as day 0


def test_ten_known_lags() -> None:
    lags = [2, 3, 5, 8, 9, 12, 15, 20, 26, 40]
    result = insight(lags, current_delay=14)
    assert result.refunds == 10
    assert result.recommended == {80: 20, 90: 26, 95: 40}  # the 8th, 9th and 10th refund
    assert result.caught_by == 60.0  # 2, 3, 5, 8, 9, 12 of 10
    assert [b.count for b in result.buckets] == [3, 3, 2, 1, 1, 0, 0, 0]


def test_bucket_counts() -> None:
    result = insight([0, 6.99, 7, 13.5, 29.99, 30, 89.99, 90, 400])
    assert {b.label: b.count for b in result.buckets} == {
        "0–6 days": 2, "7–13 days": 2, "14–20 days": 0, "21–29 days": 1, "30–44 days": 1, "45–59 days": 0,
        "60–89 days": 1, "90+ days": 2}


def test_fractions_of_a_day_round_up_and_no_refunds_recommend_nothing() -> None:
    assert recommended_delay([0.2, 0.4, 1.01], 90) == 2
    empty = insight([], current_delay=30)
    assert empty.refunds == 0 and empty.recommended == {80: 0, 90: 0, 95: 0} and empty.caught_by is None
    assert sum(b.count for b in empty.buckets) == 0 and len(empty.buckets) == len(BUCKET_EDGES)


@given(st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), min_size=1, max_size=200), st.sampled_from([80, 90, 95]))
def test_a_recommended_delay_is_the_fewest_days_that_hold_back_its_share(lags, coverage) -> None:
    days = recommended_delay(lags, coverage)
    held = sum(1 for lag in lags if lag <= days)
    assert held * 100 >= coverage * len(lags)
    if days > 0:
        assert sum(1 for lag in lags if lag <= days - 1) * 100 < coverage * len(lags)
    assert insight(lags, days).caught_by >= coverage
