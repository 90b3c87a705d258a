-- Generated from deploy/clickhouse/migrations/0004_materialized_rules.sql by `python -m footfall.ch_cluster`
ALTER TABLE events_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS ff_channel LowCardinality(String) MATERIALIZED
        footfall_channel(utm_source, utm_medium, page_referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid),
    ADD COLUMN IF NOT EXISTS ff_is_touch UInt8 MATERIALIZED
        footfall_is_touch(utm_source, utm_medium, utm_campaign, page_referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid),
    ADD COLUMN IF NOT EXISTS ff_ref_host String MATERIALIZED footfall_ref_host(page_referrer, page_url),
    ADD COLUMN IF NOT EXISTS ff_section LowCardinality(String) MATERIALIZED JSONExtractString(properties, 'section');
ALTER TABLE events ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS ff_channel LowCardinality(String) MATERIALIZED
        footfall_channel(utm_source, utm_medium, page_referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid),
    ADD COLUMN IF NOT EXISTS ff_is_touch UInt8 MATERIALIZED
        footfall_is_touch(utm_source, utm_medium, utm_campaign, page_referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid),
    ADD COLUMN IF NOT EXISTS ff_ref_host String MATERIALIZED footfall_ref_host(page_referrer, page_url),
    ADD COLUMN IF NOT EXISTS ff_section LowCardinality(String) MATERIALIZED JSONExtractString(properties, 'section');
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_channel SETTINGS mutations_sync = 2;
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_is_touch SETTINGS mutations_sync = 2;
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_ref_host SETTINGS mutations_sync = 2;
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_section SETTINGS mutations_sync = 2;
