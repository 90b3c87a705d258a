"""`python -m consumers.clickhouse_sink`: migrate, serve HTTP, run the loop until SIGTERM/SIGINT."""

import logging
import signal
import time
from types import FrameType

from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import SinkConfig
from consumers.clickhouse_sink.dead_letters import DeadLetters
from consumers.clickhouse_sink.erasure import Erasure
from consumers.clickhouse_sink.erasure_http import ErasureEndpoint
from consumers.clickhouse_sink.http_server import QueryService, ReaderPool, serve
from consumers.clickhouse_sink.loop import sink_runtime
from consumers.clickhouse_sink.writer import EventWriter, connect, connect_reader, ensure_database
from consumers.runtime.suppressions import SuppressionReader, SuppressionsUnavailable
from eventschema import paths
from eventschema.read_access import ReadKeys

log = logging.getLogger("consumers.clickhouse_sink")
STALL_SECONDS = 60.0


def _erasure(config: SinkConfig, client: Client) -> Erasure:
    """The whole suppression list, read before the first event (docs/privacy.md)."""
    audit = paths.data_dir() / "privacy" / "audit.jsonl"
    erasure = Erasure(SuppressionReader(config.kafka, config.topics.suppressions), client, audit)
    try:
        erasure.start()
    except SuppressionsUnavailable as error:  # unknown list: storing events could bring one back
        raise SystemExit(f"clickhouse_sink: {error} (create it: footfall topics)") from None
    return erasure


def _endpoint(config: SinkConfig, queries: QueryService) -> ErasureEndpoint:
    """POST /privacy/delete: only an erasure key (FOOTFALL_ERASURE_KEYS; SECURITY.md)."""
    try:
        keys = ReadKeys.from_env(name="FOOTFALL_ERASURE_KEYS")
    except ValueError as error:
        raise SystemExit(f"clickhouse_sink: FOOTFALL_ERASURE_KEYS: {error}") from None
    return ErasureEndpoint(keys, queries, config.kafka, config.topics.suppressions)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = SinkConfig.from_env()
    except ValueError as error:  # a bad FOOTFALL_* value: say which, and do not start
        raise SystemExit(f"clickhouse_sink: {error}") from None
    ensure_database(config.clickhouse_dsn, config.database)
    client = connect(config.clickhouse_dsn, config.database)
    applied = migrations.apply(client, config.migrations_dir)
    log.info("migrations applied now: %s", applied or "none")
    for table, what in migrations.apply_events_ttl(client, config.events_ttl_days).items():
        log.info("%s TTL: %s", table, what)
    dead_letters = DeadLetters(config.kafka, config.topics.dead_letter, config.dead_letter_timeout)
    erasure = _erasure(config, client)
    loop = sink_runtime(config, EventWriter(client), dead_letters, erasure)
    readers = ReaderPool([
        connect_reader(config.clickhouse_dsn, config.database, config.query_limits)
        for _ in range(config.query_concurrency)
    ])  # fmt: skip
    if not config.read_keys:
        log.warning("no read key configured (FOOTFALL_READ_KEYS): /query refuses every request")
    queries = QueryService(readers)
    server = serve(
        config.http_host,
        config.http_port,
        queries,
        lambda: time.monotonic() - loop.last_iteration < STALL_SECONDS,
        config.read_keys,
        config.allowed_hosts,
        request_deadline=config.http_request_deadline,
        erasure=_endpoint(config, queries),
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: flushing and stopping", signum)
        loop.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        loop.run()
    finally:
        server.shutdown()
        readers.close()
        erasure.close()
        client.close()


if __name__ == "__main__":
    main()
