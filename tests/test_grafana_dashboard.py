"""The Grafana analytics dashboard's SQL, run on the engine (no Grafana here): every panel's query
with the ClickHouse datasource's macros expanded as the plugin does, on seeded data, agrees with
the query library and the generator's truth."""

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics import TopParams, top
from footfall_analytics.generate import START, Truth, generate, insert
from footfall_analytics.params import FunnelParams, Period, Step
from footfall_analytics.queries.funnel import funnel

DASHBOARD = REPO_ROOT / "deploy/grafana/dashboards/footfall-analytics.json"
PERIOD = Period(START - timedelta(days=1), START + timedelta(weeks=30))


BOARD = json.loads(DASHBOARD.read_text())


def panels() -> dict[str, str]:
    return {p["title"]: t["rawSql"] for p in BOARD["panels"] for t in p.get("targets", [])}


def variables() -> dict[str, str]:
    return {v["name"]: v["current"]["value"] for v in BOARD["templating"]["list"]}


def expand(sql: str, start: datetime, end: datetime, values: dict[str, str]) -> str:
    """The grafana-clickhouse-datasource macros and template variables used by the dashboard."""
    s, e = int(start.timestamp()), int(end.timestamp())
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 rf"\1 >= toDateTime({s}) AND \1 <= toDateTime({e})", sql)  # fmt: skip
    sql = re.sub(r"\$__timeInterval\((\w+)\)",
                 r"toStartOfInterval(toDateTime(\1), INTERVAL 3600 second)", sql)  # fmt: skip
    for name, value in values.items():
        quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        sql = sql.replace(f"${{{name}:sqlstring}}", quoted).replace(f"${{{name}:raw}}", value)
        sql = sql.replace(f"${{{name}}}", value)
    assert "$" not in sql.replace("'$'", ""), sql  # every macro and variable was expanded
    return sql


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Truth]]:
    dsn = f"chdb://{tmp_path_factory.mktemp('grafana') / 'ch'}"
    ensure_database(dsn, "footfall")
    db = connect(dsn, "footfall")
    migrations.apply(db, REPO_ROOT / "deploy/clickhouse/migrations")
    rows, truth = generate(seed=9, persons=150)
    insert(db, rows)
    insert(db, rows[::13])  # redelivered: the panels must not count them twice
    yield db, truth
    db.close()


def run(db: Client, title: str) -> list[tuple[object, ...]]:
    sql = expand(panels()[title], PERIOD.start, PERIOD.end, variables())
    return [tuple(r) for r in db.query(sql).result_rows]


def test_every_panel_has_sql_that_runs(client: tuple[Client, Truth]) -> None:
    db, _ = client
    assert len(panels()) == 4
    for title in panels():
        assert run(db, title), title


def test_events_over_time_counts_every_event_once(client: tuple[Client, Truth]) -> None:
    db, truth = client
    rows = run(db, "Events over time (by event)")
    assert sum(int(str(r[2])) for r in rows) == len(truth.events)


def test_top_events_equal_the_query_library(client: tuple[Client, Truth]) -> None:
    db, _ = client
    got = {str(r[0]): (int(str(r[1])), int(str(r[2]))) for r in run(db, "Top events")}
    library = {r.value: (r.events, r.persons) for r in top(db, TopParams(period=PERIOD))}
    assert got == library and len(got) > 3


def test_funnel_panel_equals_the_query_library(client: tuple[Client, Truth]) -> None:
    db, _ = client
    title = next(t for t in panels() if t.startswith("Funnel"))
    (row,) = run(db, title)
    values = variables()
    steps = tuple(Step(values[f"step{k}"]) for k in (1, 2, 3))
    window = timedelta(hours=int(values["window_hours"]))
    (group,) = funnel(db, FunnelParams(steps=steps, period=PERIOD, window=window))
    assert [int(str(v)) for v in row] == [s.persons for s in group.steps]
    assert group.steps[2].persons > 0


def test_channel_panel_counts_the_campaign_touches(client: tuple[Client, Truth]) -> None:
    db, truth = client
    rows = run(db, "Sessions' channels (entry events with a campaign or referrer)")
    got = {str(r[0]): int(str(r[1])) for r in rows}
    expected: dict[str, int] = {}
    for event in truth.events:
        if event.touch is not None:
            expected[event.touch.channel] = expected.get(event.touch.channel, 0) + 1
    assert got == expected
