"""Sessions, channels and each person's first and last campaign touch.

A session is a person's run of events with no gap longer than `timeout` (offline events,
source 'csv' or 'import', never start or extend one). It keeps its entry event's page, referrer,
utm fields and click ids; its channel is footfall_channel of the entry event (docs/analytics.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from clickhouse_connect.driver.client import Client

from footfall_analytics.params import Period, SessionParams
from footfall_analytics.sql import (
    CHANNEL,
    CLICK_IDS,
    IS_TOUCH,
    REF_HOST,
    UTM,
    Binder,
    check_int,
    check_name,
    check_period,
    check_positive,
    resolved_events,
)

MAX_TIMEOUT = timedelta(days=1)
_ENTRY = ("page_path", "page_url", "page_referrer", *UTM, *CLICK_IDS)


@dataclass(frozen=True)
class Session:
    person_id: str
    index: int  # 1-based, per person, in time order
    start: datetime
    end: datetime
    events: int
    entry_path: str
    entry_url: str
    referrer: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    click_ids: dict[str, str]  # only the non-empty ones
    channel: str


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    sessions: int
    persons: int


@dataclass(frozen=True)
class Touch:
    at: datetime
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    click_ids: dict[str, str]
    referrer_host: str


@dataclass(frozen=True)
class PersonTouches:
    person_id: str
    first: Touch
    last: Touch


def _sessions_sql(params: SessionParams, binder: Binder) -> str:
    check_period(params.period)
    check_positive("timeout", params.timeout, MAX_TIMEOUT)
    timeout_ms = binder.bind(int(params.timeout.total_seconds() * 1000), "Int64")
    person = "1"
    if params.person_id is not None:
        check_name("person_id", params.person_id)
        person = f"person_id = {binder.bind(params.person_id, 'String')}"
    source = resolved_events(binder, params.period.start, params.period.end)
    ordered = (
        "SELECT *, toUnixTimestamp64Milli(timestamp) AS ms, "
        "ms - lagInFrame(ms, 1, 0) OVER w > "
        f"{timeout_ms} AS is_start FROM {source} "
        f"WHERE person_id != '' AND source NOT IN ('csv', 'import') AND {person} "
        "WINDOW w AS (PARTITION BY person_id ORDER BY timestamp, message_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    numbered = (
        "SELECT *, sum(toUInt64(is_start)) OVER (PARTITION BY person_id ORDER BY timestamp, "
        f"message_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session FROM ({ordered})"
    )
    entry = ", ".join(f"argMin({c}, (timestamp, message_id)) AS entry_{c}" for c in _ENTRY)
    channel = (
        "footfall_channel(entry_utm_source, entry_utm_medium, entry_page_referrer, entry_page_url, "
        "entry_gclid, entry_gbraid, entry_wbraid, entry_msclkid, entry_fbclid, entry_ttclid)"
    )
    return (
        f"SELECT *, {channel} AS channel FROM (SELECT person_id, session, "
        f"min(timestamp) AS start, max(timestamp) AS end, count() AS events, {entry} "
        f"FROM ({numbered}) GROUP BY person_id, session)"
    )


def sessions(client: Client, params: SessionParams) -> list[Session]:
    check_int("limit", params.limit, 1, 1_000_000)
    binder = Binder()
    inner = _sessions_sql(params, binder)
    limit = binder.bind(params.limit, "UInt64")
    sql = f"SELECT * FROM ({inner}) ORDER BY person_id, session LIMIT {limit}"
    out = []
    for row in client.query(sql, parameters=binder.parameters).named_results():
        out.append(
            Session(
                person_id=row["person_id"],
                index=int(row["session"]),
                start=row["start"],
                end=row["end"],
                events=int(row["events"]),
                entry_path=row["entry_page_path"],
                entry_url=row["entry_page_url"],
                referrer=row["entry_page_referrer"],
                utm_source=row["entry_utm_source"],
                utm_medium=row["entry_utm_medium"],
                utm_campaign=row["entry_utm_campaign"],
                utm_term=row["entry_utm_term"],
                utm_content=row["entry_utm_content"],
                click_ids={c: row[f"entry_{c}"] for c in CLICK_IDS if row[f"entry_{c}"]},
                channel=row["channel"],
            )
        )
    return out


def channels(client: Client, params: SessionParams) -> list[ChannelRow]:
    """Sessions and distinct persons per channel."""
    binder = Binder()
    inner = _sessions_sql(params, binder)
    sql = (
        f"SELECT channel, count(), uniqExact(person_id) FROM ({inner}) "
        "GROUP BY channel ORDER BY count() DESC, channel"
    )
    rows = client.query(sql, parameters=binder.parameters).result_rows
    return [ChannelRow(str(c), int(s), int(p)) for c, s, p in rows]


def person_touches(
    client: Client, period: Period, person_ids: list[str] | None = None, limit: int = 10_000
) -> list[PersonTouches]:
    """Each person's first and last campaign touch (footfall_is_touch) in the period."""
    check_period(period)
    check_int("limit", limit, 1, 1_000_000)
    binder = Binder()
    where = "1"
    if person_ids is not None:
        for pid in person_ids:
            check_name("person_ids", pid)
        where = f"person_id IN {binder.bind(list(person_ids), 'Array(String)')}"
    fields = f"(timestamp, {CHANNEL}, {', '.join(UTM)}, [{', '.join(CLICK_IDS)}], {REF_HOST})"
    sql = (
        f"SELECT person_id, argMin({fields}, (timestamp, message_id)), "
        f"argMax({fields}, (timestamp, message_id)) "
        f"FROM {resolved_events(binder, period.start, period.end)} "
        f"WHERE person_id != '' AND {IS_TOUCH} AND {where} "
        f"GROUP BY person_id ORDER BY person_id LIMIT {binder.bind(limit, 'UInt64')}"
    )
    out = []
    for pid, first, last in client.query(sql, parameters=binder.parameters).result_rows:
        out.append(PersonTouches(str(pid), _touch(first), _touch(last)))
    return out


def _touch(t: tuple[object, ...]) -> Touch:
    ids = t[7]
    assert isinstance(ids, list)
    at = t[0]
    assert isinstance(at, datetime)
    return Touch(
        at=at,
        channel=str(t[1]),
        utm_source=str(t[2]),
        utm_medium=str(t[3]),
        utm_campaign=str(t[4]),
        utm_term=str(t[5]),
        utm_content=str(t[6]),
        click_ids={name: str(v) for name, v in zip(CLICK_IDS, ids, strict=True) if v},
        referrer_host=str(t[8]),
    )
