"""The analytics server's JSON API (footfall_analytics.server) against the query library, on a
generated data set in a real chDB: same answers, 400s for bad input, read-only SQL with a limit."""

import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from starlette.testclient import TestClient

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics import (
    ANY,
    PAGE,
    AttributionParams,
    Filter,
    FunnelParams,
    Period,
    RetentionParams,
    SessionParams,
    Step,
    TopParams,
    attribution,
    channels,
    cli,
    founding_question,
    funnel,
    retention,
    top,
)
from footfall_analytics.generate import START, generate, insert
from footfall_analytics.remote import rows_as_json
from footfall_analytics.server import create_app, open_dsn
from tests.support.analytics_auth import KEY_HEADERS, auth_config

FROM, TO = "2023-12-31", "2024-03-01"
PERIOD = Period(START - timedelta(days=1), START + timedelta(days=60))
INJECT = "x') OR 1=1; DROP TABLE events; --"


@pytest.fixture(scope="module")
def dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('query_api') / 'ch'}"


@pytest.fixture(scope="module")
def env(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, TestClient]]:
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(writer, generate(seed=11, persons=150)[0])
    source = open_dsn(dsn, "footfall")  # a second, read-only session on the same path
    auth = auth_config(tmp_path_factory.mktemp("query_api_auth"))  # the API needs a read key
    with TestClient(create_app(source, auth), headers=KEY_HEADERS) as http:
        yield writer, http
    source.close()
    writer.close()


def get(http: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = http.get(path, params={"from": FROM, "to": TO, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def plain(rows: list[Any]) -> list[Any]:
    return [rows_as_json([[asdict(r)]])[0][0] for r in rows]


def test_reports_equal_the_library(env: tuple[Client, TestClient]) -> None:
    client, http = env
    steps = (PAGE, "Product Viewed", "Order Completed")
    expected = funnel(client, FunnelParams(
        steps=tuple(Step(s) for s in steps), period=PERIOD, window=timedelta(days=2),
        filters=(Filter("section", "not_in", ("support", "x")),), breakdown="utm_source",
    ))  # fmt: skip
    body = get(http, "/api/funnel", steps=",".join(steps), window="2d",
               filter="section:not_in:support|x", breakdown="utm_source")  # fmt: skip
    assert body["groups"] == plain(expected) and len(expected) > 1
    assert expected[0].steps[2].persons > 0

    assert get(http, "/api/founding")["persons"] == founding_question(client, PERIOD)
    for model, dimension in (("first", "campaign"), ("last", "section"), ("linear", "channel")):
        rows = attribution(client, AttributionParams(PERIOD, model, dimension))  # type: ignore[arg-type]
        answer = get(http, "/api/attribution", model=model, dimension=dimension)
        assert answer["rows"] == plain(rows) and rows
    rows_r = retention(client, RetentionParams(PERIOD, weeks=4))
    assert get(http, "/api/retention", weeks="4")["rows"] == plain(rows_r) and rows_r
    rows_t = top(client, TopParams(PERIOD, "pages", 5))
    assert get(http, "/api/top", kind="pages", limit="5")["rows"] == plain(rows_t) and rows_t
    rows_c = channels(client, SessionParams(PERIOD))
    assert get(http, "/api/sessions/channels")["rows"] == plain(rows_c) and rows_c

    over_time = get(http, "/api/events-over-time", interval="week")["rows"]
    assert (
        sum(r["events"] for r in over_time)
        == client.query(
            "SELECT count() FROM events FINAL WHERE timestamp >= '2023-12-31' "
            "AND timestamp < '2024-03-01'"
        ).result_rows[0][0]
    )
    assert http.get("/api/conversions/status").json() == {
        "configured": False, "status": "not configured", "platforms": []
    }  # fmt: skip


@pytest.mark.parametrize(("path", "params", "parameter"), [
    ("/api/funnel", {"steps": "Product Viewed,No Such Event"}, "steps"),
    ("/api/funnel", {"steps": "Product Viewed"}, "steps"),
    ("/api/funnel", {}, "steps"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "window": "0d"}, "window"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "window": "-1d"}, "window"),
    ("/api/funnel", {"steps": f"Product Viewed,{INJECT}"}, "steps"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "breakdown": INJECT}, "breakdown"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "filter": f"{INJECT}:eq:x"},
     "filter.field"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "filter": "event:like:x"}, "filter.op"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "filter": "nocolons"}, "filter"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "from": "2024-02-01",
                     "to": "2024-01-01"}, "period"),
    ("/api/funnel", {"steps": "Product Viewed,Signed Up", "from": "yesterday"}, "from"),
    ("/api/attribution", {"model": "middle"}, "model"),
    ("/api/attribution", {"dimension": INJECT}, "dimension"),
    ("/api/attribution", {"lookback": "0s"}, "lookback"),
    ("/api/retention", {"weeks": "53"}, "weeks"),
    ("/api/retention", {"weeks": "two"}, "weeks"),
    ("/api/top", {"kind": INJECT}, "kind"),
    ("/api/top", {"limit": "0"}, "limit"),
    ("/api/events-over-time", {"interval": "minute"}, "interval"),
    ("/api/sessions/channels", {"timeout": "0m"}, "timeout"),
])  # fmt: skip
def test_bad_parameters_are_400(
    env: tuple[Client, TestClient], path: str, params: dict[str, str], parameter: str
) -> None:
    _, http = env
    response = http.get(path, params={"from": FROM, "to": TO, **params})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_parameter" and body["parameter"] == parameter, body
    assert body["message"]


def test_funnel_step_filters_equal_the_library(env: tuple[Client, TestClient]) -> None:
    """step_filter=<n>:field:op:value gives step n its own filters, exactly as Step(event, filters)
    does in the library; they change the numbers, and differ from the same filter given globally."""
    client, http = env
    names = (ANY, "Signed Up", "Order Completed")
    first = (Filter("utm_source", "in", ("facebook", "google")),
             Filter("channel", "neq", "paid search"))  # fmt: skip
    third = (Filter("properties.revenue", "gt", 100.0),)

    def library(steps: tuple[Step, ...], **kw: Any) -> list[Any]:
        return plain(funnel(client, FunnelParams(steps=steps, period=PERIOD,
                                                 window=timedelta(days=2), **kw)))  # fmt: skip

    expected = library((Step(ANY, first), Step("Signed Up"), Step("Order Completed", third)),
                       breakdown="utm_campaign")  # fmt: skip
    step_filters = ["1:utm_source:in:facebook|google", "3:properties.revenue:gt:100",
                    "1:channel:neq:paid search"]  # two on step 1, in this order  # fmt: skip
    body = get(http, "/api/funnel", steps=",".join(names), window="2d",
               breakdown="utm_campaign", step_filter=step_filters)  # fmt: skip
    assert body["groups"] == expected, (body, expected)
    assert len(expected) > 1 and any(g["steps"][2]["persons"] > 0 for g in expected)

    # The filters are applied: without them, other numbers (those of plain Steps).
    unfiltered = library(tuple(Step(n) for n in names), breakdown="utm_campaign")
    body_plain = get(http, "/api/funnel", steps=",".join(names), window="2d",
                     breakdown="utm_campaign")  # fmt: skip
    assert body_plain["groups"] == unfiltered and unfiltered != expected
    # Only to their step: the same filters given globally (filter=) also hit steps 2 and 3.
    body_global = get(
        http,
        "/api/funnel",
        steps=",".join(names),
        window="2d",
        breakdown="utm_campaign",
        filter=[f.split(":", 1)[1] for f in step_filters],
    )
    assert body_global["groups"] != body["groups"]

    # The founding question, as a query string (docs/analytics.md).
    founding = get(http, "/api/funnel", steps="$any,Signed Up,Order Completed", window="1d",
                   step_filter="1:utm_source:eq:facebook")  # fmt: skip
    persons = founding_question(client, PERIOD)
    assert founding["groups"][0]["steps"][2]["persons"] == persons and persons > 0


@pytest.mark.parametrize("step_filter", [
    "x:utm_source:eq:facebook",  # not an integer
    "1.5:utm_source:eq:facebook",
    ":utm_source:eq:facebook",
    "0:utm_source:eq:facebook",  # out of range
    "-1:utm_source:eq:facebook",
    "3:utm_source:eq:facebook",  # only 2 steps
    "1",  # malformed
    "1:utm_source",
    "1:utm_source:eq",
    f"1:{INJECT}:eq:x",  # unknown field
    "1:event:like:x",  # unknown operator
    "1:properties.revenue:gt:lots",  # gt needs a number
    "1:utm_campaign:in:",  # in needs values
])  # fmt: skip
def test_bad_step_filters_are_400(env: tuple[Client, TestClient], step_filter: str) -> None:
    _, http = env
    response = http.get("/api/funnel", params={
        "from": FROM, "to": TO, "steps": "Product Viewed,Signed Up",
        "step_filter": ["2:section:eq:cameras", step_filter],
    })  # fmt: skip
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_parameter" and body["parameter"] == "step_filter", body
    assert "step_filter" in body["message"] and repr(step_filter) in body["message"], body


def test_injection_stays_a_value(env: tuple[Client, TestClient]) -> None:
    client, http = env
    body = get(http, "/api/top", filter=f"utm_campaign:eq:{INJECT}")
    assert body["rows"] == []
    assert client.query("SELECT count() FROM events").result_rows[0][0] > 0  # still there


@pytest.mark.parametrize("sql", [
    "INSERT INTO events (message_id) VALUES ('x')",
    "DROP TABLE events",
    "SET readonly = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "CREATE TABLE t (x UInt8) ENGINE = Memory",
])  # fmt: skip
def test_sql_refuses_writes(env: tuple[Client, TestClient], sql: str) -> None:
    client, http = env
    response = http.post("/api/sql", content=sql)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "read_only"  # the guard refused it unrun
    assert client.query("EXISTS TABLE events").result_rows[0][0] == 1
    assert http.post("/api/sql", content="SELECT 1 AS one").json()["rows"] == [[1]]


def test_sql_row_limit(env: tuple[Client, TestClient]) -> None:
    _, http = env
    response = http.post("/api/sql?limit=7", content="SELECT number FROM system.numbers LIMIT 50")
    body = response.json()
    assert response.status_code == 200, body
    assert body["rows"] == [[i] for i in range(7)] and body["truncated"] is True
    assert body["columns"] == [{"name": "number", "type": "UInt64"}]
    assert http.post("/api/sql?limit=100000", content="SELECT 1").status_code == 400
    json_body = http.post("/api/sql", json={"sql": "SELECT 2 AS two", "limit": 5}).json()
    assert json_body["rows"] == [[2]] and json_body["truncated"] is False


def test_cli_tables(
    env: tuple[Client, TestClient], dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = env
    steps = "$page,Product Viewed,Order Completed"
    code = cli.main(["--dsn", dsn, "funnel", "--steps", steps, "--window", "1d",
                     "--from", FROM, "--to", TO, "--filter", "section:neq:support"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    expected = funnel(client, FunnelParams(
        steps=(Step(PAGE), Step("Product Viewed"), Step("Order Completed")), period=PERIOD,
        filters=(Filter("section", "neq", "support"),),
    ))[0]  # fmt: skip
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["breakdown", "step", "event", "persons"]
    persons = [line.split("%")[0].split()[-2] for line in lines[3:6]]  # the column before "x%"
    assert [int(p.replace(",", "")) for p in persons] == [
        s.persons for s in expected.steps
    ]  # fmt: skip
    assert cli.main(["--dsn", dsn, "founding", "--from", FROM, "--to", TO]) == 0
    assert f": {founding_question(client, PERIOD):,}" in capsys.readouterr().out
    assert cli.main(["--dsn", dsn, "funnel", "--steps", "Product Viewed,Nope"]) == 2
    assert "bad parameter steps" in capsys.readouterr().err


def test_cli_step_filter(
    env: tuple[Client, TestClient], dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = env
    code = cli.main(["--dsn", dsn, "--json", "funnel", "--steps", "$any,Signed Up,Order Completed",
                     "--window", "2d", "--from", FROM, "--to", TO,
                     "--step-filter", "1:utm_source:in:facebook|google",
                     "--step-filter", "3:properties.revenue:gt:100"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    expected = plain(funnel(client, FunnelParams(
        steps=(Step(ANY, (Filter("utm_source", "in", ("facebook", "google")),)),
               Step("Signed Up"),
               Step("Order Completed", (Filter("properties.revenue", "gt", 100.0),))),
        period=PERIOD, window=timedelta(days=2),
    )))  # fmt: skip
    unfiltered = plain(funnel(client, FunnelParams(
        steps=(Step(ANY), Step("Signed Up"), Step("Order Completed")), period=PERIOD,
        window=timedelta(days=2),
    )))  # fmt: skip
    assert json.loads(out)["groups"] == expected != unfiltered

    bad = ["--dsn", dsn, "funnel", "--steps", "Product Viewed,Signed Up", "--from", FROM]
    assert cli.main([*bad, "--step-filter", "3:section:eq:cameras"]) == 2
    assert "bad parameter step_filter" in capsys.readouterr().err
    assert cli.main([*bad, "--step-filter", "one:section:eq:cameras"]) == 2
    assert "bad parameter step_filter" in capsys.readouterr().err
