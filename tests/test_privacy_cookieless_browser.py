"""The tracker's cookieless mode in a real browser (Debian's chromium, driven by
e2e/cookieless.mjs), through the real API, Kafka and the sink: with `cookieless:
'until-consent'` the page keeps nothing in localStorage or cookies and its events are stored
with the id the API derives; consent(true) switches to a stored id (kept across a reload);
consent(false) deletes it and goes back to the derived id."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, NODE, e2e_marks, needs_tracker_build
from tests.support.sink import Sink
from tests.support.static_page import serve_html
from tests.test_privacy_cookieless import (  # noqa: F401  (the api fixture, used by name)
    BROWSER_KEY,
    CookielessApi,
    api,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "e2e" / "cookieless.mjs"

pytestmark = e2e_marks(needs_tracker_build)


def site_page(api_url: str) -> bytes:
    options = {"writeKey": BROWSER_KEY, "apiHost": api_url, "cookieless": "until-consent"}
    return (
        "<!doctype html><title>Cookieless shop</title>"
        f'<script src="{api_url}/t.js"></script>'
        f"<script>footfall.init({json.dumps(options)})</script>"
    ).encode()


@pytest.fixture
def site(api: CookielessApi) -> Iterator[str]:  # noqa: F811  (the imported fixture)
    """A one-page site on its own origin, loading the tracker from the API."""
    with serve_html(site_page(api.url)) as url:
        yield url


def test_cookieless_until_consent_in_chromium(site: str, sink: Sink) -> None:
    assert NODE is not None
    run = subprocess.run(
        [NODE, str(SCRIPT)], cwd=REPO, env={**os.environ, "PAGE_URL": site, "CHROMIUM": CHROMIUM},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, f"{run.stderr}\n{run.stdout}"
    summary = json.loads(run.stdout.splitlines()[-1])
    before, after, reloaded, withdrawn = (
        summary[k] for k in ("before", "afterConsent", "reloaded", "withdrawn")
    )
    assert before == {"storage": [], "cookie": "", "user": {"anonymousId": None, "userId": None}}
    stored_id = after["user"]["anonymousId"]
    assert {"ff_aid", "ff_consent"} <= set(after["storage"]) and "_fbp=" in after["cookie"]
    assert reloaded["user"]["anonymousId"] == stored_id, "consent kept the id across a reload"
    assert withdrawn["storage"] == [] and withdrawn["cookie"] == "", withdrawn
    assert withdrawn["user"]["anonymousId"] is None

    assert sink.wait_rows(5)[0] == 5
    rows = sink.query(
        "SELECT type, event, anonymous_id, JSONExtractRaw(context, 'cookieless') FROM events FINAL "
        "ORDER BY timestamp, message_id"
    ).text.splitlines()
    stored = [tuple(row.split("\t")) for row in rows]
    derived = stored[0][2]
    assert derived.startswith("ck-") and len(derived) == 35
    assert stored == [
        ("page", "", derived, "true"),
        ("track", "Before Consent", derived, "true"),
        ("track", "After Consent", stored_id, ""),
        ("page", "", stored_id, ""),
        ("track", "Withdrawn", derived, "true"),  # same browser, site and day: the same id
    ]
