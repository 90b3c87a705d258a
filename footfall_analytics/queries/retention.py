"""Retention by cohort: persons grouped by the week (Monday, UTC) they were first seen, and how many
of them were active in each following week (week 0 = the cohort week itself). DEFINITIONS says
it in words; the API and the dashboard show them."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from footfall_analytics.params import RetentionParams
from footfall_analytics.sql import Binder, check_int, check_name, check_period, resolved_events, utc

_HISTORY_START = datetime(1970, 1, 2, tzinfo=UTC)
DEFINITIONS = (
    "A cohort is the persons first seen (over all stored data) in one week, Monday to Sunday UTC, "
    "within the period; persons first seen before the period belong to no cohort. A cohort's "
    "first and last weeks may be cut by the period: cohort_start is the first day it holds. Week "
    "n is the nth week after the cohort week (week 0 is the cohort week); a person is active in "
    "it with at least one event (or the activity event). Weeks that have not started yet are "
    "empty (null), not 0 %; the week in progress counts the days so far."
)


@dataclass(frozen=True)
class RetentionRow:
    cohort_week: date  # Monday
    cohort_size: int
    week: int  # 0 .. weeks
    persons: int | None  # None: the week has not started yet (as_of)
    rate: float | None
    cohort_start: date  # the first day the cohort holds: its Monday, or the period's first day


def retention_sql(params: RetentionParams) -> tuple[str, dict[str, object]]:
    check_period(params.period)
    check_int("weeks", params.weeks, 0, 52)
    binder = Binder()
    active = "1"
    if params.activity_event is not None:
        check_name("activity_event", params.activity_event)
        active = f"event = {binder.bind(params.activity_event, 'String')}"
    start = binder.time(params.period.start)
    end = binder.time(params.period.end)
    # First seen over all history up to the period's end; activity up to `weeks` after it.
    horizon = utc(params.period.end) + timedelta(weeks=params.weeks + 1)
    source = resolved_events(binder, _HISTORY_START, horizon, active)
    weeks = binder.bind(params.weeks, "UInt64")
    per_person = (
        "SELECT person_key, min(timestamp) AS first_seen, toMonday(first_seen) AS cohort, "
        f"groupUniqArrayIf(toMonday(timestamp), {active}) AS active_weeks "
        f"FROM {source} WHERE person_key != 0 GROUP BY person_key "
        f"HAVING first_seen >= {start} AND first_seen < {end}"
    )
    sql = (
        "SELECT cohort, week, count() AS size, "
        "countIf(has(active_weeks, addWeeks(cohort, week))) AS persons "
        f"FROM ({per_person}) ARRAY JOIN range({weeks} + 1) AS week "
        "GROUP BY cohort, week ORDER BY cohort, week"
    )
    return sql, binder.parameters


def retention(client: Client, params: RetentionParams) -> list[RetentionRow]:
    sql, parameters = retention_sql(params)
    today = utc(params.as_of or datetime.now(UTC)).date()
    first_day = utc(params.period.start).date()
    rows = []
    for cohort, week, size, persons in client.query(sql, parameters=parameters).result_rows:
        known = cohort + timedelta(weeks=int(week)) <= today
        rows.append(RetentionRow(
            cohort_week=cohort,
            cohort_size=int(size),
            week=int(week),
            persons=int(persons) if known else None,
            rate=(int(persons) / int(size) if size else 0.0) if known else None,
            cohort_start=max(cohort, first_day),
        ))  # fmt: skip
    return rows
