"""Turning credentials on does not upload history: by default a new uploader sends purchases from
the moment it was first enabled (kept in the ledger across restarts), older ones are skipped as
`before_enable`, not dead-lettered; `python -m consumers.conversions backfill` sends a period on
purpose, and refuses one older than the platform accepts. Real broker, sink and uploader."""

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adfakes import FakeGoogleAds, FakeMeta
from adfakes.harness import REPO, UploaderProcess
from eventschema import Event
from tests.support.consumed import wait_group_caught_up
from tests.support.metrics import sample
from tests.support.sink import Sink, produce
from tests.test_conversions_upload import dead_letters, ev, purchase, visit, wait_for


def bought(order: str, at: datetime) -> list[Event]:
    anon = f"v-{order}"
    return [
        visit(anon, at - timedelta(hours=1), f"G-{order}", f"F-{order}"),
        ev("identify", at - timedelta(minutes=30), anonymous_id=anon,
           traits={"email": f"{order}@example.com"}),
        purchase(order, at, anonymous_id=anon),
    ]  # fmt: skip


def test_a_new_uploader_sends_only_what_follows_its_enabling_and_backfills_on_request(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    recent, old = f"{run}-2d", f"{run}-30d"  # history: within Meta's 7 days / only Google's 90
    history = bought(recent, now - timedelta(days=2)) + bought(old, now - timedelta(days=30))
    produce(kafka_bootstrap, f"{topic_prefix}events", history)
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta, google,
                             {"FOOTFALL_CONVERSIONS_START_FROM": "enable"})  # fmt: skip
    worker.start()
    first = datetime.now(UTC)
    try:
        new = f"{run}-new"
        produce(kafka_bootstrap, f"{topic_prefix}events", bought(new, first + timedelta(seconds=1)))
        wait_for(lambda: meta.order_ids() == [new] and google.order_ids() == [new], 90, "new")
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        text = worker.metrics()
        worker.stop()
        # A restart keeps the enable time: a purchase made after it (reported late) is sent.
        worker.start()
        late = f"{run}-late"
        after = first + timedelta(milliseconds=500)
        produce(kafka_bootstrap, f"{topic_prefix}events", bought(late, after))
        wait_for(lambda: sorted(google.order_ids()) == sorted([new, late]), 90, "the late one")
        wait_for(lambda: sorted(meta.order_ids()) == sorted([new, late]), 30, "the late one")
    finally:
        worker.stop()
    for platform in ("meta", "google"):
        name = f'footfall_conversions_skipped_total{{platform="{platform}",reason="before_enable"}}'
        assert sample(text, name) == 2, text
    assert dead_letters(kafka_bootstrap, topic_prefix) == []  # history is not an error

    # On purpose: Google back-fills 40 days (its window is 90), Meta 3 days (its window is 7).
    since = (now - timedelta(days=40)).isoformat()
    summary = json.loads(worker.command("backfill", "--platform", "google", "--from", since))
    assert (summary["delivered"], summary["duplicates"]) == (2, 2), summary  # new, late: ledger
    assert sorted(google.order_ids()) == sorted([new, late, recent, old])
    assert sorted(meta.order_ids()) == sorted([new, late])
    since = (now - timedelta(days=3)).isoformat()
    summary = json.loads(worker.command("backfill", "--platform", "meta", "--from", since))
    assert summary["delivered"] == 1, summary
    assert sorted(meta.order_ids()) == sorted([new, late, recent])
    # Outside a platform's window: refused with the reason, nothing sent.
    refused = subprocess.run(
        [sys.executable, "-m", "consumers.conversions", "backfill", "--platform", "meta",
         "--from", (now - timedelta(days=10)).isoformat()],
        cwd=REPO, env=worker.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "older than meta accepts" in refused.stderr, refused.stderr
    assert sorted(meta.order_ids()) == sorted([new, late, recent])
    assert dead_letters(kafka_bootstrap, topic_prefix) == []
