"""JSON for policy values kept in the database (an order's facts with its parked events, and
its latest priced lines).

Pydantic's TypeAdapter reads the frozen dataclasses' type hints, so Decimals round-trip as
exact strings, datetimes as ISO 8601, enums as their values; a hand-written mapper would
repeat every field. Parked events carry an explicit type tag because several event
shapes share field names.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import get_args

from pydantic import TypeAdapter

from policy.events import Event, SaleLine
from policy.facts import OrderFacts

# Every event type, read off the ``Event`` union so a new event needs no second list here.
EVENT_TYPES = {cls.__name__: cls for cls in get_args(Event)}


@lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def event_to_json(event: Event) -> dict:
    return {"type": type(event).__name__, "data": _adapter(type(event)).dump_python(event, mode="json")}


def event_from_json(value: dict) -> Event:
    return _adapter(EVENT_TYPES[value["type"]]).validate_python(value["data"])


def facts_to_json(facts: OrderFacts) -> str:
    plain = _adapter(OrderFacts).dump_python(facts, mode="json", exclude={"parked"})
    plain["parked"] = [event_to_json(n) for n in facts.parked]
    return json.dumps(plain, separators=(",", ":"))


def facts_from_json(text: str) -> OrderFacts:
    plain = json.loads(text)
    parked = tuple(event_from_json(n) for n in plain.pop("parked", []))
    facts = _adapter(OrderFacts).validate_python({**plain, "parked": ()})
    return facts.__class__(**{**facts.__dict__, "parked": parked})


def lines_to_json(lines: tuple[SaleLine, ...]) -> str:
    return _adapter(tuple[SaleLine, ...]).dump_json(lines).decode()


def lines_from_json(text: str) -> tuple[SaleLine, ...]:
    return _adapter(tuple[SaleLine, ...]).validate_json(text)
