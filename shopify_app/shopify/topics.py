"""The ONE table of the webhook topics Clawback handles, and what kind of body each sends.

Why one table: intake, parsing and processing must agree on which topics mean something;
a topic not listed here is not handled (it moves no commission), whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["COMPLIANCE_TOPICS", "TOPICS", "TopicKind"]


class TopicKind(StrEnum):
    """What a delivery's body is. The values of the order-level kinds are also the prefixes
    of the business keys (``order:ID``, ``refund:ID``, ``dispute:ID:status``, ``edit:ID``,
    ``return:ID``) and the resource names in error messages."""

    ORDER = "order"
    REFUND = "refund"
    DISPUTE = "dispute"
    EDIT = "edit"
    RETURN = "return"
    APP_UNINSTALLED = "app_uninstalled"
    SCOPES_UPDATE = "scopes_update"
    DATA_REQUEST = "data_request"
    CUSTOMERS_REDACT = "customers_redact"
    SHOP_REDACT = "shop_redact"


_RETURN_EVENTS = ("request", "approve", "process", "close", "update", "cancel", "decline", "reopen")

TOPICS: Mapping[str, TopicKind] = MappingProxyType({
    **{f"orders/{event}": TopicKind.ORDER
       for event in ("create", "paid", "updated", "cancelled", "fulfilled", "partially_fulfilled")},
    "refunds/create": TopicKind.REFUND,
    "disputes/create": TopicKind.DISPUTE,
    "disputes/update": TopicKind.DISPUTE,
    "orders/edited": TopicKind.EDIT,
    **{f"returns/{event}": TopicKind.RETURN for event in _RETURN_EVENTS},
    "app/uninstalled": TopicKind.APP_UNINSTALLED,
    "app/scopes_update": TopicKind.SCOPES_UPDATE,
    "customers/data_request": TopicKind.DATA_REQUEST,
    "customers/redact": TopicKind.CUSTOMERS_REDACT,
    "shop/redact": TopicKind.SHOP_REDACT,
})
"""Every handled topic and the kind of its body."""

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
"""The mandatory privacy topics: every App Store app must answer them (shop/redact comes
48 hours after an uninstall)."""
