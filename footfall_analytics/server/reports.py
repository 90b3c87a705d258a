"""The reports behind the JSON API and the CLI: Args in, JSON-ready dicts out.

Each one parses its arguments (args.py), calls the query library and turns its typed rows into
plain JSON. Bad input raises BadParameter (the HTTP layer answers 400)."""

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from clickhouse_connect.driver.client import Client

from footfall_analytics import (
    AttributionParams,
    FunnelParams,
    RetentionParams,
    SessionParams,
    TopParams,
    attribution,
    channels,
    founding_question,
    funnel,
    retention,
    top,
)
from footfall_analytics.errors import BadParameter
from footfall_analytics.params import REVENUE
from footfall_analytics.queries.retention import DEFINITIONS as RETENTION_DEFINITIONS
from footfall_analytics.remote import rows_as_json
from footfall_analytics.server import args as a
from footfall_analytics.server.conversions import conversions_status as uploader_status
from footfall_analytics.server.settings import DEFAULT_CONVERSIONS_URL
from footfall_analytics.sql import Binder, check_name, compile_filters, resolved_events

Report = Callable[[Client, a.Args], dict[str, Any]]
_INTERVALS = {
    "hour": ("toStartOfHour(timestamp)", timedelta(hours=1)),
    "day": ("toStartOfDay(timestamp)", timedelta(days=1)),
    "week": ("toDateTime(toMonday(timestamp), 'UTC')", timedelta(weeks=1)),
}
MAX_POINTS = 5000


def _json(value: object) -> Any:
    rows = rows_as_json([[asdict(cast(Any, value))]])
    return rows[0][0]


_P = a.PERIOD_ARGS
_FILTERS = ("filter", "filters")


def funnel_report(client: Client, args: a.Args) -> dict[str, Any]:
    args.only(*_P, *_FILTERS, "steps", "step_filter", "window", "breakdown")
    if not a.names(args, "steps"):
        raise BadParameter("steps", "give the funnel's steps, e.g. steps=Product Viewed,Signed Up")
    chosen = a.period(args, client)
    params = FunnelParams(
        steps=a.funnel_steps(args),  # with each step's own filters (step_filter=)
        period=chosen.period,
        window=a.duration(args, "window", timedelta(days=1)),
        filters=a.filters(args),
        breakdown=a.optional_text(args, "breakdown"),
    )
    groups = funnel(client, params)
    return {"period": chosen.as_json(), "groups": [_json(g) for g in groups]}


def founding_report(client: Client, args: a.Args) -> dict[str, Any]:
    args.only(*_P, "utm_source", "window")
    source = a.text(args, "utm_source", "facebook")
    check_name("utm_source", source)
    window = a.duration(args, "window", timedelta(days=1))
    chosen = a.period(args, client)
    persons = founding_question(client, chosen.period, source, window)
    return {"period": chosen.as_json(), "utm_source": source, "window_seconds":
            window.total_seconds(), "persons": persons}  # fmt: skip


def attribution_report(client: Client, args: a.Args) -> dict[str, Any]:
    args.only(*_P, *_FILTERS, "model", "dimension", "lookback", "conversion_events",
              "revenue_property")  # fmt: skip
    chosen = a.period(args, client)
    params = AttributionParams(
        period=chosen.period,
        model=cast(Any, a.text(args, "model", "last")),
        dimension=cast(Any, a.text(args, "dimension", "campaign")),
        lookback=a.duration(args, "lookback", timedelta(days=30)),
        conversion_events=a.names(args, "conversion_events", ("Order Completed",)),
        revenue_property=a.text(args, "revenue_property", REVENUE),
        filters=a.filters(args),
    )
    rows = attribution(client, params)
    return {"period": chosen.as_json(), "model": params.model,
            "dimension": params.dimension, "rows": [_json(r) for r in rows]}  # fmt: skip


def retention_report(client: Client, args: a.Args) -> dict[str, Any]:
    args.only(*_P, "weeks", "activity_event")
    chosen = a.period(args, client)
    params = RetentionParams(
        period=chosen.period,
        weeks=a.integer(args, "weeks", 8),
        activity_event=a.optional_text(args, "activity_event"),
    )
    rows = [_json(r) for r in retention(client, params)]
    return {"period": chosen.as_json(), "definitions": RETENTION_DEFINITIONS, "rows": rows}


def top_report(client: Client, args: a.Args) -> dict[str, Any]:
    args.only(*_P, *_FILTERS, "kind", "limit")
    chosen = a.period(args, client)
    params = TopParams(
        period=chosen.period,
        kind=cast(Any, a.text(args, "kind", "events")),
        limit=a.integer(args, "limit", 20),
        filters=a.filters(args),
    )
    rows = top(client, params)
    return {"period": chosen.as_json(), "kind": params.kind, "rows": [_json(r) for r in rows]}


def channels_report(client: Client, args: a.Args) -> dict[str, Any]:
    args.only(*_P, "timeout")
    chosen = a.period(args, client)
    params = SessionParams(
        period=chosen.period, timeout=a.duration(args, "timeout", timedelta(minutes=30))
    )
    return {"period": chosen.as_json(), "rows": [_json(r) for r in channels(client, params)]}


def events_over_time(client: Client, args: a.Args) -> dict[str, Any]:
    """Events and distinct persons per hour, day or week (empty buckets filled with zeros)."""
    args.only(*_P, *_FILTERS, "interval", "event")
    interval = a.text(args, "interval", "day")
    if interval not in _INTERVALS:
        raise BadParameter("interval", f"unknown interval {interval!r}; use hour, day or week")
    bucket, step = _INTERVALS[interval]
    chosen = a.period(args, client)
    period = chosen.period
    if (period.end - period.start) / step > MAX_POINTS:
        raise BadParameter("interval", f"more than {MAX_POINTS} points: use a longer interval")
    binder = Binder()
    where = compile_filters(a.filters(args), binder)
    event = a.optional_text(args, "event")
    if event is not None:
        check_name("event", event)
        where += f" AND event = {binder.bind(event, 'String')}"
    sql = (
        f"SELECT {bucket} AS t, count(), uniqExactIf(person_key, person_key != 0) "
        f"FROM {resolved_events(binder, period.start, period.end, where)} "
        f"WHERE {where} GROUP BY t ORDER BY t"
    )
    found = {
        _utc(t): (int(e), int(p))
        for t, e, p in client.query(sql, parameters=binder.parameters).result_rows
    }
    first = _utc(_floor(period.start, interval))
    rows, at = [], first
    while at < period.end:
        events, persons = found.get(at, (0, 0))
        rows.append({"t": at.isoformat(), "events": events, "persons": persons})
        at += step
    return {"period": chosen.as_json(), "interval": interval, "rows": rows}


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _floor(at: datetime, interval: str) -> datetime:
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if interval == "hour":
        return at
    at = at.replace(hour=0)
    return at - timedelta(days=at.weekday()) if interval == "week" else at


def event_names(client: Client, args: a.Args) -> dict[str, Any]:
    """Stored event names, most frequent first (the funnel builder's suggestions)."""
    args.only()
    rows = client.query(
        "SELECT event, count() AS n FROM events WHERE event != '' "
        "GROUP BY event ORDER BY n DESC, event LIMIT 500"
    ).result_rows
    return {"events": [{"event": str(e), "count": int(n)} for e, n in rows]}


def conversions_status(
    client: Client, args: a.Args, url: str = DEFAULT_CONVERSIONS_URL
) -> dict[str, Any]:
    """What the conversions uploader reports about itself ("not configured" when it is off)."""
    args.only()
    return uploader_status(url)


REPORTS: dict[str, Report] = {
    "funnel": funnel_report,
    "founding": founding_report,
    "attribution": attribution_report,
    "retention": retention_report,
    "top": top_report,
    "events-over-time": events_over_time,
    "sessions/channels": channels_report,
    "events": event_names,
    "conversions/status": conversions_status,
}


def reports_for(conversions_url: str) -> dict[str, Report]:
    """REPORTS, with the uploader's status read from `conversions_url`."""
    return {**REPORTS, "conversions/status": partial(conversions_status, url=conversions_url)}
