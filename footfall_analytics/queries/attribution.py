"""Attribution of conversions and revenue to campaigns, sources, channels or site sections.

Each conversion (an event in `conversion_events` during the period, online or offline, credited to
its person through identity) looks back `lookback` for its person's touches, in time order:
- campaign / source / channel: campaign touches (footfall_is_touch: utm tags, click ids or an
  outside referrer), valued by utm_campaign / utm_source / footfall_channel;
- section: events whose properties.section is set, valued by the section.
Campaign and source values compare ignoring case and show in lower case (sql.CASELESS). The
revenue is the event's stored revenue (sql REPORT_COLUMNS ff_revenue, migration 0010).
first: all credit to the earliest touch; last: to the latest; linear: 1/n to each of n touches.
A conversion with no touch in the lookback is credited to '(none)'.
"""

from dataclasses import dataclass
from datetime import timedelta

from clickhouse_connect.driver.client import Client

from footfall_analytics.errors import BadParameter
from footfall_analytics.params import REVENUE, AttributionParams
from footfall_analytics.sql import (
    CHANNEL,
    FIELDS,
    IS_TOUCH,
    PACK,
    SECTION,
    Binder,
    check_name,
    check_period,
    check_positive,
    compile_filters,
    distinct_values,
    resolved_events,
    utc,
    value_code,
)

NONE = "(none)"
MAX_LOOKBACK = timedelta(days=365)
_VALUE = {
    "campaign": (FIELDS["utm_campaign"], IS_TOUCH),  # caseless, shown in lower case
    "source": (FIELDS["utm_source"], IS_TOUCH),
    "channel": (CHANNEL, IS_TOUCH),
    "section": (SECTION, f"{SECTION} != ''"),
}
# Credits as (value code, share); touches are packed (time, code) pairs (sql.PACK).
_CREDIT = {
    "first": f"[(touches[1] % {PACK}, 1.)]",
    "last": f"[(touches[-1] % {PACK}, 1.)]",
    "linear": f"arrayMap(t -> (t % {PACK}, 1. / length(touches)), touches)",
}


@dataclass(frozen=True)
class AttributionRow:
    value: str  # the campaign / source / channel / section, or '(none)'
    conversions: float  # credited conversions (fractional for linear)
    revenue: float


def _check(params: AttributionParams) -> None:
    check_period(params.period)
    check_positive("lookback", params.lookback, MAX_LOOKBACK)
    if params.model not in _CREDIT:
        raise BadParameter("model", f"unknown model {params.model!r}; use first, last or linear")
    if params.dimension not in _VALUE:
        raise BadParameter("dimension", f"unknown dimension {params.dimension!r}; use "
                           + ", ".join(_VALUE))  # fmt: skip
    if not isinstance(params.conversion_events, tuple | list) or not params.conversion_events:
        raise BadParameter("conversion_events", "needs at least one event name")
    for name in params.conversion_events:
        check_name("conversion_events", name)
    check_name("revenue_property", params.revenue_property)


def _revenue(params: AttributionParams, binder: Binder) -> str:
    # The revenue (properties.revenue, else total, else value) is stored per track event
    # (migrations 0007, 0010), one field for every path; another named property is parsed.
    if params.revenue_property == REVENUE:
        return "ff_revenue"
    return f"JSONExtractFloat(properties, {binder.bind(params.revenue_property, 'String')})"


def attribution_sql(params: AttributionParams) -> tuple[str, dict[str, object]]:
    _check(params)
    value, is_touch = _VALUE[params.dimension]
    binder = Binder()
    start, end = utc(params.period.start), utc(params.period.end)
    names = binder.bind(list(params.conversion_events), "Array(String)")
    revenue = _revenue(params, binder)
    lookback_ms = binder.bind(int(params.lookback.total_seconds() * 1000), "Int64")
    filters = compile_filters(params.filters, binder)
    is_conversion = f"(timestamp >= {binder.time(start)} AND event IN {names} AND ({filters}))"
    since = start - params.lookback
    base = binder.ms(since)
    values = distinct_values(value, is_touch)
    code = value_code(value, "vals")
    uses = f"{is_conversion} {is_touch} {code} {revenue}"
    # One row per person: its conversions, and its touches oldest first (ties: by value). No
    # join: a person's conversions meet its touches inside one aggregation.
    per_person = (
        f"SELECT groupArrayIf((toUnixTimestamp64Milli(timestamp), "
        f"if({is_conversion}, {revenue}, 0.)), {is_conversion}) "
        "AS conversions, arraySort(groupArrayIf("
        f"(toUnixTimestamp64Milli(timestamp) - {base}) * {PACK} + {code}, {is_touch})) AS touches "
        f"FROM {resolved_events(binder, since, end, uses)} "
        f"WHERE person_key != 0 AND ({is_conversion} OR {is_touch}) "
        "GROUP BY person_key HAVING notEmpty(conversions)"
    )
    # One row per conversion with the touches in its lookback (compared packed: time first).
    per_conversion = (
        f"SELECT c.2 AS revenue, arrayFilter(t -> t >= (c.1 - {lookback_ms} - {base}) * {PACK} "
        f"AND t < (c.1 - {base} + 1) * {PACK}, touches) AS touches "
        f"FROM ({per_person}) ARRAY JOIN conversions AS c"
    )
    credit = _CREDIT[params.model]
    sql = (
        f"WITH {values} AS vals "
        f"SELECT if(credit.1 = 0, '{NONE}', vals[credit.1]) AS value, "
        "sum(credit.2) AS conversions, sum(credit.2 * revenue) "
        f"FROM (SELECT revenue, arrayJoin(if(empty(touches), [(toInt64(0), 1.)], "
        f"{credit})) AS credit FROM ({per_conversion})) "
        "GROUP BY value ORDER BY conversions DESC, value"
    )
    return sql, binder.parameters


def attribution(client: Client, params: AttributionParams) -> list[AttributionRow]:
    sql, parameters = attribution_sql(params)
    return [
        AttributionRow(value=str(v), conversions=float(c), revenue=float(r))
        for v, c, r in client.query(sql, parameters=parameters).result_rows
    ]
