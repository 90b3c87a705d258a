"""Retention reads right: weeks that have not started are empty (None), not 0 %; a cohort cut by
the period's start says the first day it holds; persons first seen before the period are in no
cohort; the answer carries its definitions."""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from clickhouse_connect.driver.client import Client
from starlette.testclient import TestClient

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, ensure_database
from footfall_analytics import Period, RetentionParams, retention
from footfall_analytics.generate import insert
from footfall_analytics.server import create_app, open_dsn
from tests.support.analytics_auth import KEY_HEADERS, auth_config
from tests.support.analytics_rows import row


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


ROWS = [
    row("a0", at("2024-01-03"), "Viewed", user_id="a"),  # Wednesday: cohort of Mon 2024-01-01
    row("a1", at("2024-01-10"), "Viewed", user_id="a"),  # active in week 1
    row("b0", at("2024-01-15"), "Viewed", user_id="b"),  # cohort of 2024-01-15
    row("c0", at("2023-12-20"), "Viewed", user_id="c"),  # first seen before the period
    row("c1", at("2024-01-10"), "Viewed", user_id="c"),
]
PERIOD = Period(datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 24, tzinfo=UTC))
AS_OF = datetime(2024, 1, 17, 9, tzinfo=UTC)  # a Wednesday: the weeks from Jan 22 are to come


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, str]]:
    dsn = f"chdb://{tmp_path_factory.mktemp('retention_weeks') / 'ch'}"
    ensure_database(dsn, "footfall")
    c = connect(dsn, "footfall")
    migrations.apply(c, REPO_ROOT / "deploy/clickhouse/migrations")
    insert(c, ROWS)
    yield c, dsn
    c.close()


def test_future_weeks_are_empty_and_cohorts_say_their_first_day(
    stored: tuple[Client, str],
) -> None:
    client, _ = stored
    rows = retention(client, RetentionParams(PERIOD, weeks=3, as_of=AS_OF))
    got = {(r.cohort_week, r.week): (r.cohort_start, r.cohort_size, r.persons, r.rate)
           for r in rows}  # fmt: skip
    jan1, jan3, jan15 = date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 15)
    assert got == {
        (jan1, 0): (jan3, 1, 1, 1.0),
        (jan1, 1): (jan3, 1, 1, 1.0),
        (jan1, 2): (jan3, 1, 0, 0.0),  # Jan 15-21 has begun: a real 0
        (jan1, 3): (jan3, 1, None, None),  # Jan 22: not yet
        (jan15, 0): (jan15, 1, 1, 1.0),
        (jan15, 1): (jan15, 1, None, None),
        (jan15, 2): (jan15, 1, None, None),
        (jan15, 3): (jan15, 1, None, None),
    }  # c, first seen in December, is in no cohort


def test_the_api_answers_with_its_definitions(
    stored: tuple[Client, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = open_dsn(stored[1], "footfall")
    app = create_app(source, auth_config(tmp_path_factory.mktemp("retention_auth")))
    try:
        with TestClient(app, headers=KEY_HEADERS) as http:
            body = http.get("/api/retention", params={"from": "2024-01-03", "to": "2024-01-24",
                                                      "weeks": "2"}).json()  # fmt: skip
    finally:
        source.close()
    assert "first seen before the period" in body["definitions"]
    assert "not 0 %" in body["definitions"]
    assert {r["cohort_start"] for r in body["rows"]} == {"2024-01-03", "2024-01-15"}
    # Today is long after 2024: every week is known.
    assert all(r["persons"] is not None for r in body["rows"])
