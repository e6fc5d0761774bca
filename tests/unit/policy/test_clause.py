"""The refund clause says what the settings make the app do: each setting that changes a rule
changes its sentence, and nothing else."""

from __future__ import annotations

from policy.clause import refund_clause
from policy.settings import Settings


def clause(**values: str) -> list[str]:
    return refund_clause(Settings.from_strings(values)).splitlines()


def test_the_default_clause() -> None:
    lines = clause()
    assert lines[0] == "COMMISSION REFUND & CLAWBACK POLICY"
    assert "held for 30 days from the order date" in lines[2]
    assert any("refund rate of 30% or more over at least 10 orders in 90 days or 3 or more chargebacks are held 30 days longer" in line
               for line in lines)
    assert any("is spread over the order's items" in line for line in lines)
    assert any(line.endswith("For a higher value: the commission rises with the new value.") for line in lines)
    assert lines[-1] == "The affiliate acknowledges and agrees to this policy upon enrollment."


def test_each_setting_changes_its_own_sentence() -> None:
    default = clause()
    changed = {
        "approval_delay_days": ("45", "held for 45 days"),
        "delay_starts": ("fulfillment", "from the date the order is fulfilled"),
        "amount_only_refunds": ("review", "is reviewed by the merchant before any change"),
        "exchange_upgrades": ("ignore", "For a higher value: no change."),
        "chargeback_threshold": ("0", "refund rate of 30% or more over at least 10 orders in 90 days are held 30 days longer"),
        "refund_rate_threshold_percent": ("25", "a refund rate of 25% or more"),
        "refund_rate_minimum_orders": ("20", "over at least 20 orders in 90 days"),
        "flagged_extra_delay_days": ("14", "are held 14 days longer"),
    }
    cases = [*changed.items(), ("amount_only_refunds", ("ignore", "does not change the commission"))]
    for key, (value, words) in cases:
        lines = clause(**{key: value})
        differing = [line for line in lines if line not in default]
        assert len(differing) == 1 and words in differing[0], (key, differing)


def test_no_flag_sentence_when_risk_is_off_and_the_minimum_when_given() -> None:
    lines = clause(refund_rate_threshold_percent="0", chargeback_threshold="0")
    assert not any("longer" in line for line in lines)
    with_minimum = refund_clause(Settings(), "$50.00").splitlines()
    assert "Payouts are made once the payable balance reaches $50.00." in with_minimum
