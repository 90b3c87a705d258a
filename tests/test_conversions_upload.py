"""The uploader end to end: real broker, real sink and chDB, fake ad platforms."""

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adfakes import FakeGoogleAds, FakeMeta, Fault
from adfakes.harness import GOOGLE_ACTION, GOOGLE_CID, UploaderProcess
from eventschema import Event
from footfall_analytics.server.conversions import conversions_status
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import header, read_all
from tests.support.metrics import sample
from tests.support.sink import Sink, produce

ACTION = f"customers/{GOOGLE_CID}/conversionActions/{GOOGLE_ACTION}"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def ev(kind: str, at: datetime, **kw: Any) -> Event:
    return Event(message_id=str(uuid.uuid4()), type=kind, timestamp=at, received_at=at, **kw)


def visit(anon: str, at: datetime, gclid: str, fbclid: str = "") -> Event:
    query = f"gclid={gclid}" + (f"&fbclid={fbclid}" if fbclid else "")
    return ev("page", at, anonymous_id=anon, context={
        "page": {"url": f"https://shop.test/landing?{query}"}, "userAgent": UA,
        "ip": "203.0.113.7", "fbp": "fb.1.1700000000000.1234567890"})  # fmt: skip


def purchase(order: str, at: datetime, value: float = 49.5, currency: str = "EUR",
             **kw: Any) -> Event:  # fmt: skip
    return ev(
        "track",
        at,
        event="Order Completed",
        properties={"order_id": order, "revenue": value, "currency": currency},
        **kw,
    )


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def uploader(kafka_bootstrap: str, prefix: str, sink: Sink, tmp_path: Path,
             meta: FakeMeta | None, google: FakeGoogleAds | None,
             **extra: str) -> UploaderProcess:  # fmt: skip
    return UploaderProcess(kafka_bootstrap, prefix, sink.url, tmp_path, meta, google, extra)


def dead_letters(bootstrap: str, prefix: str) -> list[tuple[str, str, str]]:
    return sorted(
        (header(m, "order_id").decode(), header(m, "platform").decode(),
         header(m, "reason").decode())
        for m in read_all(bootstrap, f"{prefix}conversions_dlq")
    )  # fmt: skip


def test_back_end_purchase_with_a_phone_hash_gets_the_google_click_and_meta_fbc(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    now = datetime.now(UTC).replace(microsecond=0)
    landed = now - timedelta(hours=2)
    phone_hash = hashlib.sha256(b"+16505551212").hexdigest()  # the shop's user id
    anon = f"anon-{uuid.uuid4().hex[:8]}"
    events = [
        ev("page", now - timedelta(days=3), anonymous_id=anon,
           context={"page": {"url": "https://shop.test/?gclid=OLD-CLICK"}}),
        visit(anon, landed, "Cj0KCQ-ad-click", "FB-CLICK-1"),
        ev("identify", landed + timedelta(minutes=5), anonymous_id=anon, user_id=phone_hash,
           traits={"phone": "+1 (650) 555-1212"}),
        ev("page", now + timedelta(minutes=1), anonymous_id=anon,
           context={"page": {"url": "https://shop.test/?gclid=AFTER-PURCHASE"}}),
        purchase("ord-1001", now, 123.45, "USD", user_id=phone_hash, source="http"),
        ev("track", now, event="Product Viewed", user_id=phone_hash),  # not a conversion
    ]  # fmt: skip
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, meta, google,
                      FOOTFALL_CONVERSIONS_CLIENT_SIGNALS="ip,user_agent")  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: bool(meta.events()) and bool(google.rows()), 90, "both uploads")
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
    finally:
        worker.stop()

    [row] = google.rows()
    assert row["gclid"] == "Cj0KCQ-ad-click"
    assert row["orderId"] == "ord-1001"
    assert row["conversionAction"] == ACTION
    assert row["conversionValue"] == 123.45 and row["currencyCode"] == "USD"
    assert row["conversionDateTime"] == now.strftime("%Y-%m-%d %H:%M:%S+00:00")
    assert {"hashedPhoneNumber": phone_hash} in row["userIdentifiers"]

    [event] = meta.events()
    user = event["user_data"]
    assert user["ph"] == ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"]
    landed_ms = int(landed.timestamp() * 1000)
    assert user["fbc"] == f"fb.1.{landed_ms}.FB-CLICK-1"
    assert user["fbp"] == "fb.1.1700000000000.1234567890"
    assert user["external_id"] == [phone_hash]
    # A back-end purchase of a site visitor is a website purchase, on the visitor's last page.
    assert event["action_source"] == "website"
    landing = "https://shop.test/landing?gclid=Cj0KCQ-ad-click&fbclid=FB-CLICK-1"
    assert event["event_source_url"] == landing
    assert user["client_user_agent"] == UA
    assert event["event_id"] == events[4].message_id
    assert event["event_time"] == int(now.timestamp())
    assert event["custom_data"] == {"value": 123.45, "currency": "USD", "order_id": "ord-1001"}
    assert dead_letters(kafka_bootstrap, topic_prefix) == []


def test_storms_timeouts_and_sigkill_leave_each_order_exactly_once(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    now = datetime.now(UTC)
    orders = [f"ord-{uuid.uuid4().hex[:6]}-{i}" for i in range(40)]
    events: list[Event] = []
    for i, order in enumerate(orders):
        anon = f"v-{order}"
        events += [
            visit(anon, now - timedelta(hours=1), f"G-{order}", f"F-{order}"),
            ev("identify", now - timedelta(minutes=50), anonymous_id=anon, user_id=f"u-{order}",
               traits={"email": f"Buyer.{i}@Example.com"}),
            purchase(order, now - timedelta(minutes=10), user_id=f"u-{order}"),
        ]  # fmt: skip
    meta.script(FakeMeta.server_error(), times=3)
    meta.script(FakeMeta.rate_limited(1), FakeMeta.html_502(), Fault.hang_after_accept(2.5))
    meta.script(Fault.slow(4.0))  # the SIGKILL lands during this request
    google.script(FakeGoogleAds.unavailable(), times=3)
    google.script(FakeGoogleAds.quota(1), FakeGoogleAds.internal(), Fault.hang_after_accept(2.5))
    google.script(Fault.drop_after_accept(), Fault.slow(4.0))
    # Half the purchases first, the rest while the uploader is down.
    produce(kafka_bootstrap, f"{topic_prefix}events", events[: len(events) // 2])
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, meta, google,
                      FOOTFALL_META_BATCH_SIZE="7", FOOTFALL_GOOGLE_ADS_BATCH_SIZE="9")  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: meta.in_flight > 0 and meta.requests >= 7, 120, "the slow Meta request")
        worker.kill()
        produce(kafka_bootstrap, f"{topic_prefix}events", events[len(events) // 2 :])
        worker.start()
        time.sleep(3)
        worker.kill()  # and once more, wherever it is
        worker.start()
        wait_for(lambda: len(meta.order_ids()) >= 40 and len(google.order_ids()) >= 40, 180,
                 "every order on both platforms")  # fmt: skip
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        time.sleep(2)  # anything still to be (wrongly) sent would arrive now
        text = worker.metrics()
    finally:
        worker.stop()
    assert sorted(meta.order_ids()) == sorted(orders)  # one stored event per order
    assert sorted(google.order_ids()) == sorted(orders)
    assert all(row["gclid"] == f"G-{row['orderId']}" for row in google.rows())
    assert dead_letters(kafka_bootstrap, topic_prefix) == []
    # The faults did happen: resends after accepted-but-unanswered requests were absorbed by
    # the platforms' idempotency (Meta event_id dedup, Google "already in use" = delivered).
    assert meta.state.deduplicated >= 1
    assert any(code == "ORDER_ID_ALREADY_IN_USE" for _o, code in google.state.row_failures)
    # ...and only they: at most one batch resent per fault that hid an acceptance (Meta: the
    # hang and two kills, batches of 7; Google: the hang, the drop and two kills, batches of 9).
    # Without the ledger every uncommitted delivered order would be sent again.
    assert meta.state.deduplicated <= 3 * 7, meta.state.deduplicated
    resent = [o for o, code in google.state.row_failures if code == "ORDER_ID_ALREADY_IN_USE"]
    assert len(resent) <= 4 * 9, resent
    assert "footfall_conversions_oldest_pending_seconds 0.0" in text


def test_google_partial_failure_delivers_the_rest_counts_duplicates_and_dead_letters_invalid(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    _meta, google = fakes
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    events: list[Event] = []
    for i in range(8):
        anon = f"p-{run}-{i}"
        events += [visit(anon, now - timedelta(hours=1), f"GP-{run}-{i}"),
                   purchase(f"{run}-{i}", now - timedelta(minutes=5), anonymous_id=anon,
                            currency="EURO" if i == 5 else "EUR")]  # fmt: skip
    google.seed_existing(ACTION, f"{run}-3")
    google.seed_existing(ACTION, f"{run}-4")
    google.clicks[f"GP-{run}-6"] = __import__("adfakes.google", fromlist=["Click"]).Click(
        now + timedelta(hours=1)
    )  # a click after the purchase
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, None, google,
                      FOOTFALL_CONVERSIONS_BATCH_SECONDS="2")  # fmt: skip
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        text = worker.metrics()
    finally:
        worker.stop()
    assert sorted(google.order_ids()) == [f"{run}-{i}" for i in (0, 1, 2, 7)]
    assert dead_letters(kafka_bootstrap, topic_prefix) == [
        (f"{run}-5", "google", "google_INVALID_CURRENCY_CODE"),
        (f"{run}-6", "google", "google_CONVERSION_PRECEDES_EVENT"),
    ]
    assert 'footfall_conversions_duplicates_total{platform="google",where="platform"} 2.0' in text
    assert google.requests == 1  # one batch, nothing retried


def test_replay_after_the_fix_uploads_dead_letters_once(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    _meta, google = fakes
    google.customers[GOOGLE_CID] = set()  # the conversion action does not exist (yet)
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    events: list[Event] = []
    for i in range(5):
        anon = f"r-{run}-{i}"
        events += [
            visit(anon, now - timedelta(hours=1), f"GR-{run}-{i}"),
            purchase(f"{run}-{i}", now - timedelta(minutes=5), anonymous_id=anon),
        ]
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, None, google)
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
    finally:
        worker.stop()
    assert google.order_ids() == []
    assert [r for _o, _p, r in dead_letters(kafka_bootstrap, topic_prefix)] == [
        "google_NO_CONVERSION_ACTION_FOUND"
    ] * 5

    google.customers[GOOGLE_CID] = {GOOGLE_ACTION}  # the fix
    first = json.loads(worker.replay("--platform", "google"))
    assert first["delivered"] == 5
    second = json.loads(worker.replay())
    assert second["delivered"] == 0 and second["duplicates"] == 5
    assert sorted(google.order_ids()) == [f"{run}-{i}" for i in range(5)]


def test_a_purchase_too_old_for_meta_is_dead_lettered_as_expired_and_still_sent_to_google(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    anon = f"old-{run}"
    bought = now - timedelta(days=8)  # Meta refuses event_time older than 7 days
    events = [visit(anon, bought - timedelta(hours=1), f"GO-{run}", fbclid=f"FO-{run}"),
              purchase(f"{run}-old", bought, anonymous_id=anon)]  # fmt: skip
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, meta, google)
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
    finally:
        worker.stop()
    assert meta.requests == 0  # never sent, not even to be refused
    assert google.order_ids() == [f"{run}-old"]  # Google's window is 90 days
    assert dead_letters(kafka_bootstrap, topic_prefix) == [(f"{run}-old", "meta", "expired")]


def test_dry_run_logs_the_payloads_and_sends_nothing(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    anon = f"dry-{run}"
    produce(kafka_bootstrap, f"{topic_prefix}events", [
        visit(anon, now - timedelta(hours=1), f"GD-{run}", fbclid=f"FD-{run}"),
        purchase(f"{run}-dry", now - timedelta(minutes=1), anonymous_id=anon)])  # fmt: skip
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, meta, google,
                      FOOTFALL_CONVERSIONS_DRY_RUN="1")  # fmt: skip
    worker.start()
    try:
        log = tmp_path / "conversions-1.log"
        wait_for(lambda: log.read_text().count("DRY RUN") >= 2, 60, "both dry-run payloads")
    finally:
        worker.stop()
    text = log.read_text()
    assert f"{run}-dry" in text and f"GD-{run}" in text  # the exact payloads, order and gclid
    assert meta.requests == 0 and google.requests == 0


def test_the_ledger_keeps_a_second_reader_from_sending_any_order_again(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    """The platforms deduplicate on their own (Meta by event_id, Google "already in use"), so
    only the fakes' request counters and the ledger's own metric show the ledger at work: a
    second consumer group re-reads every purchase and must send nothing."""
    meta, google = fakes
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    orders = [f"{run}-{i}" for i in range(6)]
    events: list[Event] = []
    for order in orders:
        anon = f"l-{order}"
        events += [visit(anon, now - timedelta(hours=1), f"GL-{order}", f"FL-{order}"),
                   purchase(order, now - timedelta(minutes=5), anonymous_id=anon)]  # fmt: skip
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    first = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, meta, google)
    first.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        # The dashboard's panel reads the uploader's own metrics: what it really did.
        status = conversions_status(f"http://127.0.0.1:{first.port}")
    finally:
        first.stop()
    assert status["configured"] is True
    panel = {p["platform"]: p for p in status["platforms"]}
    for platform in ("meta", "google"):
        got = panel[platform]
        assert (got["seen"], got["uploaded"], got["dead_lettered"]) == (6, 6, 0), got
        assert got["breaker"] == "closed"
    assert sorted(meta.order_ids()) == sorted(google.order_ids()) == sorted(orders)
    sent = (meta.requests, google.requests)
    ledger = read_all(kafka_bootstrap, f"{topic_prefix}conversions_ledger")
    recorded = sorted(m.key() or b"" for m in ledger)
    kinds = [k.split(b"|")[0] for k in recorded]
    # One "ok" per order and platform, and the click second each Google row holds.
    assert (kinds.count(b"meta"), kinds.count(b"google")) == (len(orders), len(orders))
    assert kinds.count(b"claim") == len(orders) and len(kinds) == 3 * len(orders)

    again_dir = tmp_path / "again"
    again_dir.mkdir()
    second = uploader(kafka_bootstrap, topic_prefix, sink, again_dir, meta, google,
                      FOOTFALL_CONVERSIONS_GROUP=f"{topic_prefix}conversions-again",
                      FOOTFALL_CONVERSIONS_INSTANCE_ID=f"{topic_prefix}again")  # fmt: skip
    second.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions-again",
                             f"{topic_prefix}events")  # fmt: skip
        text = second.metrics()
    finally:
        second.stop()
    assert (meta.requests, google.requests) == sent  # nothing reached a platform again
    for platform in ("meta", "google"):
        name = f'footfall_conversions_duplicates_total{{platform="{platform}",where="ledger"}}'
        assert sample(text, name) == len(orders), (platform, text)
    assert meta.state.deduplicated == 0
    assert not google.state.row_failures
    after = read_all(kafka_bootstrap, f"{topic_prefix}conversions_ledger")
    assert sorted(m.key() or b"" for m in after) == recorded  # no new ledger records


def test_the_same_order_read_twice_at_once_is_sent_once(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    """A back end that retried its purchase event with a new message id: both records are read
    before either is uploaded, so the ledger has no entry yet when their tasks are made; the
    second must wait behind the first and then be dropped by the ledger, not sent again."""
    meta, google = fakes
    now = datetime.now(UTC)
    order = f"twice-{uuid.uuid4().hex[:6]}"
    anon = f"t-{order}"
    events = [
        visit(anon, now - timedelta(hours=1), f"GT-{order}", f"FT-{order}"),
        purchase(order, now - timedelta(minutes=5), anonymous_id=anon),
        purchase(order, now - timedelta(minutes=4), anonymous_id=anon),  # the retry
    ]
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink, tmp_path, meta, google)
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        text = worker.metrics()
    finally:
        worker.stop()
    assert meta.order_ids() == [order] and google.order_ids() == [order]
    # Sent once: Meta would have dropped a second send as a duplicate event_id, Google would
    # have answered ORDER_ID_ALREADY_IN_USE.
    assert meta.state.deduplicated == 0
    assert not google.state.row_failures
    for platform in ("meta", "google"):
        name = f'footfall_conversions_duplicates_total{{platform="{platform}",where="ledger"}}'
        assert sample(text, name) == 1, (platform, text)
