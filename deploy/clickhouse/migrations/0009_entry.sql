-- entry: how each event entered Footfall (eventschema/entry.py; Avro v3). The API writes
-- browser_key, server_key or csv_import; a record without the field (Avro v1/v2, i.e. a direct
-- Kafka producer or an API from before v3) takes the DEFAULT, kafka, as the uploader reads it.
--
-- LowCardinality(String) with a CHECK, not Enum8: ClickHouse's Avro input does not turn an Avro
-- string into an Enum8, and an Avro enum would cost the API its compiled writer and make a new
-- value unreadable for older consumers. The sink dead-letters a record whose entry the CHECK
-- would refuse (consumers/clickhouse_sink/processor.py), so one bad record cannot stall a batch.
--
-- Rows stored before this migration: /v1/import and CSV rows (source import/csv) needed a server
-- key, so csv_import; SDK rows (source kafka) kafka; live API rows (source http) may have come
-- from a browser or a server key, which nothing recorded, so unknown. The backfill is a DEFAULT
-- written into the old parts (MATERIALIZE), then the DEFAULT for new rows becomes kafka.
ALTER TABLE events ADD COLUMN IF NOT EXISTS entry LowCardinality(String)
    DEFAULT multiIf(source IN ('import', 'csv'), 'csv_import', source = 'kafka', 'kafka', 'unknown')
    AFTER source;
ALTER TABLE events MATERIALIZE COLUMN entry SETTINGS mutations_sync = 2;
ALTER TABLE events MODIFY COLUMN entry LowCardinality(String) DEFAULT 'kafka';
ALTER TABLE events ADD CONSTRAINT IF NOT EXISTS entry_known
    CHECK entry IN ('unknown', 'browser_key', 'server_key', 'csv_import', 'kafka');
-- events_resolved (0008) fixed its `e.*` columns when it was created: recreate it to show entry.
CREATE OR REPLACE VIEW events_resolved AS
SELECT
    e.*,
    e.ff_channel AS ff_channel,
    e.ff_is_touch AS ff_is_touch,
    e.ff_ref_host AS ff_ref_host,
    e.ff_section AS ff_section,
    e.ff_revenue AS ff_revenue,
    multiIf(footfall_valid_id(e.user_id), concat('u:', e.user_id),
        m.user_id != '', concat('u:', m.user_id),
        footfall_valid_id(e.anonymous_id), concat('a:', e.anonymous_id), '') AS person_id,
    multiIf(e.ff_user_key != 0, e.ff_user_key, m.user_key != 0, m.user_key, e.ff_anon_key)
        AS person_key
FROM events AS e FINAL
LEFT ANY JOIN identity_keys AS m ON e.ff_anon_key = m.anon_key;
