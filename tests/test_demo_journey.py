"""The demo shop in a real browser (Debian's chromium, driven by e2e/demo_journey.mjs), through
the real API, Kafka and the ClickHouse sink: campaign, click ids, sections, and the back end's
events joined to the browser visitor through X-Request-ID. Also the tracker's durable queue
while the API is down."""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adfakes.harness import UploaderProcess, start_fakes
from eventschema.contact_hashing import meta_email, sha256_hex
from footfall.broker import find_free_ports
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.browser import CHROMIUM, NODE, e2e_marks, needs_tracker_build
from tests.support.sink import Sink

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "e2e" / "demo_journey.mjs"
BROWSER_KEY = "pk_e2e_demo"

pytestmark = e2e_marks(needs_tracker_build)


@dataclass
class DemoServer:
    """`python -m demo` as a subprocess, pointed at the test's API."""

    api_url: str
    log_dir: Path
    tracker_src: str | None = None  # None: the API's /t.js
    port: int = field(default_factory=lambda: find_free_ports(1)[0])
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "FOOTFALL_DEMO_PORT": str(self.port),
            "FOOTFALL_DEMO_API_URL": self.api_url,
            "FOOTFALL_DEMO_WRITE_KEY": BROWSER_KEY,
            "FOOTFALL_DEMO_SERVER_KEY": WRITE_KEY,
        }
        if self.tracker_src is not None:
            env["FOOTFALL_DEMO_TRACKER_SRC"] = self.tracker_src
        log = (self.log_dir / f"demo-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "demo"], cwd=REPO, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_until(lambda: _healthy(f"{self.url}/healthz", self.proc), timeout, "the demo shop")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _healthy(url: str, proc: "subprocess.Popen[bytes] | None") -> bool:
    assert proc is not None and proc.poll() is None, "the demo shop exited; see its log"
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.3)


@dataclass
class Stack:
    api: ApiServer
    sink: Sink
    demo: DemoServer

    def rows(self, sql: str) -> list[dict[str, Any]]:
        response = self.sink.query(sql, fmt="JSONEachRow")
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@pytest.fixture
def make_stack(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[bool, str | None], Stack]]:
    """Sink + API (a browser key for the demo's origin) + demo; the API starts only if asked."""
    started: list[Stack] = []

    def make(start_api: bool, tracker_src: str | None) -> Stack:
        sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)
        api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
        demo = DemoServer(api.url, tmp_path, tracker_src)
        # ApiServer passes os.environ on: the demo's public key, allowed for its origin only.
        monkeypatch.setenv("FOOTFALL_BROWSER_KEYS", f"{BROWSER_KEY}={demo.url}")
        stack = Stack(api, sink, demo)
        started.append(stack)
        sink.start()
        if start_api:
            api.start()
        demo.start()
        return stack

    yield make
    for stack in started:
        stack.demo.stop()
        stack.api.stop()
        if stack.sink.proc is not None:
            stack.sink.stop()


def node_env(stack: Stack, tmp_path: Path, scenario: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEMO_URL": stack.demo.url,
        "API_URL": stack.api.url,
        "CHROMIUM": CHROMIUM,
        "ARTIFACT_DIR": str(REPO / "test-artifacts"),
        "SCENARIO": scenario,
    }


def last_json_line(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON summary on stdout: {stdout!r}"
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_demo_journey_joins_browser_and_back_end(
    make_stack: Callable[[bool, str | None], Stack], tmp_path: Path
) -> None:
    stack = make_stack(True, None)
    assert NODE is not None
    run = subprocess.run(
        [NODE, str(SCRIPT)], cwd=REPO, env=node_env(stack, tmp_path, "journey"),
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, f"journey failed:\n{run.stderr}\n{run.stdout}"
    summary = last_json_line(run.stdout)
    anon = summary["anonymousId"]
    fbclid = summary["fbclid"]
    assert anon and re.fullmatch(r"[0-9a-f-]{36}", anon), summary
    assert summary["user"]["anonymousId"] == anon
    assert summary["orderId"], summary
    assert all(b["status"] == 200 for b in summary["batches"]), summary["batches"]

    # The back end saw the visitor's id on both of its API calls.
    seen = httpx.get(f"{stack.demo.url}/api/_seen_request_ids", timeout=5).json()["seen"]
    by_path = {entry["path"]: entry["requestId"] for entry in seen}
    assert by_path == {"/api/register": anon, "/api/checkout": anon}, seen

    # Wait until the last events of the journey are stored.
    needed = ("Order Completed", "Signed Up", "Order Confirmation Viewed")
    names = ", ".join(sql_str(n) for n in needed)
    wait_sql = f"SELECT uniqExact(event) AS n FROM events FINAL WHERE event IN ({names})"
    wait_until(lambda: stack.rows(wait_sql)[0]["n"] == len(needed), 90, f"events {needed}")
    time.sleep(1.5)  # a beacon sent at the last page change may still be on its way

    browser = stack.rows(
        "SELECT message_id, type, event, anonymous_id, user_id, utm_source, utm_campaign, fbclid,"
        " JSONExtractString(context, 'fbc') AS fbc, JSONExtractString(context, 'fbp') AS fbp,"
        " JSONExtractString(properties, 'section') AS section"
        " FROM events FINAL WHERE library_name = 'footfall.js' ORDER BY timestamp"
    )
    assert len(browser) >= 15, browser
    # One visitor: every browser event has the id the page kept in localStorage.
    assert {r["anonymous_id"] for r in browser} == {anon}
    # Campaign and click ids from the landing URL ride on every event, on every page.
    assert {(r["utm_source"], r["utm_campaign"], r["fbclid"]) for r in browser} == {
        ("facebook", "spring", fbclid)
    }, browser
    fbc_format = re.compile(r"fb\.1\.\d{13}\." + re.escape(fbclid))
    assert all(fbc_format.fullmatch(r["fbc"]) for r in browser), {r["fbc"] for r in browser}
    assert all(re.fullmatch(r"fb\.1\.\d{13}\.\d{10}", r["fbp"]) for r in browser), browser
    assert summary["cookies"].get("_fbc") == browser[-1]["fbc"]

    # Where the visitor acted: clicks credited to each area of the shop.
    clicks = {(r["event"], r["section"]) for r in browser if r["type"] == "track"}
    for section in (
        "home-page", "recommendation-popup", "similar-products", "product-page", "register-form"
    ):  # fmt: skip
        assert ("Element Clicked", section) in clicks, (section, clicks)
    assert ("Form Submitted", "register-form") in clicks, clicks
    assert not any(r["event"] == "Order Completed" for r in browser)  # server-only

    # The back end's events: sent with the server key by footfall_sdk, joined to the visitor.
    server = stack.rows(
        "SELECT type, event, anonymous_id, user_id, library_name, source,"
        " JSONExtractString(properties, 'order_id') AS order_id,"
        " JSONExtractFloat(properties, 'revenue') AS revenue,"
        " JSONExtractString(properties, 'currency') AS currency,"
        " JSONExtractString(context, 'requestId') AS request_id"
        " FROM events FINAL WHERE library_name = 'footfall-sdk-python' ORDER BY timestamp"
    )
    by_event = {(r["type"], r["event"]): r for r in server}
    assert set(by_event) == {("identify", ""), ("track", "Signed Up"), ("track", "Order Completed")}
    for row in server:
        assert row["anonymous_id"] == anon, row
        assert row["request_id"] == anon, row
        assert row["user_id"].startswith("user-"), row
    # The sign-up's server-side identify carries the email the uploader matches purchases on,
    # stored hashed as Meta hashes it (FOOTFALL_PII_HASH_CONTACT, on by default).
    [traits] = stack.rows(
        "SELECT JSONExtractString(traits, 'email') AS email FROM events FINAL"
        " WHERE type = 'identify' AND library_name = 'footfall-sdk-python'"
    )
    assert traits["email"] == sha256_hex(meta_email(summary["email"])), traits
    order = by_event[("track", "Order Completed")]
    assert (order["order_id"], order["revenue"], order["currency"]) == (
        summary["orderId"], 449.0, "EUR"
    )  # fmt: skip
    # The browser identified the same user the back end created.
    identified = {r["user_id"] for r in browser if r["user_id"]}
    assert identified == {by_event[("track", "Signed Up")]["user_id"]}, identified


def test_tracker_queue_survives_api_outage(
    make_stack: Callable[[bool, str | None], Stack], tmp_path: Path
) -> None:
    # The shop serves its own copy of the tracker: the API (and its /t.js) is down at first.
    stack = make_stack(False, "/footfall.min.js")
    assert NODE is not None
    proc = subprocess.Popen(
        [NODE, str(SCRIPT)], cwd=REPO, env=node_env(stack, tmp_path, "offline"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        stderr = proc.stderr.read() if proc.stderr and not first.strip() else ""
        assert first.strip(), f"the browser said nothing on stdout: {stderr}"
        assert json.loads(first)["phase"] == "api-down-done"
        stack.api.start()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, f"offline scenario failed:\n{err}\n{out}"
    summary = last_json_line(out)
    queued: list[str] = summary["queuedWhileDown"]
    # A page view, three clicks and two track() calls were kept while the API was down.
    assert len(queued) >= 6 and len(set(queued)) == len(queued), queued

    ids = ", ".join(sql_str(m) for m in queued)
    count_sql = (
        f"SELECT (SELECT count() FROM events FINAL WHERE message_id IN ({ids})) AS final,"
        f" (SELECT count() FROM events WHERE message_id IN ({ids})) AS raw"
    )
    wait_until(lambda: stack.rows(count_sql)[0]["final"] == len(queued), 90, "queued events")
    time.sleep(2)  # would a late retry add a duplicate?
    counts = stack.rows(count_sql)[0]
    # Delivered once: every kept event arrived, and none was written twice.
    assert counts == {"final": len(queued), "raw": len(queued)}, counts
    rows = stack.rows(
        f"SELECT DISTINCT anonymous_id, utm_campaign FROM events FINAL WHERE message_id IN ({ids})"
    )
    assert rows == [{"anonymous_id": summary["anonymousId"], "utm_campaign": "offline"}], rows


def test_a_demo_purchase_reaches_meta_as_a_website_purchase_matched_on_the_email(
    make_stack: Callable[[bool, str | None], Stack], tmp_path: Path, kafka_bootstrap: str,
    topic_prefix: str,
) -> None:  # fmt: skip
    """The stock journey with the uploader on the fakes: the back end's purchase is joined to
    the visitor (X-Request-ID), so Meta gets a website purchase on the visitor's page, with the
    browser's fbc and user agent and the email the sign-up's server-side identify sent."""
    stack = make_stack(True, None)
    meta, google = start_fakes()
    # The demo lets Meta have the browser's user agent (a website purchase), not its IP.
    settings = {"FOOTFALL_CONVERSIONS_START_FROM": "enable",
                "FOOTFALL_CONVERSIONS_CLIENT_SIGNALS": "user_agent"}  # fmt: skip
    uploader = UploaderProcess(kafka_bootstrap, topic_prefix, stack.sink.url, tmp_path, meta,
                               google, settings)  # fmt: skip
    try:
        uploader.start()
        assert NODE is not None
        run = subprocess.run(
            [NODE, str(SCRIPT)], cwd=REPO, env=node_env(stack, tmp_path, "journey"),
            capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert run.returncode == 0, f"journey failed:\n{run.stderr}\n{run.stdout}"
        summary = last_json_line(run.stdout)
        wait_until(lambda: meta.order_ids() == [summary["orderId"]], 120, "the Meta upload")
    finally:
        uploader.stop()
        meta.stop()
        google.stop()
    [event] = meta.events()
    assert event["action_source"] == "website", event
    assert event["event_source_url"].startswith(stack.demo.url), event
    user = event["user_data"]
    assert user["em"] == [hashlib.sha256(summary["email"].encode()).hexdigest()]
    assert re.fullmatch(r"fb\.1\.\d{13}\." + re.escape(summary["fbclid"]), user["fbc"]), user
    assert "Chrome" in user["client_user_agent"], user
