"""Erasure of a purchase the uploader holds (issue 13, point 3): Alice's purchase was read and
is being retried (Google answers 503) when she is erased; when Google recovers, the purchase is
never sent (ConversionsHandler._erase_pending), while a purchase of Bob's still goes.
Real broker, real sink and uploader processes, the Google Ads fake (adfakes)."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

from adfakes import FakeGoogleAds
from adfakes.harness import UploaderProcess
from tests.support.load import wait_until
from tests.support.metrics import sample
from tests.support.sink import Sink, produce
from tests.test_privacy_erasure import audit_entries, delete
from tests.test_privacy_erasure_uploads import _visit_and_buy

SKIPPED_ERASED = 'footfall_conversions_skipped_total{platform="google",reason="erased"}'


def test_a_purchase_held_for_retry_is_not_sent_once_its_person_is_erased(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path, google: FakeGoogleAds
) -> None:
    run, now = uuid.uuid4().hex[:6], datetime.now(UTC)
    alice, bob = f"alice-{run}", f"bob-{run}"
    events_topic = f"{topic_prefix}events"
    google.script(FakeGoogleAds.unavailable(), times=100_000)  # down until cleared below
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, None, google)
    produce(kafka_bootstrap, events_topic, _visit_and_buy(alice, f"{run}-a1", now))
    worker.start()
    try:
        # The uploader holds Alice's purchase: it has tried Google more than once.
        wait_until(lambda: google.requests >= 2, "the uploader never tried Google", 120)
        delete(sink, topic_prefix, "--anonymous-id", alice)
        audit_entries(sink)
        wait_until(
            lambda: sample(worker.metrics(), SKIPPED_ERASED) == 1,
            "the held purchase was not skipped as erased",
            120,
        )
        google.clear_faults()
        produce(kafka_bootstrap, events_topic, _visit_and_buy(bob, f"{run}-b1", now))
        wait_until(lambda: google.order_ids() != [], "Bob's purchase never reached Google", 120)
    finally:
        worker.stop()
    assert google.order_ids() == [f"{run}-b1"]
