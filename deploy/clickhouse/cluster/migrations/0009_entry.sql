-- Generated from deploy/clickhouse/migrations/0009_entry.sql by `python -m footfall.ch_cluster`
ALTER TABLE events_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS entry LowCardinality(String)
    DEFAULT multiIf(source IN ('import', 'csv'), 'csv_import', source = 'kafka', 'kafka', 'unknown')
    AFTER source;
ALTER TABLE events ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS entry LowCardinality(String)
    DEFAULT multiIf(source IN ('import', 'csv'), 'csv_import', source = 'kafka', 'kafka', 'unknown')
    AFTER source;
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN entry SETTINGS mutations_sync = 2;
ALTER TABLE events_local ON CLUSTER '{cluster}' MODIFY COLUMN entry LowCardinality(String) DEFAULT 'kafka';
ALTER TABLE events ON CLUSTER '{cluster}' MODIFY COLUMN entry LowCardinality(String) DEFAULT 'kafka';
ALTER TABLE events_local ON CLUSTER '{cluster}' ADD CONSTRAINT IF NOT EXISTS entry_known
    CHECK entry IN ('unknown', 'browser_key', 'server_key', 'csv_import', 'kafka');
CREATE OR REPLACE VIEW events_resolved ON CLUSTER '{cluster}' AS
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
