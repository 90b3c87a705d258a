"""Issue 13, points 1 and 2, through the real tracker in a real browser (Debian's chromium,
driven by e2e/privacy_rules.mjs), the real API with its default settings, Kafka and the sink: a
page whose URL carries an email and a token, an identify() with an email and a phone. Neither
the events topic nor ClickHouse gets the full IP, the email, the phone or the token; the UTM
parameter stays; the stored hashes are those the ad platforms match on."""

import hashlib
import os
import subprocess
from collections.abc import Iterator

import orjson
import pytest

from eventschema.kafka_contract import Topics
from tests.support.browser import CHROMIUM, NODE, REPO, e2e_marks, needs_tracker_build
from tests.support.kafka_tools import read_all, value_of
from tests.support.sink import Sink
from tests.support.static_page import serve_html
from tests.test_privacy_cookieless import (  # noqa: F401  (the api fixture, used by name)
    BROWSER_KEY,
    CookielessApi,
    api,
)

pytestmark = e2e_marks(needs_tracker_build)
SCRIPT = REPO / "e2e" / "privacy_rules.mjs"
QUERY = "?email=jane.doe%40example.com&token=tok-S3CRET&utm_source=News"
# Meta's form: trimmed, lower case; digits of the E.164 number (tests/test_privacy_ip_pii.py).
EMAIL_HASH = hashlib.sha256(b"jane.doe@example.com").hexdigest()
PHONE_HASH = hashlib.sha256(b"16505551212").hexdigest()
NEVER = ("jane.doe", "Jane.Doe", "tok-S3CRET", "555-1212", "5551212", "127.0.0.1")


@pytest.fixture
def page_url(api: CookielessApi) -> Iterator[str]:  # noqa: F811  (the imported fixture)
    """A page of a shop on its own origin, loading the tracker from the API (whose privacy
    settings are the defaults)."""
    options = {"writeKey": BROWSER_KEY, "apiHost": api.url}
    body = (
        "<!doctype html><title>Thanks</title>"
        f'<script src="{api.url}/t.js"></script>'
        f"<script>footfall.init({orjson.dumps(options).decode()})</script>"
    ).encode()
    with serve_html(body) as url:
        # localhost: the full client address, 127.0.0.1, must not appear in an event at all.
        yield url.replace("127.0.0.1", "localhost") + "thanks" + QUERY


def test_the_trackers_events_reach_kafka_and_clickhouse_reduced(
    page_url: str, sink: Sink, kafka_bootstrap: str, topic_prefix: str
) -> None:
    assert NODE is not None
    run = subprocess.run(
        [NODE, str(SCRIPT)], cwd=REPO, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PAGE_URL": page_url, "CHROMIUM": CHROMIUM},
    )  # fmt: skip
    assert run.returncode == 0, f"{run.stderr}\n{run.stdout}"
    assert sink.wait_rows(3)[0] == 3  # the page view, the identify and the track

    records = [
        value_of(m) for m in read_all(kafka_bootstrap, Topics.for_prefix(topic_prefix).events)
    ]
    assert len(records) == 3
    for raw in records:
        text = raw.decode("utf-8", "replace")
        assert [value for value in NEVER if value in text] == [], text

    rows = sink.query(
        "SELECT type, ip, page_url, utm_source, traits, context FROM events FINAL ORDER BY type",
        "JSONEachRow",
    ).text.splitlines()
    stored = {row["type"]: row for row in map(orjson.loads, rows)}
    assert sorted(stored) == ["identify", "page", "track"]
    clean_url = page_url.split("?")[0] + "?utm_source=News"
    for row in stored.values():
        context = orjson.loads(row["context"])
        assert row["ip"] == "127.0.0.0" and context["ip_policy"] == "truncate"
        assert row["page_url"] == clean_url and row["utm_source"] == "News"
        assert context["lastTouch"]["url"] == clean_url  # the tracker's campaign touch too
        assert [value for value in NEVER if value in row["context"]] == []
    traits = orjson.loads(stored["identify"]["traits"])
    assert traits["email"] == EMAIL_HASH and traits["phone"] == PHONE_HASH
