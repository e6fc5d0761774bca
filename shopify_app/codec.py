"""JSON for policy values kept in the database (an order's facts, parked notices).

Pydantic's TypeAdapter reads the frozen dataclasses' type hints, so Decimals round-trip as
exact strings, datetimes as ISO 8601, enums as their values; a hand-written mapper would
repeat every field. Parked notices carry an explicit type tag because several notice
shapes share field names.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import get_args

from pydantic import TypeAdapter

from policy.facts import OrderFacts
from policy.notices import Notice

# Every notice type, read off the ``Notice`` union so a new notice needs no second list here.
NOTICE_TYPES = {cls.__name__: cls for cls in get_args(Notice)}


@lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def notice_to_json(notice: Notice) -> dict:
    return {"type": type(notice).__name__, "data": _adapter(type(notice)).dump_python(notice, mode="json")}


def notice_from_json(value: dict) -> Notice:
    return _adapter(NOTICE_TYPES[value["type"]]).validate_python(value["data"])


def facts_to_json(facts: OrderFacts) -> str:
    plain = _adapter(OrderFacts).dump_python(facts, mode="json", exclude={"parked"})
    plain["parked"] = [notice_to_json(n) for n in facts.parked]
    return json.dumps(plain, separators=(",", ":"))


def facts_from_json(text: str) -> OrderFacts:
    plain = json.loads(text)
    parked = tuple(notice_from_json(n) for n in plain.pop("parked", []))
    facts = _adapter(OrderFacts).validate_python({**plain, "parked": ()})
    return facts.__class__(**{**facts.__dict__, "parked": parked})
