"""Footfall analytics: identity, sessions, funnels, attribution, retention over footfall.events.

Every report is a function `report(client, params) -> typed rows`; `client` is any
clickhouse-connect client whose database holds the migrated events table (chdb:// or http://).
Values go to ClickHouse as query parameters; bad input raises BadParameter.
"""

from footfall_analytics.errors import BadParameter
from footfall_analytics.params import (
    ANY,
    PAGE,
    SCREEN,
    AttributionParams,
    Filter,
    FunnelParams,
    Period,
    RetentionParams,
    SessionParams,
    Step,
    TopParams,
)
from footfall_analytics.queries.attribution import AttributionRow, attribution
from footfall_analytics.queries.founding import founding_question
from footfall_analytics.queries.funnel import FunnelGroup, FunnelStep, funnel
from footfall_analytics.queries.identity import IdentityLink, identity_conflicts, person_of
from footfall_analytics.queries.retention import RetentionRow, retention
from footfall_analytics.queries.sessions import (
    ChannelRow,
    PersonTouches,
    Session,
    Touch,
    channels,
    person_touches,
    sessions,
)
from footfall_analytics.queries.top import TopRow, top

__all__ = [
    "ANY",
    "PAGE",
    "SCREEN",
    "AttributionParams",
    "AttributionRow",
    "BadParameter",
    "ChannelRow",
    "Filter",
    "FunnelGroup",
    "FunnelParams",
    "FunnelStep",
    "IdentityLink",
    "Period",
    "PersonTouches",
    "RetentionParams",
    "RetentionRow",
    "Session",
    "SessionParams",
    "Step",
    "TopParams",
    "TopRow",
    "Touch",
    "attribution",
    "channels",
    "founding_question",
    "funnel",
    "identity_conflicts",
    "person_of",
    "person_touches",
    "retention",
    "sessions",
    "top",
]
