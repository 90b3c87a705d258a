"""The dashboard in headless Chromium (e2e/dashboard.mjs): load it, build a funnel with a filter
and per-step filters, see the numbers the query API returns for the same URL, reopen that URL and
get the same view back, and keep a screenshot (test-artifacts/dashboard.png). It logs in first
(the page sends an anonymous visitor to /login), then runs SQL from the page (CSRF token), makes
a share link for the funnel, logs out, and opens the link: the funnel alone, same numbers. The
server runs in-process on a generated data set in chDB."""

import json
import os
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall.broker import find_free_ports
from footfall_analytics.generate import generate, insert
from footfall_analytics.server import create_app, open_dsn
from tests.support.analytics_auth import KEY_HEADERS, auth_config
from tests.support.browser import CHROMIUM, NODE, e2e_marks

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "e2e" / "dashboard.mjs"
VENDOR = REPO / "footfall_analytics" / "server" / "static" / "vendor" / "chart.umd.min.js"

pytestmark = e2e_marks(
    pytest.mark.skipif(
        not VENDOR.is_file(), reason="Chart.js not copied: npm ci/run build --prefix dashboard"
    )
)


@pytest.fixture(scope="module")
def dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One chDB path per process: the empty database of the first-open test lives beside.
    return f"chdb://{tmp_path_factory.mktemp('dashboard') / 'ch'}"


@pytest.fixture(scope="module")
def server(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(dsn, "footfall", tmp_path_factory, generate(seed=5, persons=80)[0])


@pytest.fixture(scope="module")
def empty_server(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(dsn, "nothing_yet", tmp_path_factory, [])


def serve(
    dsn: str, database: str, tmp_path_factory: pytest.TempPathFactory, rows: list[list[object]]
) -> Iterator[str]:
    """The analytics server in-process on `database` (migrated, holding `rows`), with USER."""
    ensure_database(dsn, database)
    writer = connect(dsn, database)
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    if rows:
        insert(writer, rows)
    source = open_dsn(dsn, database)
    auth = auth_config(tmp_path_factory.mktemp("dashboard_auth"))
    auth.users.add(USER, PASSWORD)
    port = find_free_ports(1)[0]
    app = create_app(source, auth)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "the analytics server did not start"
        time.sleep(0.1)
    yield url
    uv.should_exit = True
    thread.join(10)
    source.close()
    writer.close()


USER, PASSWORD = "ana", "a dashboard password"
FUNNEL_ARGS = {"period", "from", "to", "steps", "window", "breakdown", "filter", "step_filter"}
STEP_FILTERS = ["2:section:in:cameras|lenses", "3:properties.revenue:gt:200"]


def persons_by_group(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"breakdown": g["breakdown"], "persons": [s["persons"] for s in g["steps"]]}
        for g in body["groups"]
    ]


def medians_by_group(body: dict[str, Any]) -> list[list[float | None]]:
    return [[s["median_seconds_from_previous"] for s in g["steps"]] for g in body["groups"]]


def test_dashboard_funnel_matches_the_api(server: str) -> None:
    env = {
        **os.environ, "DASHBOARD_URL": server, "CHROMIUM": CHROMIUM,
        "ARTIFACT_DIR": str(REPO / "test-artifacts"), "FROM": "2023-12-31", "TO": "2024-03-01",
        "STEPS": "$page,Product Viewed,Order Completed", "WINDOW": "2d",
        "FILTER": "section:neq:support", "BREAKDOWN": "utm_source",
        "STEP_FILTERS": "\n".join(STEP_FILTERS), "DASHBOARD_USER": USER,
        "DASHBOARD_PASSWORD": PASSWORD,
    }  # fmt: skip
    assert NODE is not None
    run = subprocess.run([NODE, str(SCRIPT)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=180)  # fmt: skip
    assert run.returncode == 0, f"dashboard script failed:\n{run.stderr}\n{run.stdout}"
    summary: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["chartLoaded"] and summary["foreign"] == [], summary
    assert "/static/vendor/chart.umd.min.js" in summary["requests"]

    # The view is in the URL: the same query string gives the API's numbers.
    search = summary["search"]
    assert "filter=section%3Aneq%3Asupport" in search and "steps=" in search, search
    query = urllib.parse.parse_qsl(search.lstrip("?"))
    assert [v for k, v in query if k == "step_filter"] == STEP_FILTERS, search
    # The funnel's own arguments from it (the API refuses the other reports' interval, model).
    funnel_query = [(k, v) for k, v in query if k in FUNNEL_ARGS]
    api = httpx.get(
        f"{server}/api/funnel", params=funnel_query, headers=KEY_HEADERS, timeout=60
    ).json()
    expected = persons_by_group(api)
    shown = [{"breakdown": r["breakdown"], "persons": r["persons"]} for r in summary["rows"]]
    assert shown == expected and len(expected) > 1, (summary, api)
    # The median time from the previous step is shown in each cell that has one, as the API says.
    assert [r["medians"] for r in summary["rows"]] == medians_by_group(api), (summary, api)
    with_median = [r for r in summary["rows"] if r["medians"][1] is not None]
    assert with_median and all(
        len(r["medianText"]) == sum(m is not None for m in r["medians"]) for r in with_median
    )
    assert with_median[0]["medianText"][0].startswith("median "), with_median[0]
    assert any(r["persons"][2] > 0 for r in expected)
    # The step filters were applied: without them the API gives other numbers.
    unfiltered = [(k, v) for k, v in funnel_query if k != "step_filter"]
    api_all = httpx.get(
        f"{server}/api/funnel", params=unfiltered, headers=KEY_HEADERS, timeout=60
    ).json()
    assert persons_by_group(api_all) != expected, (api_all, api)

    # The builder showed a row per step, the table names each step's own filters.
    assert summary["stepNames"] == ["1. $page", "2. Product Viewed", "3. Order Completed"]
    assert summary["headers"][2:] == [
        "2. Product Viewed (section:in:cameras|lenses)",
        "3. Order Completed (properties.revenue:gt:200)",
    ], summary["headers"]
    # Opening the shared URL afresh restores the step filters in the form, and the same numbers.
    assert summary["restoredStepFilters"] == STEP_FILTERS, summary
    assert summary["restoredRows"] == summary["rows"], summary
    assert summary["conversions"].strip() == "not configured"
    assert (REPO / "test-artifacts" / "dashboard.png").stat().st_size > 10_000

    # Logged in through the form; SQL ran from the page; the share link outlives the session.
    assert summary["loginUrl"] == "/login", summary
    assert summary["sqlCells"] == ["42"] and "1 rows" in summary["sqlStatus"], summary
    assert summary["shareUrl"].startswith(f"{server}/s/"), summary
    assert summary["afterLogout"] == "/login", summary
    assert summary["sharedSections"] == ["funnel"], summary
    assert summary["sharedRows"] == shown, summary


def first_open(url: str, shot: str) -> dict[str, Any]:
    env = {**os.environ, "DASHBOARD_URL": url, "CHROMIUM": CHROMIUM, "DASHBOARD_USER": USER,
           "DASHBOARD_PASSWORD": PASSWORD, "ARTIFACT_DIR": str(REPO / "test-artifacts"),
           "SHOT": shot}  # fmt: skip
    assert NODE is not None
    run = subprocess.run([NODE, str(REPO / "e2e" / "dashboard_first_open.mjs")], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert run.returncode == 0, f"first-open script failed:\n{run.stderr}\n{run.stdout}"
    summary: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return summary


def test_first_open_answers_without_typing(server: str) -> None:
    """Opened with nothing typed: all data, the period shown, a funnel over the placeholder steps
    (all stored), the founding question, attribution by campaign and section, retention with its
    definitions; the numbers are the API's for the same questions."""
    summary = first_open(server, "dashboard-first-open.png")
    assert summary["search"] == "" and summary["periodSelect"] == "all", summary
    api = httpx.Client(base_url=server, headers=KEY_HEADERS, timeout=60)
    founding = api.get("/api/founding", params={"period": "all"}).json()
    period = founding["period"]
    assert summary["period"]["kind"] == "all" and summary["period"]["from"] == period["from"]
    assert summary["period"]["text"].startswith(f"Period: {period['from'][:10]} – ")
    assert "all data" in summary["period"]["text"]
    assert summary["steps"] == "Product Viewed,Signed Up,Order Completed", summary
    funnel = api.get("/api/funnel", params={"period": "all", "steps": summary["steps"],
                                            "window": "1d"}).json()  # fmt: skip
    assert summary["funnelPersons"] == [s["persons"] for s in funnel["groups"][0]["steps"]]
    assert summary["funnelPersons"][2] > 0
    assert "drawn from your stored events" in summary["funnelStatus"]
    assert summary["founding"] == str(founding["persons"]) and founding["persons"] > 0
    assert "campaign:" in summary["attribution"] and "section:" in summary["attribution"]
    assert "first seen before the period" in summary["definitions"]
    assert summary["firstQueries"]["/api/founding"].startswith("?period=all")
    assert summary["emptyShown"] is False
    # The "last 7 days" preset: in the URL, and the header says which days.
    assert "period=7d" in summary["presetSearch"], summary
    week = api.get("/api/top", params={"period": "7d"}).json()["period"]
    assert summary["presetPeriod"]["from"] == week["from"], summary
    assert "last" in summary["presetPeriod"]["text"]
    assert summary["apiQueries"]["/api/founding"].startswith("?period=7d")


def test_first_open_on_an_empty_database_says_how_to_send_an_event(empty_server: str) -> None:
    summary = first_open(empty_server, "dashboard-empty.png")
    assert summary["emptyShown"] is True, summary
    assert "/v1/track" in summary["emptyText"] and "curl" in summary["emptyText"]
    assert summary["steps"] == "" and "Enter two or more steps" in summary["funnelStatus"]
