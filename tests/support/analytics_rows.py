"""Hand-made event rows for the analytics tests (the columns of footfall_analytics.generate.insert):
the edge cases a generated history rarely hits exactly (ties to the millisecond, exactly one window
apart, case variants of a utm value, offline rows)."""

import json
from datetime import datetime, timedelta
from typing import Any

from footfall_analytics.synthetic import COLUMNS

_DEFAULTS: dict[str, Any] = dict.fromkeys(COLUMNS, "")
_DEFAULTS.update(
    properties="{}", source="http", kafka_topic="events", kafka_partition=0, kafka_offset=0
)


def row(message_id: str, at: datetime, event: str = "", **fields: Any) -> list[object]:
    """One stored event; `properties` may be a dict. type is track with an event, else page."""
    values = {**_DEFAULTS, "message_id": message_id, "timestamp": at, "received_at": at,
              "type": "track" if event else "page", "event": event, **fields}  # fmt: skip
    if isinstance(values["properties"], dict):
        values["properties"] = json.dumps(values["properties"])
    return [values[name] for name in COLUMNS]


def founding_path(
    key: str, arrival: datetime, source: str, signup_after: timedelta, order_after: timedelta
) -> list[list[object]]:
    """One person: lands tagged utm_source=`source` (anonymous), signs up (identified), orders."""
    anon, user = f"anon-{key}", f"user-{key}"
    return [
        row(f"{key}-1", arrival, utm_source=source, anonymous_id=anon,
            page_url=f"https://shop.example/?utm_source={source}"),
        row(f"{key}-2", arrival + signup_after, "Signed Up", anonymous_id=anon, user_id=user),
        row(f"{key}-3", arrival + order_after, "Order Completed", user_id=user,
            properties={"revenue": 10.0}),
    ]  # fmt: skip
