-- Generated from deploy/clickhouse/migrations/0007_revenue.sql by `python -m footfall.ch_cluster`
ALTER TABLE events_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS ff_revenue Float64 MATERIALIZED
        if(type = 'track', JSONExtractFloat(properties, 'revenue'), 0.);
ALTER TABLE events ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS ff_revenue Float64 MATERIALIZED
        if(type = 'track', JSONExtractFloat(properties, 'revenue'), 0.);
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_revenue SETTINGS mutations_sync = 2;
