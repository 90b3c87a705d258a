"""The Grafana funnel panel on ties: a step stored at the same millisecond as the one before does
not count (the API's rule, docs/analytics.md). Its own module: chDB opens one data path per process
at a time, and test_grafana_dashboard.py holds its own for the whole module."""

from datetime import timedelta

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics.generate import START, insert
from footfall_analytics.params import FunnelParams, Step
from footfall_analytics.queries.funnel import funnel
from tests.support.analytics_rows import row
from tests.test_grafana_dashboard import PERIOD, panels, run, variables


def test_funnel_panel_needs_each_step_strictly_later(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The panel agrees with the query library on a tie, and the tie is not counted."""
    db = connect_fresh(tmp_path_factory)
    values = variables()
    step1, step2, step3 = (values[f"step{k}"] for k in (1, 2, 3))
    at = START + timedelta(days=1)
    tied = [row("t-1", at, step1, user_id="tie"), row("t-2", at, step2, user_id="tie"),
            row("t-3", at + timedelta(minutes=1), step3, user_id="tie")]  # fmt: skip
    apart = [row(f"a-{k}", at + timedelta(seconds=k), name, user_id="apart")
             for k, name in enumerate((step1, step2, step3))]  # fmt: skip
    insert(db, tied + apart)
    title = next(t for t in panels() if t.startswith("Funnel"))
    (got,) = run(db, title)
    steps = tuple(Step(values[f"step{k}"]) for k in (1, 2, 3))
    window = timedelta(hours=int(values["window_hours"]))
    (group,) = funnel(db, FunnelParams(steps=steps, period=PERIOD, window=window))
    assert [s.persons for s in group.steps] == [2, 1, 1]
    assert [int(str(v)) for v in got] == [2, 1, 1]
    db.close()


def connect_fresh(tmp_path_factory: pytest.TempPathFactory) -> Client:
    dsn = f"chdb://{tmp_path_factory.mktemp('grafana-ties') / 'ch'}"
    ensure_database(dsn, "footfall")
    db = connect(dsn, "footfall")
    migrations.apply(db, REPO_ROOT / "deploy/clickhouse/migrations")
    return db
