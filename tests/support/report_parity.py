"""Every report of footfall_analytics compared between two ClickHouse clients holding the same
events: a cluster schema against the single node (tests/test_cluster_clickhouse_migrations.py on
chDB, tests/test_docker_chcluster.py on a real cluster)."""

from datetime import datetime, timedelta
from typing import Any

from footfall_analytics import (
    AttributionParams,
    FunnelParams,
    Period,
    RetentionParams,
    SessionParams,
    Step,
    TopParams,
    attribution,
    channels,
    founding_question,
    funnel,
    identity_conflicts,
    retention,
    top,
)


def assert_reports_agree(cluster: Any, single: Any, start: datetime) -> None:
    """The reports over the 30 weeks from `start` are equal on both, and not empty."""
    period = Period(start, start + timedelta(weeks=30))
    for kind in ("events", "pages", "referrers", "campaigns"):
        params = TopParams(period=period, kind=kind, limit=1000)
        assert top(cluster, params) == top(single, params), kind
    sessions = SessionParams(period=period)
    assert channels(cluster, sessions) == channels(single, sessions)
    for model in ("first", "last", "linear"):
        for dimension in ("channel", "campaign"):
            params_a = AttributionParams(period=period, model=model, dimension=dimension)
            assert attribution(cluster, params_a) == attribution(single, params_a), model
    steps = (Step("Product Viewed"), Step("Signed Up"), Step("Order Completed"))
    params_f = FunnelParams(steps=steps, period=period)
    assert funnel(cluster, params_f) == funnel(single, params_f)
    assert founding_question(cluster, period) == founding_question(single, period)
    weekly = RetentionParams(period=period, weeks=6, as_of=start + timedelta(weeks=30))
    assert retention(cluster, weekly) == retention(single, weekly)
    assert identity_conflicts(cluster) == identity_conflicts(single)
    assert top(single, TopParams(period=period)), "no data: the comparison would prove nothing"
