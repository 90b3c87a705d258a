"""`python -m consumers.conversions [run]` uploads; `... replay [--platform P] [--reason R]`
sends dead-lettered conversions again through the same ledger and prints a summary."""

import argparse
import json
import logging
import signal
import sys
import time
from dataclasses import asdict
from datetime import timedelta
from types import FrameType

from consumers.conversions.config import ConversionsConfig
from consumers.conversions.dead_letters import DeadLetters
from consumers.conversions.http_server import serve
from consumers.conversions.ledger import Ledger
from consumers.conversions.outcomes import Platform
from consumers.conversions.platforms import Google, Meta
from consumers.conversions.resolve import DsnQuerier, Querier, Resolver, SinkQuerier, SinkWatch
from consumers.conversions.sources import LiveSource, ReplayFilter, ReplaySource
from consumers.conversions.worker import Worker

log = logging.getLogger("consumers.conversions")
STALL_SECONDS = 60.0


def build(config: ConversionsConfig, replay: ReplayFilter | None) -> Worker:
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
    source = LiveSource(config) if replay is None else ReplaySource(config, replay)
    return Worker(
        config,
        source,
        platforms,
        ledger,
        DeadLetters(config.kafka, config.dlq_topic, config.dead_letter_timeout),
        Resolver(querier, timedelta(days=config.click_window_days)),
        SinkWatch(config.kafka, config.sink_group, config.topics.events),
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m consumers.conversions")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="upload conversions (default)")
    replay = sub.add_parser("replay", help="re-send dead-lettered conversions")
    replay.add_argument("--platform", default="", choices=["", "meta", "google"])
    replay.add_argument("--reason", default="")
    args = parser.parse_args(argv)
    try:
        config = ConversionsConfig.from_env()
    except ValueError as error:  # a bad FOOTFALL_* value: say which, and do not start
        raise SystemExit(f"conversions: {error}") from None
    if config.meta is None and config.google is None:
        log.warning("no platform has credentials (FOOTFALL_META_*, FOOTFALL_GOOGLE_ADS_*): "
                    "nothing to upload")  # fmt: skip
    chosen = ReplayFilter(args.platform, args.reason) if args.command == "replay" else None
    worker = build(config, chosen)

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
