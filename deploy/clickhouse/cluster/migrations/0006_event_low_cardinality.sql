-- Generated from deploy/clickhouse/migrations/0006_event_low_cardinality.sql by `python -m footfall.ch_cluster`
ALTER TABLE events_local ON CLUSTER '{cluster}' MODIFY COLUMN event LowCardinality(String) DEFAULT '' SETTINGS mutations_sync = 2;
ALTER TABLE events ON CLUSTER '{cluster}' MODIFY COLUMN event LowCardinality(String) DEFAULT '' SETTINGS mutations_sync = 2;
