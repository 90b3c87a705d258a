"""Google keeps one conversion per (click, second, action): two orders on one click in the same
second must both reach Google (the second one a second later), a click second held by a
conversion uploaded by other means must not swallow an order, and a resend of an order whose
answer was lost still counts once. Real broker, sink (chDB) and uploader; Google is the fake."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adfakes import FakeGoogleAds, Fault
from adfakes.harness import GOOGLE_ACTION, GOOGLE_CID, UploaderProcess
from tests.support.consumed import wait_group_caught_up
from tests.support.metrics import sample
from tests.support.sink import Sink, produce
from tests.test_conversions_upload import dead_letters, purchase, visit, wait_for

ACTION = f"customers/{GOOGLE_CID}/conversionActions/{GOOGLE_ACTION}"


def google_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S+00:00")


@pytest.mark.parametrize("click_first", [False, True], ids=["order-checked-first", "click-first"])
def test_orders_sharing_a_click_second_all_reach_google_once(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    google: FakeGoogleAds, click_first: bool,
) -> None:  # fmt: skip
    # Google does not document whether it checks the order id or the click second first.
    google.click_first = click_first
    run = uuid.uuid4().hex[:6]
    bought = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    shared, held = f"G-shared-{run}", f"G-held-{run}"
    # Two orders of one visitor, one click, the same second; a third visitor whose click second
    # already holds a conversion uploaded by other means.
    events = [
        visit(f"a-{run}", bought - timedelta(hours=1), shared),
        visit(f"b-{run}", bought - timedelta(hours=1), held),
        purchase(f"{run}-1", bought, anonymous_id=f"a-{run}"),
        purchase(f"{run}-2", bought, anonymous_id=f"a-{run}"),
        purchase(f"{run}-3", bought, anonymous_id=f"b-{run}"),
    ]
    google.seed_click_conversion(held, google_time(bought), ACTION)
    # The first upload is stored, but its answer never arrives: the resend must count once.
    google.script(Fault.drop_after_accept())
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, None, google,
                             {"FOOTFALL_CONVERSIONS_BATCH_SECONDS": "1"})  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: len(google.order_ids()) >= 3, 90, "three orders at Google")
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        text = worker.metrics()
    finally:
        worker.stop()

    rows = {row["orderId"]: row for row in google.rows()}
    assert sorted(rows) == [f"{run}-1", f"{run}-2", f"{run}-3"]
    shared_times = sorted(rows[f"{run}-{i}"]["conversionDateTime"] for i in (1, 2))
    assert shared_times == [google_time(bought), google_time(bought + timedelta(seconds=1))]
    # The held second was left to the conversion that had it.
    assert rows[f"{run}-3"]["conversionDateTime"] == google_time(bought + timedelta(seconds=1))
    assert dead_letters(kafka_bootstrap, topic_prefix) == []
    # Each order is delivered exactly once in the totals: none was counted without being there.
    counted = [
        'uploaded_total{platform="google"}',
        'duplicates_total{platform="google",where="platform"}',
    ]
    assert sum(sample(text, f"footfall_conversions_{name}") for name in counted) == 3, text
    in_ledger = [
        f'ledger_orders{{outcome="{o}",platform="google"}}' for o in ("uploaded", "duplicate")
    ]
    assert sum(sample(text, f"footfall_conversions_{name}") for name in in_ledger) == 3, text
