"""What a new user trips on around the numbers (issue 14): arguments are never silently ignored,
utm values compare ignoring case everywhere, every answer says which period it covers, and the
CLI takes its global options anywhere and finds the server the way the server reads its settings.
On a generated history plus case variants of one source and campaign, in a real chDB."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from clickhouse_connect.driver.client import Client
from starlette.testclient import TestClient

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall.broker import find_free_ports
from footfall_analytics import (
    ANY,
    AttributionParams,
    Filter,
    FunnelParams,
    Period,
    Step,
    attribution,
    cli,
    founding_question,
    funnel,
)
from footfall_analytics.generate import START, generate, insert
from footfall_analytics.server import create_app, open_dsn
from footfall_analytics.server.settings import CliSettings
from tests.support.analytics_auth import KEY_HEADERS, READ_KEY, auth_config
from tests.support.analytics_rows import founding_path, row

FROM, TO = "2023-12-31", "2024-03-01"
PERIOD = Period(START - timedelta(days=1), START + timedelta(days=60))
T = START + timedelta(days=9, hours=10)
CASES = [
    *founding_path("cap", T, "FbAds", timedelta(minutes=5), timedelta(hours=1)),
    *founding_path(
        "upper", T + timedelta(days=1), "FBADS", timedelta(minutes=5), timedelta(hours=1)
    ),  # fmt: skip
    row(
        "camp-1",
        T,
        utm_source="Facebook",
        utm_medium="Paid_Social",
        utm_campaign="Spring_Sale",
        anonymous_id="anon-camp",
    ),  # fmt: skip
    row(
        "camp-2",
        T + timedelta(minutes=3),
        "Order Completed",
        anonymous_id="anon-camp",
        properties={"revenue": 40.5},
    ),  # fmt: skip
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, TestClient, str]]:
    dsn = f"chdb://{tmp_path_factory.mktemp('first_try') / 'ch'}"
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(writer, generate(seed=13, persons=150)[0] + CASES)
    source = open_dsn(dsn, "footfall")
    auth = auth_config(tmp_path_factory.mktemp("first_try_auth"))
    with TestClient(create_app(source, auth), headers=KEY_HEADERS) as http:
        yield writer, http, dsn
    source.close()
    writer.close()


def get(http: TestClient, path: str, status: int = 200, /, **params: Any) -> dict[str, Any]:
    response = http.get(path, params=params)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


# ---- 1. arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "params", "named"), [
    ("/api/founding", {"filter": "utm_source:eq:google"}, "filter"),  # not the founding's
    ("/api/founding", {"steps": "a,b"}, "steps"),
    ("/api/funnel", {"steps": "$any,Signed Up", "windows": "3d"}, "windows"),  # a typo
    ("/api/funnel", {"steps": "$any,Signed Up", "lookback": "3d", "kind": "x"}, "kind,lookback"),
    ("/api/attribution", {"window": "3d"}, "window"),
    ("/api/retention", {"filter": "utm_source:eq:x"}, "filter"),
    ("/api/top", {"interval": "day"}, "interval"),
    ("/api/sessions/channels", {"limit": "5"}, "limit"),
    ("/api/events-over-time", {"kind": "pages"}, "kind"),
    ("/api/events", {"from": FROM}, "from"),
    ("/api/conversions/status", {"x": "1"}, "x"),
])  # fmt: skip
def test_unknown_or_inapplicable_arguments_are_400_naming_them(
    env: tuple[Client, TestClient, str], path: str, params: dict[str, str], named: str
) -> None:
    _, http, _ = env
    body = get(http, path, 400, **params)
    assert body["code"] == "bad_parameter" and body["parameter"] == named, body
    assert all(name in body["message"] for name in named.split(",")), body


@pytest.mark.parametrize("value", ["1", "30", "1.5"])
def test_a_duration_needs_its_unit(env: tuple[Client, TestClient, str], value: str) -> None:
    _, http, _ = env
    for path, name, extra in (("/api/funnel", "window", {"steps": "$any,Signed Up"}),
                              ("/api/founding", "window", {}),
                              ("/api/attribution", "lookback", {}),
                              ("/api/sessions/channels", "timeout", {})):  # fmt: skip
        body = get(http, path, 400, **{name: value, **extra})
        assert body["parameter"] == name and "unit" in body["message"], body


def test_the_founding_question_takes_window_source_and_period(
    env: tuple[Client, TestClient, str],
) -> None:
    client, http, _ = env
    one = get(http, "/api/founding", **{"from": FROM, "to": TO})
    three = get(http, "/api/founding", window="3d", **{"from": FROM, "to": TO})
    assert one["persons"] == founding_question(client, PERIOD)
    assert three["persons"] == founding_question(client, PERIOD, window=timedelta(days=3))
    assert three["persons"] > one["persons"] and three["window_seconds"] == 3 * 86400
    google = get(http, "/api/founding", utm_source="google", **{"from": FROM, "to": TO})
    assert google["persons"] == founding_question(client, PERIOD, "google") != one["persons"]
    january = get(http, "/api/founding", **{"from": FROM, "to": "2024-01-15"})
    assert january["persons"] < one["persons"]


# ---- 3. case --------------------------------------------------------------------------------


def test_utm_values_compare_ignoring_case_everywhere(
    env: tuple[Client, TestClient, str],
) -> None:
    client, http, _ = env
    period = {"from": FROM, "to": TO}
    answers = {get(http, "/api/founding", utm_source=s, **period)["persons"]
               for s in ("facebook", "Facebook", "FACEBOOK")}  # fmt: skip
    assert len(answers) == 1 and answers.pop() > 0
    # The two persons who arrived as FbAds and FBADS are one source's, however it is written.
    for spelling in ("fbads", "FbAds", "FBADS", "fBaDs"):
        assert founding_question(client, PERIOD, spelling) == 2
        steps = funnel(client, FunnelParams(steps=(
            Step(ANY, (Filter("utm_source", "in", (spelling, "x")),)), Step("Signed Up"),
            Step("Order Completed")), period=PERIOD))[0].steps  # fmt: skip
        assert [s.persons for s in steps] == [2, 2, 2]
    counts = [get(http, "/api/top", kind="events", filter=f"utm_source:{op}", **period)["rows"]
              for op in ("eq:Facebook", "eq:facebook", "in:FACEBOOK|nope")]  # fmt: skip
    assert counts[0] == counts[1] == counts[2] and counts[0]
    campaigns = [r["value"] for r in get(http, "/api/top", kind="campaigns", limit="100",
                                         **period)["rows"]]  # fmt: skip
    assert "facebook / paid_social / spring_sale" in campaigns
    assert len({c.lower() for c in campaigns}) == len(campaigns), campaigns
    rows = attribution(client, AttributionParams(PERIOD, dimension="campaign"))
    values = [r.value for r in rows]
    assert "spring_sale" in values and "Spring_Sale" not in values
    # The Spring_Sale touch credits its order to spring_sale (not to '(none)').
    only = (Filter("properties.revenue", "gt", 40.4), Filter("properties.revenue", "lt", 40.6))
    for dimension in ("campaign", "source"):
        params = AttributionParams(PERIOD, dimension=dimension, filters=only)
        credited = [(r.value, r.conversions, r.revenue) for r in attribution(client, params)]
        assert credited == [("spring_sale" if dimension == "campaign" else "facebook", 1.0, 40.5)]
    breakdown = get(http, "/api/funnel", steps="$any,Order Completed", breakdown="utm_source",
                    **period)["groups"]  # fmt: skip
    labels = [g["breakdown"] for g in breakdown]
    assert "facebook" in labels and len({b.lower() for b in labels}) == len(labels)


# ---- 5. periods -----------------------------------------------------------------------------


def test_every_answer_says_its_period(env: tuple[Client, TestClient, str]) -> None:
    client, http, _ = env
    default = get(http, "/api/top")["period"]
    start, end = (datetime.fromisoformat(default[k]) for k in ("from", "to"))
    assert default["kind"] == "default" and end - start == timedelta(days=30)
    assert end.date() == datetime.now(UTC).date() + timedelta(days=1)
    given = get(http, "/api/retention", **{"from": FROM, "to": TO})["period"]
    assert given["kind"] == "given" and given["from"].startswith(FROM)
    everything = get(http, "/api/founding", period="all")
    first, last = client.query("SELECT min(timestamp), max(timestamp) FROM events").result_rows[0]
    p = everything["period"]
    assert p["kind"] == "all" and p["from"].startswith(first.date().isoformat())
    assert datetime.fromisoformat(p["to"]).date() == last.date() + timedelta(days=1)
    whole = Period(datetime.fromisoformat(p["from"]), datetime.fromisoformat(p["to"]))
    assert everything["persons"] == founding_question(client, whole) > 0
    last_week = get(http, "/api/top", period="7d")["period"]
    assert last_week["kind"] == "last"
    for bad in ({"period": "all", "from": FROM}, {"period": "forever"}, {"period": "0d"}):
        assert get(http, "/api/top", 400, **bad)["parameter"] == "period"


# ---- 7. CLI ---------------------------------------------------------------------------------


def test_cli_global_options_go_anywhere(
    env: tuple[Client, TestClient, str], capsys: pytest.CaptureFixture[str]
) -> None:
    client, _, dsn = env
    expected = founding_question(client, PERIOD)
    for argv in (["--dsn", dsn, "--json", "founding", "--from", FROM, "--to", TO],
                 ["founding", "--from", FROM, "--dsn", dsn, "--to", TO, "--json"],
                 ["founding", "--json", "--from", FROM, "--to", TO, "--dsn", dsn]):  # fmt: skip
        assert cli.main(argv) == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)["persons"] == expected
    assert cli.main(["founding", "--dsn", dsn, "--window", "3d", "--from", FROM, "--to", TO]) == 0
    out = capsys.readouterr().out
    assert f": {founding_question(client, PERIOD, window=timedelta(days=3)):,}" in out
    assert cli.main(["founding", "--dsn", dsn]) == 0
    assert "(default: the last 30 days)" in capsys.readouterr().out
    assert cli.main(["founding", "--dsn", dsn, "--window", "1"]) == 2
    assert "bad parameter window" in capsys.readouterr().err


def test_cli_settings_follow_the_servers(tmp_path: Path) -> None:
    assert CliSettings.load({"FOOTFALL_ANALYTICS_PORT": "9310"}).server_url == (
        "http://127.0.0.1:9310"
    )
    both = {"FOOTFALL_ANALYTICS_HOST": "0.0.0.0", "FOOTFALL_ANALYTICS_PORT": "9311"}
    assert CliSettings.load(both).server_url == "http://127.0.0.1:9311"
    url = {**both, "FOOTFALL_ANALYTICS_URL": "http://h:1"}
    assert CliSettings.load(url).server_url == "http://h:1"
    assert CliSettings.load({"FOOTFALL_DATA_DIR": str(tmp_path)}).read_key is None
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "read_key").write_text("k-1\n")
    assert CliSettings.load({"FOOTFALL_DATA_DIR": str(tmp_path)}).read_key == "k-1"
    with pytest.raises(ValueError, match="FOOTFALL_ANALYTICS_PORT"):  # as the server
        CliSettings.load({"FOOTFALL_ANALYTICS_PORT": "eighty"})


def test_cli_finds_the_server_by_its_port_with_server_after_the_command(
    env: tuple[Client, TestClient, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    client, _, dsn = env
    port = find_free_ports(1)[0]
    source = open_dsn(dsn, "footfall")
    app = create_app(source, auth_config(tmp_path))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the analytics server did not start"
            time.sleep(0.05)
        monkeypatch.delenv("FOOTFALL_ANALYTICS_URL", raising=False)
        monkeypatch.setenv("FOOTFALL_ANALYTICS_PORT", str(port))
        monkeypatch.setenv("FOOTFALL_READ_KEY", READ_KEY)
        assert cli.main(["founding", "--json", "--from", FROM, "--to", TO]) == 0
        assert json.loads(capsys.readouterr().out)["persons"] == founding_question(client, PERIOD)
        monkeypatch.setenv("FOOTFALL_ANALYTICS_PORT", "1")  # nothing there: --server wins
        server_url = f"http://127.0.0.1:{port}"
        assert cli.main(["founding", "--from", FROM, "--to", TO, "--server", server_url]) == 0
        assert cli.main(["founding", "--server", server_url, "--window", "1"]) == 2
    finally:
        server.should_exit = True
        thread.join(10)
        source.close()
