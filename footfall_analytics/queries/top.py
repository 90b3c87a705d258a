"""Top events, pages, referrers (outside hosts) and campaigns for a period."""

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from footfall_analytics.errors import BadParameter
from footfall_analytics.params import TopParams
from footfall_analytics.sql import (
    FIELDS,
    REF_HOST,
    Binder,
    check_int,
    check_period,
    compile_filters,
    resolved_events,
)

_KINDS = {
    "events": ("if(type = 'track', event, concat('$', type))", "1"),
    "pages": ("page_path", "type = 'page' AND page_path != ''"),
    "referrers": (REF_HOST, f"{REF_HOST} != ''"),
    "campaigns": (  # caseless (sql.FIELDS): one campaign is one row whatever its case
        f"concat({FIELDS['utm_source']}, ' / ', {FIELDS['utm_medium']}, ' / ', "
        f"{FIELDS['utm_campaign']})",
        "utm_source != '' OR utm_medium != '' OR utm_campaign != ''",
    ),
}


@dataclass(frozen=True)
class TopRow:
    value: str
    events: int
    persons: int


def top(client: Client, params: TopParams) -> list[TopRow]:
    if params.kind not in _KINDS:
        raise BadParameter("kind", f"unknown kind {params.kind!r}; use {', '.join(_KINDS)}")
    check_period(params.period)
    check_int("limit", params.limit, 1, 1000)
    value, where = _KINDS[params.kind]
    binder = Binder()
    filters = compile_filters(params.filters, binder)
    source = resolved_events(
        binder, params.period.start, params.period.end, f"{value} {where} {filters}"
    )
    sql = (
        f"SELECT {value} AS value, count(), uniqExactIf(person_key, person_key != 0) "
        f"FROM {source} "
        f"WHERE ({where}) AND ({filters}) GROUP BY value ORDER BY count() DESC, value "
        f"LIMIT {binder.bind(params.limit, 'UInt64')}"
    )
    rows = client.query(sql, parameters=binder.parameters).result_rows
    return [TopRow(str(v), int(e), int(p)) for v, e, p in rows]
