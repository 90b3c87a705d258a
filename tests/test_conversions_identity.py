"""What the uploader takes from a visitor's stored events for a back-end purchase: traits for
identity matching only from the entries FOOTFALL_CONVERSIONS_IDENTITY_ENTRIES trusts (by default
not a public browser key, which anyone can use to `identify` as anyone), and the visitor's page
and browser, which make the purchase a `website` one with its event_source_url. Real sink and
chDB through its /query; the payload is the one the uploader would send Meta."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consumers.conversions.config import ConversionsConfig, MetaConfig
from consumers.conversions.hashing import meta_email, sha256_hex
from consumers.conversions.model import Conversion
from consumers.conversions.platforms import Meta
from consumers.conversions.resolve import Resolver, SinkQuerier
from eventschema import Event
from eventschema.entry import BROWSER_KEY, SERVER_KEY
from eventschema.kafka_contract import Topics
from tests.support.sink import READ_KEY, Sink, produce

UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0"
PAGE = "https://shop.test/checkout?step=pay"


def event(kind: str, at: datetime, entry: str, **fields: Any) -> Event:
    return Event(message_id=str(uuid.uuid4()), type=kind, timestamp=at, received_at=at,
                 entry=entry, **fields)  # fmt: skip


@pytest.fixture
def visitor(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[tuple[Sink, str]]:
    """A visitor's browser events (browser key, one identify forging an email) and the shop's
    server-side identify with the registered email."""
    anon = f"anon-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    events = [
        event("page", now - timedelta(minutes=9), BROWSER_KEY, anonymous_id=anon,
              context={"page": {"url": "https://shop.test/?fbclid=FB1"}, "userAgent": UA}),
        event("identify", now - timedelta(minutes=8), BROWSER_KEY, anonymous_id=anon,
              traits={"email": "victim@example.com"}),
        event("identify", now - timedelta(minutes=7), SERVER_KEY, anonymous_id=anon,
              user_id="user-1", traits={"email": "buyer@example.com"}),
        event("page", now - timedelta(minutes=2), BROWSER_KEY, anonymous_id=anon,
              context={"page": {"url": PAGE}, "userAgent": UA, "ip": "203.0.113.9"}),
    ]  # fmt: skip
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)
    sink.start()
    try:
        produce(kafka_bootstrap, Topics.for_prefix(topic_prefix).events, events)
        assert sink.wait_rows(len(events))[0] == len(events)
        yield sink, anon
    finally:
        sink.stop()


def back_end_purchase(anon: str) -> Conversion:
    """What the shop's back end sends: the visitor's id (X-Request-ID), no page, no browser."""
    return Conversion(
        message_id=str(uuid.uuid4()), order_id="ord-9", event="Order Completed",
        at=datetime.now(UTC), value=20.0, currency="EUR", user_id="", anonymous_id=anon,
        source="http", ip="", user_agent="", page_url="", fbc="", fbp="", emails=(), phones=(),
        country="",
    )  # fmt: skip


SIGNALS = frozenset({"ip", "user_agent"})  # FOOTFALL_CONVERSIONS_CLIENT_SIGNALS=ip,user_agent


def meta_event(
    sink: Sink, anon: str, entries: frozenset[str], signals: frozenset[str] = SIGNALS
) -> dict[str, Any]:
    resolver = Resolver(SinkQuerier(f"{sink.url}/query", READ_KEY), timedelta(days=1), entries)
    conversion = back_end_purchase(anon)
    built = Meta(MetaConfig("1", "t", client_signals=signals), "").build(
        conversion, resolver.resolve(conversion), datetime.now(UTC)
    )
    assert built.payload is not None, built
    return built.payload


def email_hash(email: str) -> str:
    return sha256_hex(meta_email(email))


def test_a_browser_key_identify_is_not_hashed_into_the_upload_by_default(
    visitor: tuple[Sink, str],
) -> None:
    sink, anon = visitor
    default = ConversionsConfig.from_env({}).identity_entries
    assert BROWSER_KEY not in default
    assert meta_event(sink, anon, default)["user_data"]["em"] == [email_hash("buyer@example.com")]
    # An operator who trusts browser identifies says so, and gets both.
    trusting = ConversionsConfig.from_env(
        {"FOOTFALL_CONVERSIONS_IDENTITY_ENTRIES": "server_key,browser_key"}
    ).identity_entries
    assert sorted(meta_event(sink, anon, trusting)["user_data"]["em"]) == sorted(
        [email_hash("buyer@example.com"), email_hash("victim@example.com")]
    )


def test_a_back_end_purchase_of_a_visitor_is_a_website_purchase_on_their_last_page(
    visitor: tuple[Sink, str],
) -> None:
    sink, anon = visitor
    sent = meta_event(sink, anon, ConversionsConfig.from_env({}).identity_entries)
    assert sent["action_source"] == "website"
    assert sent["event_source_url"] == PAGE
    assert sent["user_data"]["client_user_agent"] == UA
    assert sent["user_data"]["client_ip_address"] == "203.0.113.9"


def test_without_client_signals_meta_gets_no_ip_or_user_agent_and_no_website_event(
    visitor: tuple[Sink, str],
) -> None:
    """The default (FOOTFALL_CONVERSIONS_CLIENT_SIGNALS unset): the browser's IP and user agent
    stay home, and without a user agent Meta takes no `website` event."""
    sink, anon = visitor
    config = ConversionsConfig.from_env(
        {"FOOTFALL_META_PIXEL_ID": "1", "FOOTFALL_META_ACCESS_TOKEN": "t"}
    )
    assert config.meta is not None and config.meta.client_signals == frozenset()
    sent = meta_event(sink, anon, config.identity_entries, config.meta.client_signals)
    assert sent["action_source"] == "system_generated"
    assert "event_source_url" not in sent
    assert "client_ip_address" not in sent["user_data"]
    assert "client_user_agent" not in sent["user_data"]
    only_ip = meta_event(sink, anon, config.identity_entries, frozenset({"ip"}))
    assert only_ip["user_data"]["client_ip_address"] == "203.0.113.9"
    assert only_ip["action_source"] == "system_generated"
