"""`python -m consumers.clickhouse_sink`: migrate, serve HTTP, run the loop until SIGTERM/SIGINT."""

import logging
import signal
import time
from types import FrameType

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import SinkConfig
from consumers.clickhouse_sink.dead_letters import DeadLetters
from consumers.clickhouse_sink.http_server import QueryService, serve
from consumers.clickhouse_sink.loop import SinkLoop
from consumers.clickhouse_sink.writer import EventWriter, connect, connect_reader, ensure_database

log = logging.getLogger("consumers.clickhouse_sink")
STALL_SECONDS = 60.0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = SinkConfig.from_env()
    ensure_database(config.clickhouse_dsn, config.database)
    client = connect(config.clickhouse_dsn, config.database)
    applied = migrations.apply(client, config.migrations_dir)
    log.info("migrations applied now: %s", applied or "none")
    dead_letters = DeadLetters(
        config.bootstrap, config.topics.dead_letter, config.dead_letter_timeout
    )
    loop = SinkLoop(config, EventWriter(client), dead_letters)
    reader, settings = connect_reader(config.clickhouse_dsn, config.database)
    server = serve(
        config.http_host,
        config.http_port,
        QueryService(reader, settings),
        lambda: time.monotonic() - loop.last_iteration < STALL_SECONDS,
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
        reader.close()
        client.close()


if __name__ == "__main__":
    main()
