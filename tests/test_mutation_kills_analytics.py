"""Funnel and attribution details the report tests left open, found by mutation testing
(docs/testing.md): refusals with their exact reason, step numbering and rates when nobody gets
past a step, the $screen step, the shape of the SQL. In-process chDB, small generated data."""

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
    Step,
    attribution,
    funnel,
)
from footfall_analytics.generate import generate, insert
from footfall_analytics.params import ANY, PAGE, SCREEN
from footfall_analytics.queries.attribution import attribution_sql
from footfall_analytics.queries.funnel import MAX_STEPS, check_events_exist, funnel_sql

P = Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
NOBODY = Filter("utm_source", "eq", "no-such-source")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    dsn = f"chdb://{tmp_path_factory.mktemp('mutation_kills') / 'ch'}"
    ensure_database(dsn, "footfall")
    c = connect(dsn, "footfall")
    migrations.apply(c, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(c, generate(seed=1, persons=30)[0])
    yield c
    c.close()


# -- funnel: refusals (no database needed) -----------------------------------------------------


def test_steps_must_be_step_objects() -> None:
    with pytest.raises(BadParameter) as raised:
        funnel_sql(FunnelParams(steps=("Product Viewed", "Order Completed"), period=P))  # type: ignore[arg-type]
    assert (raised.value.name, raised.value.message) == ("steps", "each step must be a Step")


def test_a_funnel_has_two_to_max_steps() -> None:
    funnel_sql(FunnelParams(steps=(Step(ANY),) * MAX_STEPS, period=P))
    for steps in ((Step(ANY),), (Step(ANY),) * (MAX_STEPS + 1)):
        with pytest.raises(BadParameter) as raised:
            funnel_sql(FunnelParams(steps=steps, period=P))
        assert (raised.value.name, raised.value.message) == (
            "steps",
            "a funnel needs 2 to 10 steps",
        )


def test_the_window_is_bound_in_milliseconds() -> None:
    _sql, parameters = funnel_sql(
        FunnelParams(steps=(Step(ANY), Step(ANY)), period=P, window=timedelta(days=1))
    )
    assert 86_400_000 in parameters.values()


def test_unknown_step_events_are_named(client: Client) -> None:
    with pytest.raises(BadParameter) as raised:
        check_events_exist(client, {"Order Completed", "Nope", "Zed"})
    assert (raised.value.name, raised.value.message) == ("steps", "unknown event(s): Nope, Zed")


# -- funnel: results ---------------------------------------------------------------------------


def test_each_step_is_numbered_and_named(client: Client) -> None:
    steps = (Step(PAGE), Step("Product Viewed"), Step("Order Completed"))
    [group] = funnel(client, FunnelParams(steps=steps, period=P))
    assert group.breakdown == ""
    assert [s.step for s in group.steps] == [1, 2, 3]
    assert [s.event for s in group.steps] == [PAGE, "Product Viewed", "Order Completed"]
    first = group.steps[0]
    assert first.persons > group.steps[2].persons > 0
    assert (first.rate_from_start, first.rate_from_previous) == (1.0, 1.0)
    assert first.median_seconds_from_previous is None


def test_when_nobody_gets_past_a_step_the_rates_are_zero(client: Client) -> None:
    steps = (Step("Product Viewed"), Step("Product Viewed", (NOBODY,)), Step("Order Completed"))
    [group] = funnel(client, FunnelParams(steps=steps, period=P))
    first, second, third = group.steps
    assert first.persons > 0 and second.persons == 0 and third.persons == 0
    assert (first.rate_from_start, first.rate_from_previous) == (1.0, 1.0)
    assert (second.rate_from_start, second.rate_from_previous) == (0.0, 0.0)
    assert (third.rate_from_start, third.rate_from_previous) == (0.0, 0.0)
    assert second.median_seconds_from_previous is None
    assert third.median_seconds_from_previous is None


def test_a_screen_step_counts_app_screens(client: Client) -> None:
    [group] = funnel(client, FunnelParams(steps=(Step(SCREEN), Step(ANY)), period=P))
    assert group.steps[0].persons > 0
    screens = client.query(
        "SELECT count() FROM events WHERE type = 'screen' AND timestamp >= {s:DateTime64(3)} "
        "AND timestamp < {e:DateTime64(3)}",
        parameters={"s": P.start, "e": P.end},
    ).result_rows[0][0]
    assert screens > 0


def test_the_sql_has_one_count_per_step_and_one_median_per_later_step(client: Client) -> None:
    steps = (Step(PAGE), Step("Product Viewed"), Step("Order Completed"))
    sql, parameters = funnel_sql(FunnelParams(steps=steps, period=P))
    row = client.query(sql, parameters=parameters).result_rows[0]
    assert len(row) == 1 + 3 + 2
    # Only the columns the funnel uses are read: not the person's id strings.
    assert " AS person_id" not in sql


def test_a_breakdown_by_a_property(client: Client) -> None:
    steps = (Step("Product Viewed"), Step("Order Completed"))
    groups = funnel(client, FunnelParams(steps=steps, period=P, breakdown="properties.section"))
    assert {"cameras", "lenses"} <= {g.breakdown for g in groups}


# -- attribution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        (AttributionParams(period=P, model="best"),  # type: ignore[arg-type]
         "model", "unknown model 'best'; use first, last or linear"),
        (AttributionParams(period=P, dimension="x"),  # type: ignore[arg-type]
         "dimension", "unknown dimension 'x'; use campaign, source, channel, section"),
        (AttributionParams(period=P, conversion_events=()),
         "conversion_events", "needs at least one event name"),
        (AttributionParams(period=P, conversion_events="Order Completed"),  # type: ignore[arg-type]
         "conversion_events", "needs at least one event name"),
        (AttributionParams(period=P, conversion_events=("Order Completed", "")),
         "conversion_events", "must be a non-empty string of at most 200 chars"),
        (AttributionParams(period=P, revenue_property="a\nb"),
         "revenue_property", "must not contain control characters"),
        (AttributionParams(period=P, lookback=timedelta(0)),
         "lookback", "must be a positive duration"),
        (AttributionParams(period=P, lookback=timedelta(days=366)),
         "lookback", "must be at most 365 days, 0:00:00"),
        (AttributionParams(period=Period(P.end, P.start)), "period", "start must be before end"),
    ],
)  # fmt: skip
def test_attribution_refusals_name_the_parameter_and_the_reason(
    params: AttributionParams, name: str, message: str
) -> None:
    with pytest.raises(BadParameter) as raised:
        attribution_sql(params)
    assert (raised.value.name, raised.value.message) == (name, message)


def test_a_year_of_lookback_is_allowed() -> None:
    attribution_sql(AttributionParams(period=P, lookback=timedelta(days=365)))


def test_conversions_without_a_touch_are_credited_to_none(client: Client) -> None:
    rows = attribution(
        client, AttributionParams(period=P, dimension="source", lookback=timedelta(seconds=1))
    )
    values = {r.value: r for r in rows}
    assert "(none)" in values
    assert values["(none)"].conversions > 0
    assert values["(none)"].revenue > 0


def test_attribution_sql_reads_only_what_it_uses() -> None:
    sql, parameters = attribution_sql(AttributionParams(period=P))
    # properties.revenue is the stored ff_revenue column, not parsed from the JSON again, and
    # the person's id strings are not read.
    assert "ff_revenue" in sql and "JSONExtractFloat" not in sql
    assert " AS person_id" not in sql
    other, other_parameters = attribution_sql(AttributionParams(period=P, revenue_property="tax"))
    assert "JSONExtractFloat(properties, " in other and "ff_revenue" not in other
    assert "tax" in other_parameters.values()


def test_attribution_filters_apply_to_the_conversions(client: Client) -> None:
    every = attribution(client, AttributionParams(period=P))
    assert every
    same = (Filter("event", "eq", "Order Completed"),)
    assert attribution(client, AttributionParams(period=P, filters=same)) == every
    assert attribution(client, AttributionParams(period=P, filters=(NOBODY,))) == []
