"""Funnels: ordered steps within a conversion window, counted in persons.

For each person, every step-1 event in the period is a candidate start; from it the earliest
later event of step 2, then the earliest later one of step 3, ... all within `window` of the
start. The person's level is the best candidate's (the earliest among the best). Later steps may
fall after the period's end (up to the window). Times between steps are the chosen path's.
"""

from dataclasses import dataclass
from datetime import timedelta

from clickhouse_connect.driver.client import Client

from footfall_analytics.errors import BadParameter
from footfall_analytics.params import ANY, PAGE, SCREEN, FunnelParams, Step
from footfall_analytics.sql import (
    PACK,
    Binder,
    check_name,
    check_period,
    check_positive,
    compile_filters,
    distinct_values,
    field_expr,
    resolved_events,
    utc,
    value_code,
)

MAX_STEPS = 10
MAX_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class FunnelStep:
    step: int  # 1-based
    event: str
    persons: int
    rate_from_start: float  # persons / persons at step 1
    rate_from_previous: float
    median_seconds_from_previous: float | None  # None for step 1 and when nobody got here


@dataclass(frozen=True)
class FunnelGroup:
    breakdown: str  # '' without a breakdown
    steps: list[FunnelStep]


def _step_condition(step: Step, binder: Binder) -> str:
    if not isinstance(step, Step):
        raise BadParameter("steps", "each step must be a Step")
    check_name("step.event", step.event)
    if step.event == ANY:
        base = "1"
    elif step.event == PAGE:
        base = "type = 'page'"
    elif step.event == SCREEN:
        base = "type = 'screen'"
    else:
        base = f"event = {binder.bind(step.event, 'String')}"
    return f"({base} AND {compile_filters(step.filters, binder)})"


def check_events_exist(client: Client, names: set[str]) -> None:
    """Unknown step event names are a BadParameter (typos would silently give zeros)."""
    if not names:
        return
    rows = client.query(
        "SELECT DISTINCT event FROM events WHERE event IN {names:Array(String)}",
        parameters={"names": sorted(names)},
    ).result_rows
    missing = names - {row[0] for row in rows}
    if missing:
        raise BadParameter("steps", f"unknown event(s): {', '.join(sorted(missing))}")


@dataclass(frozen=True)
class _Starts:
    """How step-1 events (the candidate starts) are collected and read back: `arrays` is the
    s1 column, `at` a start's time in ms (inside lambdas over `c`), `first` the earliest start's
    time, `breakdown` the group's value and `values` the WITH clause it needs."""

    arrays: list[str]
    at: str
    first: str
    breakdown: str
    values: str


def _starts(params: FunnelParams, binder: Binder, step1: str, cond1: str, common: str) -> _Starts:
    if params.breakdown is None:
        array = f"arraySort(groupArrayIf(toUnixTimestamp64Milli(timestamp), {step1})) AS s1"
        return _Starts([array], "c", "s1[1]", "''", "")
    # Each start carries its breakdown value's code, packed with its time (sql.PACK); the
    # value (maybe a costly expression) is only evaluated for step-1 rows: if()
    # short-circuits, groupArrayIf's arguments would not.
    brk = field_expr(params.breakdown, binder, "breakdown")
    base = binder.ms(params.period.start)
    values = f"WITH {distinct_values(brk, f'{cond1} AND ({common})')} AS vals "
    array = (
        f"arraySort(groupArrayIf((toUnixTimestamp64Milli(timestamp) - {base}) * {PACK} + "
        f"if({cond1}, {value_code(brk, 'vals')}, 0), {step1})) AS s1"
    )
    return _Starts(
        [array],
        at=f"(intDiv(c, {PACK}) + {base})",
        first=f"(intDiv(s1[1], {PACK}) + {base})",
        breakdown=f"vals[if(empty(live), s1[1], live[idx]) % {PACK}]",
        values=values,
    )


def _paths(n: int, at: str, window_ms: str) -> tuple[str, str]:
    """The live starts and, for each, its path: the earliest next step within the window."""
    # Only starts with a step-2 event inside their window can get past step 1; the others are
    # skipped (most starts, in most funnels). With none left, the person is at level 1 on the
    # earliest start, which is what the full search would pick.
    live = (
        f"arrayFilter(c -> arrayExists(x -> x > {at} AND x <= {at} + {window_ms}, s2), s1) AS live"
    )
    paths = f"arrayMap(c -> [{at}], live)"
    for k in range(2, n + 1):
        paths = (
            f"arrayMap(p -> arrayPushBack(p, arrayFirst(x -> p[{k - 1}] > 0 AND x > p[{k - 1}] "
            f"AND x <= p[1] + {window_ms}, s{k})), {paths})"
        )
    return live, paths


def funnel_sql(params: FunnelParams) -> tuple[str, dict[str, object]]:
    steps = params.steps
    if not isinstance(steps, tuple | list) or not 2 <= len(steps) <= MAX_STEPS:
        raise BadParameter("steps", f"a funnel needs 2 to {MAX_STEPS} steps")
    check_period(params.period)
    check_positive("window", params.window, MAX_WINDOW)
    binder = Binder()
    window_ms = binder.bind(int(params.window.total_seconds() * 1000), "Int64")
    end = binder.time(params.period.end)
    common = compile_filters(params.filters, binder)
    conds = [_step_condition(step, binder) for step in steps]
    n = len(steps)
    # Step timestamps as epoch milliseconds; 0 = not reached (arrayFirst's default).
    starts = _starts(params, binder, f"{conds[0]} AND timestamp < {end}", conds[0], common)
    arrays = starts.arrays + [
        f"arraySort(groupArrayIf(toUnixTimestamp64Milli(timestamp), {conds[k]})) AS s{k + 1}"
        for k in range(1, n)
    ]
    live, paths = _paths(n, starts.at, window_ms)
    levels = "arrayMap(p -> arrayCount(x -> x > 0, p), paths)"
    source = resolved_events(
        binder,
        params.period.start,
        utc(params.period.end) + params.window,
        " ".join([*arrays, common]),
    )
    per_person = (
        f"SELECT person_key, {', '.join(arrays)} FROM {source} "
        f"WHERE person_key != 0 AND ({common}) AND ({' OR '.join(conds)}) "
        "GROUP BY person_key HAVING notEmpty(s1)"
    )
    best = (
        f"SELECT {live}, {paths} AS paths, {levels} AS levels, "
        "indexOf(levels, arrayMax(levels)) AS idx, if(empty(live), 1, levels[idx]) AS level, "
        f"if(empty(live), [{starts.first}], paths[idx]) AS path, {starts.breakdown} AS breakdown "
        f"FROM ({per_person})"
    )
    counts = [f"countIf(level >= {k})" for k in range(1, n + 1)]
    medians = [
        f"quantileExactIf(0.5)((path[{k}] - path[{k - 1}]) / 1000, level >= {k})"
        for k in range(2, n + 1)
    ]
    sql = (
        f"{starts.values}SELECT breakdown, {', '.join(counts + medians)} FROM ({best}) "
        "GROUP BY breakdown ORDER BY countIf(level >= 1) DESC, breakdown LIMIT 1000"
    )
    return sql, binder.parameters


def funnel(client: Client, params: FunnelParams) -> list[FunnelGroup]:
    sql, parameters = funnel_sql(params)
    if params.check_events_exist:
        check_events_exist(client, {s.event for s in params.steps} - {ANY, PAGE, SCREEN})
    n = len(params.steps)
    groups = []
    for row in client.query(sql, parameters=parameters).result_rows:
        counts = [int(c) for c in row[1 : n + 1]]
        medians = [None, *row[n + 1 :]]
        steps = []
        for k in range(n):
            persons = counts[k]
            previous = counts[k - 1] if k else persons
            median = medians[k]
            steps.append(
                FunnelStep(
                    step=k + 1,
                    event=params.steps[k].event,
                    persons=persons,
                    rate_from_start=persons / counts[0] if counts[0] else 0.0,
                    rate_from_previous=persons / previous if previous else 0.0,
                    median_seconds_from_previous=float(median)
                    if median is not None and persons
                    else None,
                )
            )
        groups.append(FunnelGroup(breakdown=str(row[0]), steps=steps))
    return groups
