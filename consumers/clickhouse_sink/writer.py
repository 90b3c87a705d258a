"""ClickHouse access for the sink: clients, Avro batch inserts with dedup tokens, stored offsets."""

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from eventschema.readonly_sql import QueryLimits

TABLE = "events"
# null_as_default (on by default) turns a null of a ["null", "string"] union into ''; allow
# missing fields lets an older schema version (v1 has no `source`) take the column's DEFAULT.
AVRO_SETTINGS = {
    "input_format_avro_allow_missing_fields": 1,
    "input_format_null_as_default": 1,
}


def connect(dsn: str, database: str | None = None) -> Client:
    """A client for `dsn` (chdb:///path or http(s)://user:pass@host:port)."""
    if database is None:
        return clickhouse_connect.get_client(dsn=dsn)
    return clickhouse_connect.get_client(dsn=dsn, database=database)


def ensure_database(dsn: str, database: str) -> None:
    bootstrap = connect(dsn)
    try:
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    finally:
        bootstrap.close()


def connect_reader(
    dsn: str, database: str, limits: QueryLimits | None = None
) -> tuple[Client, dict[str, object]]:
    """A separate read-only client and the settings to pass with each query.

    chDB applies per-query settings with SET on the client's session and cannot restore them once
    readonly=1 is set, so there the session itself is made read-only (limits first, readonly last)
    and queries carry no settings. Over HTTP settings travel with each request, readonly last.
    """
    client = connect(dsn, database)
    settings = (limits or QueryLimits()).read_only_settings()  # readonly last
    if not dsn.startswith("chdb:"):
        return client, settings
    for name, value in settings.items():
        client.command(f"SET {name} = {value!r}")
    return client, {}


class EventWriter:
    def __init__(self, client: Client) -> None:
        self.client = client

    def insert_avro(self, container: bytes, columns: list[str], token: str) -> None:
        """Insert one Avro object container (avro_block); the token makes a retry a no-op."""
        self.client.raw_insert(
            TABLE,
            column_names=columns,
            insert_block=container,
            settings={**AVRO_SETTINGS, "insert_deduplication_token": token},
            fmt="Avro",
        )

    def stored_offsets(self, topic: str) -> dict[int, int]:
        """max(kafka_offset) per partition already in ClickHouse for `topic`."""
        result = self.client.query(
            f"SELECT kafka_partition, max(kafka_offset) FROM {TABLE} "
            "WHERE kafka_topic = {topic:String} GROUP BY kafka_partition",
            parameters={"topic": topic},
        )
        return {int(partition): int(offset) for partition, offset in result.result_rows}
