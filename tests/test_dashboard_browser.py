"""The dashboard in headless Chromium (e2e/dashboard.mjs): load it, build a funnel with a filter,
see the numbers the query API returns for the same URL, and keep a screenshot
(test-artifacts/dashboard.png). The server runs in-process on a generated data set in chDB."""

import json
import os
import shutil
import subprocess
import threading
import time
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

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
SCRIPT = REPO / "e2e" / "dashboard.mjs"
VENDOR = REPO / "footfall_analytics" / "server" / "static" / "vendor" / "chart.umd.min.js"

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed for e2e/)"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is missing"),
    pytest.mark.skipif(
        not (REPO / "e2e" / "node_modules" / "playwright-core").is_dir(),
        reason="e2e/node_modules is missing: npm ci --prefix e2e (scripts/bootstrap does it)",
    ),
    pytest.mark.skipif(
        not VENDOR.is_file(), reason="Chart.js not copied: npm ci/run build --prefix dashboard"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dsn = f"chdb://{tmp_path_factory.mktemp('dashboard') / 'ch'}"
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(writer, generate(seed=5, persons=80)[0])
    source = open_dsn(dsn, "footfall")
    port = find_free_ports(1)[0]
    config = uvicorn.Config(create_app(source), host="127.0.0.1", port=port, log_level="warning")
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


def test_dashboard_funnel_matches_the_api(server: str) -> None:
    env = {
        **os.environ, "DASHBOARD_URL": server, "CHROMIUM": CHROMIUM,
        "ARTIFACT_DIR": str(REPO / "test-artifacts"), "FROM": "2023-12-31", "TO": "2024-03-01",
        "STEPS": "$page,Product Viewed,Order Completed", "WINDOW": "2d",
        "FILTER": "section:neq:support", "BREAKDOWN": "utm_source",
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
    api = httpx.get(f"{server}/api/funnel{search}", timeout=60).json()
    expected = [
        {"breakdown": g["breakdown"], "persons": [s["persons"] for s in g["steps"]]}
        for g in api["groups"]
    ]
    assert summary["rows"] == expected and len(expected) > 1, (summary, api)
    assert any(r["persons"][2] > 0 for r in expected)
    assert summary["conversions"].strip() == "not configured"
    assert (REPO / "test-artifacts" / "dashboard.png").stat().st_size > 10_000
