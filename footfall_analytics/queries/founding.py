"""The founding question, as a worked example of the funnel API:

    How many users registered and then purchased within one day after arriving
    from a Facebook campaign?

A 3-step funnel counted in persons: (1) any event tagged utm_source=facebook (the arrival; the
tracker tags the landing page), (2) "Signed Up", (3) "Order Completed" (online or offline:
offline purchases reach the person through identity), steps 2 and 3 within `window` (1 day) of
the arrival, each strictly later than the step before. Equivalent SQL is in docs/analytics.md.
"""

from datetime import timedelta

from clickhouse_connect.driver.client import Client

from footfall_analytics.params import ANY, Filter, FunnelParams, Period, Step
from footfall_analytics.queries.funnel import funnel


def founding_params(
    period: Period,
    utm_source: str = "facebook",
    register_event: str = "Signed Up",
    purchase_event: str = "Order Completed",
    window: timedelta = timedelta(days=1),
) -> FunnelParams:
    return FunnelParams(
        steps=(
            Step(ANY, (Filter("utm_source", "eq", utm_source),)),
            Step(register_event),
            Step(purchase_event),
        ),
        period=period,
        window=window,
    )


def founding_question(
    client: Client,
    period: Period,
    utm_source: str = "facebook",
    window: timedelta = timedelta(days=1),
) -> int:
    """Persons who arrived from the campaign in `period`, then registered, then purchased, all
    within `window` (one day) of arriving. utm_source compares ignoring case (sql.FIELDS)."""
    groups = funnel(client, founding_params(period, utm_source, window=window))
    return groups[0].steps[2].persons if groups else 0
