"""The uploader's identity lookups bind their ids as query parameters (no SQL is built from a
value): ids with quotes, backslashes or SQL in them are found exactly, through the real sink's
/query on chDB, and a look-alike id is not matched."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consumers.conversions.model import Conversion
from consumers.conversions.resolve import Resolver, SinkQuerier
from eventschema import Event
from eventschema.kafka_contract import Topics
from tests.support.sink import READ_KEY, Sink, produce

ODD_IDS = ["o'brien", "back\\slash", "x') OR 1=1 --", "{n:String}", "tab\there", "quote\\'mix"]


def event(kind: str, at: datetime, **fields: Any) -> Event:
    return Event(message_id=str(uuid.uuid4()), type=kind, timestamp=at, received_at=at, **fields)


def conversion(at: datetime, user_id: str = "", anonymous_id: str = "") -> Conversion:
    return Conversion(
        message_id=str(uuid.uuid4()), order_id="o1", event="Order Completed", at=at, value=1.0,
        currency="EUR", user_id=user_id, anonymous_id=anonymous_id, source="http", ip="",
        user_agent="", page_url="", fbc="", fbp="", emails=(), phones=(), country="",
    )  # fmt: skip


def test_ids_with_quotes_backslashes_and_sql_resolve_exactly(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = []
    for index, odd in enumerate(ODD_IDS):
        page = {"page": {"url": f"https://shop.test/landing?gclid=G{index}"}}
        events.append(
            event("page", now - timedelta(hours=2), anonymous_id=f"a-{odd}", context=page)
        )
        events.append(event("identify", now - timedelta(hours=1), anonymous_id=f"a-{odd}",
                            user_id=f"u-{odd}"))  # fmt: skip
    # What an escaping slip could turn "a-o'brien" into: must never be matched instead.
    decoy = {"page": {"url": "https://shop.test/landing?gclid=DECOY"}}
    events.append(event("page", now - timedelta(hours=2), anonymous_id="a-o", context=decoy))
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)
    sink.start()
    try:
        produce(kafka_bootstrap, Topics.for_prefix(topic_prefix).events, events)
        assert sink.wait_rows(len(events))[0] == len(events)
        resolver = Resolver(SinkQuerier(f"{sink.url}/query", READ_KEY), timedelta(days=1))
        for index, odd in enumerate(ODD_IDS):
            by_anon = resolver.resolve(conversion(now, anonymous_id=f"a-{odd}"))
            assert (by_anon.gclid, by_anon.person_user_ids) == (f"G{index}", [f"u-{odd}"]), odd
            by_user = resolver.resolve(conversion(now, user_id=f"u-{odd}"))
            assert by_user.gclid == f"G{index}", odd
        # Inside the click window only: a window ending before the visit finds no click.
        narrow = Resolver(SinkQuerier(f"{sink.url}/query", READ_KEY), timedelta(minutes=30))
        assert narrow.resolve(conversion(now, user_id=f"u-{ODD_IDS[0]}")).gclid == ""
    finally:
        sink.stop()
