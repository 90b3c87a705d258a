"""Time the funnel, attribution and retention reports on generated data (run by hand).

    python -m footfall_analytics.bench --dsn chdb:///tmp/ff-bench-1m --events 1000000

Generates the events first when the database holds fewer than --events (same seed, same data):
about 100 events per person (synthetic.LOYAL), then OPTIMIZE ... FINAL, unless --no-optimize
leaves the parts as the inserts and background merges made them (FINAL then merges at query time,
as it does on a live table between merges).
"""

import argparse
import time
from collections.abc import Callable
from datetime import timedelta

from footfall_analytics.generate import START, generate_into
from footfall_analytics.params import AttributionParams, Period, RetentionParams, Step
from footfall_analytics.params import FunnelParams as FP
from footfall_analytics.queries.attribution import attribution
from footfall_analytics.queries.founding import founding_question
from footfall_analytics.queries.funnel import funnel
from footfall_analytics.queries.retention import retention


def main() -> None:
    parser = argparse.ArgumentParser(description="time the analytics reports")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--database", default="footfall")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-optimize", action="store_true", help="keep the parts as inserted")
    args = parser.parse_args()
    from consumers.clickhouse_sink import migrations
    from consumers.clickhouse_sink.config import REPO_ROOT
    from consumers.clickhouse_sink.writer import connect, ensure_database

    ensure_database(args.dsn, args.database)
    client = connect(args.dsn, args.database)
    migrations.apply(client, REPO_ROOT / "deploy/clickhouse/migrations")
    have = int(client.query("SELECT count() FROM events").result_rows[0][0])
    if have < args.events:
        began = time.monotonic()
        wrote = generate_into(client, args.events - have, seed=have + 1)
        print(f"generated {wrote} events in {time.monotonic() - began:.1f}s")
        if not args.no_optimize:
            client.command("OPTIMIZE TABLE events FINAL")
    total = client.query("SELECT count() FROM events").result_rows[0][0]
    parts = client.query(
        "SELECT count() FROM system.parts WHERE active AND database = currentDatabase() "
        "AND table = 'events'"
    ).result_rows[0][0]
    period = Period(START, START + timedelta(weeks=52))
    steps = (Step("$page"), Step("Signed Up"), Step("Order Completed"))
    reports: dict[str, Callable[[], object]] = {
        "funnel 3 steps, 1 day": lambda: funnel(client, FP(steps=steps, period=period)),
        "funnel by channel": lambda: funnel(
            client, FP(steps=steps, period=period, breakdown="channel")
        ),
        "founding question": lambda: founding_question(client, period),
        "attribution last/campaign": lambda: attribution(client, AttributionParams(period=period)),
        "attribution linear/section": lambda: attribution(
            client, AttributionParams(period=period, model="linear", dimension="section")
        ),
        "retention 8 weeks": lambda: retention(client, RetentionParams(period=period)),
    }
    print(f"{total} events in {parts} parts")
    for name, run in reports.items():
        times = []
        for _ in range(args.repeat):
            began = time.monotonic()
            run()
            times.append(time.monotonic() - began)
        print(f"{name:32s} best {min(times):.3f}s  median {sorted(times)[len(times) // 2]:.3f}s")
    client.close()


if __name__ == "__main__":
    main()
