"""The columns of ClickHouse's `events` table that hold an event, as the sink stores it.

The table itself is defined by deploy/clickhouse/migrations (0001 creates it; the DEFAULT
expressions there derive page, UTM and click-id columns from the event's context). This is the
one Python list of those columns: the contract between the sink that writes them and whatever
reads them. Readers select subsets (the reports add derived ff_* columns of later migrations; the
synthetic generator fills a subset); tests/test_sink_migrations.py checks that every name used
anywhere is a column of the migrated table.
"""

UTM_COLUMNS: tuple[str, ...] = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)  # fmt: skip
CLICK_ID_COLUMNS: tuple[str, ...] = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid")
# Where the sink read the record: (kafka_topic, kafka_partition, kafka_offset) is unique per row.
KAFKA_COLUMNS: tuple[str, ...] = ("kafka_topic", "kafka_partition", "kafka_offset")

STORED_COLUMNS: tuple[str, ...] = (
    "message_id", "type", "event", "name", "anonymous_id", "user_id", "previous_id", "group_id",
    "timestamp", "original_timestamp", "sent_at", "received_at",
    "page_url", "page_path", "page_referrer", "page_title",
    *UTM_COLUMNS,
    *CLICK_ID_COLUMNS,
    "user_agent", "ip", "library_name", "library_version",
    "properties", "traits", "context", "integrations", "source", "entry",
    *KAFKA_COLUMNS,
)  # fmt: skip
