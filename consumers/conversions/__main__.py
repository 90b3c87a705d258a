"""`python -m consumers.conversions [run]` uploads; `... replay [--platform P] [--reason R]`
sends dead-lettered conversions again through the same ledger and prints a summary; `... backfill
--platform P --from T [--to T]` sends that platform the purchases of a period (periods.py)."""

import argparse
import json
import logging
import signal
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from types import FrameType

from consumers.conversions.config import ConversionsConfig
from consumers.conversions.dead_letters import DeadLetters
from consumers.conversions.http_server import serve
from consumers.conversions.ledger import Ledger
from consumers.conversions.outcomes import Platform
from consumers.conversions.periods import Period, backfill_period, live_periods, parse_time
from consumers.conversions.platforms import Google, Meta
from consumers.conversions.resolve import DsnQuerier, Querier, Resolver, SinkQuerier, SinkWatch
from consumers.conversions.sources import (
    BackfillRange,
    BackfillSource,
    LiveSource,
    ReplayFilter,
    ReplaySource,
    UploaderSource,
)
from consumers.conversions.worker import Worker
from consumers.runtime.suppressions import SuppressionReader, SuppressionsUnavailable

log = logging.getLogger("consumers.conversions")
STALL_SECONDS = 60.0


Chosen = ReplayFilter | BackfillRange | None


def build(config: ConversionsConfig, chosen: Chosen) -> Worker:
    platforms: list[Platform] = []
    if config.meta is not None:
        platforms.append(Meta(config.meta, config.default_region))
    if config.google is not None:
        platforms.append(Google(config.google, config.default_region))
    querier: Querier = (
        SinkQuerier(config.query_url, config.sink_read_key)
        if config.uses_sink_query
        else DsnQuerier(config.clickhouse_dsn, config.database)
    )
    ledger = Ledger(config.kafka, config.ledger_topic)
    ledger.load()
    source: UploaderSource
    periods: dict[str, Period] = {}
    if isinstance(chosen, ReplayFilter):
        source = ReplaySource(config, chosen)
    elif isinstance(chosen, BackfillRange):
        source = BackfillSource(config, chosen)
        periods[chosen.platform] = backfill_period(
            config, chosen.platform, chosen.since, chosen.until, datetime.now(UTC)
        )
    else:
        source = LiveSource(config)
        periods = live_periods(config, ledger, platforms)
    return Worker(
        config,
        source,
        platforms,
        ledger,
        DeadLetters(config.kafka, config.dlq_topic, config.dead_letter_timeout),
        Resolver(querier, timedelta(days=config.click_window_days), config.identity_entries),
        SinkWatch(config.kafka, config.sink_group, config.topics.events),
        periods,
        _suppressions(config),
    )


def _suppressions(config: ConversionsConfig) -> SuppressionReader:
    """The erasure list, whole, before the first purchase (a purchase of an erased person is
    never uploaded); refreshed before each poll."""
    reader = SuppressionReader(config.kafka, config.topics.suppressions)
    try:
        reader.load()
    except SuppressionsUnavailable as error:
        raise ValueError(f"{error} (create it: footfall topics)") from None
    return reader


def _chosen(args: argparse.Namespace) -> Chosen:
    if args.command == "replay":
        return ReplayFilter(args.platform, args.reason)
    if args.command == "backfill":
        until = parse_time(args.to) if args.to else datetime.now(UTC)
        return BackfillRange(args.platform, parse_time(args.since), until)
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m consumers.conversions")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="upload conversions (default)")
    replay = sub.add_parser("replay", help="re-send dead-lettered conversions")
    replay.add_argument("--platform", default="", choices=["", "meta", "google"])
    replay.add_argument("--reason", default="")
    backfill = sub.add_parser("backfill", help="send one platform the purchases of a period")
    backfill.add_argument("--platform", required=True, choices=["meta", "google"])
    backfill.add_argument("--from", dest="since", required=True, help="ISO-8601 (UTC if no offset)")
    backfill.add_argument("--to", default="", help="ISO-8601, exclusive (default: now)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        config = ConversionsConfig.from_env()
        chosen = _chosen(args)
        worker = build(config, chosen)
    except ValueError as error:  # a bad FOOTFALL_* value or period: say which, and do not start
        raise SystemExit(f"conversions: {error}") from None
    if config.meta is None and config.google is None:
        log.warning("no platform has credentials (FOOTFALL_META_*, FOOTFALL_GOOGLE_ADS_*): "
                    "nothing to upload")  # fmt: skip

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        worker.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if chosen is not None:
        summary = worker.run()
        print(json.dumps(asdict(summary)), flush=True)
        return 0
    server = serve(config.http_host, config.http_port,
                   lambda: time.monotonic() - worker.last_iteration < STALL_SECONDS)  # fmt: skip
    log.info("conversions uploader: platforms %s, dry run %s, metrics http://%s:%d/metrics",
             list(worker.uploaders), config.dry_run, config.http_host,
             server.server_address[1])  # fmt: skip
    try:
        worker.run()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
