"""Erasure and the conversions uploader (issue 13): once a person is erased, none of their
purchases reaches an ad platform: not one still in Kafka when the request was made, not one
dead-lettered earlier and replayed later (ReplaySource). Another person's purchases still go.
Real broker, real sink and uploader processes, the Google Ads fake (adfakes)."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adfakes import FakeGoogleAds
from adfakes.harness import GOOGLE_ACTION, GOOGLE_CID, UploaderProcess, start_fakes
from eventschema import Event
from tests.support.consumed import wait_group_caught_up
from tests.support.metrics import sample
from tests.support.sink import Sink, produce
from tests.test_privacy_erasure import audit_entries, delete


@pytest.fixture
def google() -> Iterator[FakeGoogleAds]:
    meta, fake = start_fakes()
    try:
        yield fake
    finally:
        meta.stop()
        fake.stop()


def _ev(kind: str, at: datetime, anon: str, **kw: object) -> Event:
    return Event(message_id=str(uuid.uuid4()), type=kind, timestamp=at, received_at=at,
                 anonymous_id=anon, **kw)  # type: ignore[arg-type]  # fmt: skip


def _visit_and_buy(anon: str, order: str, at: datetime) -> list[Event]:
    url = f"https://shop.test/landing?gclid=G-{order}"
    return [
        _ev("page", at - timedelta(hours=1), anon, context={"page": {"url": url}}),
        _ev("track", at, anon, event="Order Completed",
            properties={"order_id": order, "revenue": 10, "currency": "EUR"}),
    ]  # fmt: skip


def test_no_purchase_of_an_erased_person_is_uploaded_live_or_replayed(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path, google: FakeGoogleAds
) -> None:
    run, now = uuid.uuid4().hex[:6], datetime.now(UTC)
    alice, bob = f"alice-{run}", f"bob-{run}"
    events_topic = f"{topic_prefix}events"
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, None, google)
    # 1. Both first purchases are dead-lettered (the conversion action does not exist yet).
    google.customers[GOOGLE_CID] = set()
    produce(kafka_bootstrap, events_topic, _visit_and_buy(alice, f"{run}-a1", now)
            + _visit_and_buy(bob, f"{run}-b1", now))  # fmt: skip
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions", events_topic)
    finally:
        worker.stop()
    assert google.order_ids() == []
    # 2. Second purchases wait in Kafka while the uploader is down; then Alice is erased.
    produce(kafka_bootstrap, events_topic, _visit_and_buy(alice, f"{run}-a2", now)
            + _visit_and_buy(bob, f"{run}-b2", now))  # fmt: skip
    wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}sink", events_topic)
    delete(sink, topic_prefix, "--anonymous-id", alice)
    assert audit_entries(sink)[0]["rows_deleted"] == {"events": 4, "identity_links": 0}
    google.customers[GOOGLE_CID] = {GOOGLE_ACTION}  # the fix
    # 3. Live: Bob's waiting purchase goes, Alice's is skipped as erased.
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions", events_topic)
        skipped = 'footfall_conversions_skipped_total{platform="google",reason="erased"}'
        assert sample(worker.metrics(), skipped) == 1
    finally:
        worker.stop()
    assert google.order_ids() == [f"{run}-b2"]
    # 4. The replay of the dead letters sends Bob's first purchase, never Alice's.
    summary = json.loads(worker.replay("--platform", "google"))
    assert summary["delivered"] == 1 and summary["skipped"] == 1, summary
    assert sorted(google.order_ids()) == [f"{run}-b1", f"{run}-b2"]
