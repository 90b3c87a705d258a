"""Reports refuse bad parameters with BadParameter, and values never become SQL text."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics import (
    AttributionParams,
    BadParameter,
    Filter,
    FunnelParams,
    Period,
    RetentionParams,
    SessionParams,
    Step,
    TopParams,
    attribution,
    funnel,
    retention,
    sessions,
    top,
)
from footfall_analytics.generate import generate, insert

P = Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
STEPS = (Step("Product Viewed"), Step("Order Completed"))
INJECT = "x') OR 1=1; DROP TABLE events; --"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    dsn = f"chdb://{tmp_path_factory.mktemp('analytics_params') / 'ch'}"
    ensure_database(dsn, "footfall")
    c = connect(dsn, "footfall")
    migrations.apply(c, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(c, generate(seed=1, persons=30)[0])
    yield c
    c.close()


@pytest.mark.parametrize(("params", "name"), [
    (FunnelParams(steps=(Step("Product Viewed"), Step("No Such Event")), period=P), "steps"),
    (FunnelParams(steps=(Step("Product Viewed"),), period=P), "steps"),
    (FunnelParams(steps=STEPS, period=P, window=timedelta(0)), "window"),
    (FunnelParams(steps=STEPS, period=P, window=timedelta(seconds=-5)), "window"),
    (FunnelParams(steps=STEPS, period=P, breakdown="nope"), "breakdown"),
    (FunnelParams(steps=STEPS, period=P, breakdown="utm_source; DROP TABLE events"), "breakdown"),
    (FunnelParams(steps=STEPS, period=P, breakdown="properties.a'b"), "breakdown"),
    (FunnelParams(steps=STEPS, period=P, filters=(Filter("event)--", "eq", "x"),)),
     "filter.field"),
    (FunnelParams(steps=STEPS, period=P, filters=(Filter("event", "like", "x"),)),  # type: ignore[arg-type]
     "filter.op"),
    (FunnelParams(steps=STEPS, period=P, filters=(Filter("event", "in", ()),)), "filter.value"),
    (FunnelParams(steps=STEPS, period=P, filters=(Filter("event", "gt", "x"),)), "filter.value"),
    (FunnelParams(steps=(Step(""), Step("Order Completed")), period=P), "step.event"),
    (FunnelParams(steps=STEPS, period=Period(P.end, P.start)), "period"),
])  # fmt: skip
def test_funnel_refuses(client: Client, params: FunnelParams, name: str) -> None:
    with pytest.raises(BadParameter) as caught:
        funnel(client, params)
    assert caught.value.name == name


@pytest.mark.parametrize(("call", "name"), [
    (lambda c: attribution(c, AttributionParams(period=P, model="best")), "model"),  # type: ignore[arg-type]
    (lambda c: attribution(c, AttributionParams(period=P, dimension="x")), "dimension"),  # type: ignore[arg-type]
    (lambda c: attribution(c, AttributionParams(period=P, lookback=timedelta(0))), "lookback"),
    (lambda c: attribution(c, AttributionParams(period=P, conversion_events=())),
     "conversion_events"),
    (lambda c: retention(c, RetentionParams(period=P, weeks=53)), "weeks"),
    (lambda c: retention(c, RetentionParams(period=P, weeks=-1)), "weeks"),
    (lambda c: sessions(c, SessionParams(period=P, timeout=timedelta(0))), "timeout"),
    (lambda c: sessions(c, SessionParams(period=P, limit=0)), "limit"),
    (lambda c: top(c, TopParams(period=P, kind="users")), "kind"),  # type: ignore[arg-type]
    (lambda c: top(c, TopParams(period=P, limit=10**9)), "limit"),
])  # fmt: skip
def test_other_reports_refuse(client: Client, call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadParameter) as caught:
        call(client)
    assert caught.value.name == name


def test_injection_in_values_is_just_a_value(client: Client) -> None:
    before = client.query("SELECT count() FROM events").result_rows
    flt = (Filter("utm_source", "eq", INJECT), Filter("properties.section", "neq", INJECT))
    groups = funnel(client, FunnelParams(steps=STEPS, period=P, filters=flt))
    assert groups == []
    rows = attribution(client, AttributionParams(period=P, conversion_events=(INJECT,),
                                                 revenue_property=INJECT))  # fmt: skip
    assert rows == []
    assert sessions(client, SessionParams(period=P, person_id=INJECT)) == []
    assert client.query("SELECT count() FROM events").result_rows == before
