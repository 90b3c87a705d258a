"""Typed parameters of every report; validated in footfall_analytics.sql when compiled."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Scalar = str | int | float
Op = Literal["eq", "neq", "in", "not_in", "contains", "gt", "lt"]
# Step tokens that are not event names: any page view, any screen view, any event at all.
PAGE = "$page"
SCREEN = "$screen"
ANY = "$any"
# An event's revenue (stored per event as ff_revenue, migration 0010): properties.revenue, else
# .total, else .value, whichever path the event came by (tracker, SDKs, CSV import, Segment).
REVENUE = "revenue"


@dataclass(frozen=True)
class Period:
    """[start, end), timezone-aware or naive UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Filter:
    """field: an allowlisted column (footfall_analytics.sql.FIELDS) or `properties.<key>`."""

    field: str
    op: Op
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class Step:
    """event: an event name, or PAGE / SCREEN / ANY; filters apply to this step only."""

    event: str
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class FunnelParams:
    steps: tuple[Step, ...]
    period: Period
    window: timedelta = timedelta(days=1)
    filters: tuple[Filter, ...] = ()  # applied to every step's events
    breakdown: str | None = None  # a field; its value at the funnel's first step
    check_events_exist: bool = True  # unknown event names are a BadParameter


@dataclass(frozen=True)
class AttributionParams:
    period: Period  # conversions in this period
    model: Literal["first", "last", "linear"] = "last"
    dimension: Literal["campaign", "source", "channel", "section"] = "campaign"
    lookback: timedelta = timedelta(days=30)
    conversion_events: tuple[str, ...] = ("Order Completed",)
    revenue_property: str = REVENUE  # another name reads only that property
    filters: tuple[Filter, ...] = ()  # on the conversion events


@dataclass(frozen=True)
class RetentionParams:
    period: Period  # cohorts: persons first seen in this period
    weeks: int = 8
    activity_event: str | None = None  # None: any event counts as active
    as_of: datetime | None = None  # weeks starting after it are not yet known (None: now)


@dataclass(frozen=True)
class SessionParams:
    period: Period
    timeout: timedelta = timedelta(minutes=30)
    limit: int = 10_000
    person_id: str | None = None


@dataclass(frozen=True)
class TopParams:
    period: Period
    kind: Literal["events", "pages", "referrers", "campaigns"] = "events"
    limit: int = 20
    filters: tuple[Filter, ...] = field(default_factory=tuple)
