"""The affiliate-agreement refund clause, written from the shop's actual settings, so what
affiliates agree to is what the app does (policy.md, "Signals and notices"). Its tone follows
the clause merchants copy into their agreements (shared/seeds/003)."""

from __future__ import annotations

from policy.settings import AmountOnlyRefunds, DelayStarts, ExchangeUpgrades, Settings

_AMOUNT_ONLY = {
    AmountOnlyRefunds.PRORATE: "is spread over the order's items and the commission recalculated on what is left",
    AmountOnlyRefunds.IGNORE: "does not change the commission",
    AmountOnlyRefunds.REVIEW: "is reviewed by the merchant before any change to the commission",
}


def refund_clause(settings: Settings, minimum_payout: str | None = None) -> str:
    """The clause as plain text, one rule per line, ready to copy."""
    start = "the order date" if settings.delay_starts is DelayStarts.ORDER else "the date the order is fulfilled"
    lines = [
        "COMMISSION REFUND & CLAWBACK POLICY",
        "",
        f"Commissions are held for {settings.approval_delay_days} days from {start} (\u201cHolding Period\u201d) before they become eligible for payout.",
    ]
    flags = []
    if settings.refund_rate_threshold_percent:
        flags.append(f"a refund rate of {settings.refund_rate_threshold_percent}% or more over at least "
                     f"{settings.refund_rate_minimum_orders} orders in 90 days")
    if settings.chargeback_threshold:
        flags.append(f"{settings.chargeback_threshold} or more chargebacks")
    if flags and settings.flagged_extra_delay_days:
        lines.append(f"Commissions of an affiliate with {' or '.join(flags)} are held {settings.flagged_extra_delay_days} days longer.")
    lines += [
        "\u2013 Full refund during the Holding Period: the commission is reversed; the pending balance for that order returns to zero.",
        "\u2013 Refund after the commission was paid: the refunded part is deducted from the next payout, and stays owed until later earnings cover it.",
        "\u2013 Partial refund: the commission is recalculated on what the customer kept; the difference comes out of pending or future earnings.",
        f"\u2013 Money refunded without returned items (a goodwill or price adjustment) {_AMOUNT_ONLY[settings.amount_only_refunds]}.",
        "\u2013 Exchange for an item of the same value: no adjustment. For a lower value: treated as a partial refund. For a higher value: "
        + ("the commission rises with the new value." if settings.exchange_upgrades is ExchangeUpgrades.COMMISSION else "no change."),
        "\u2013 Chargeback: the order's commission is reversed while the dispute stands, and restored if the merchant wins it.",
        "\u2013 Cancelled order: the remaining commission is reversed.",
    ]
    if minimum_payout:
        lines.append(f"Payouts are made once the payable balance reaches {minimum_payout}.")
    lines.append("The affiliate acknowledges and agrees to this policy upon enrollment.")
    return "\n".join(lines)
