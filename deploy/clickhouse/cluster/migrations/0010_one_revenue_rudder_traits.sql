-- Generated from deploy/clickhouse/migrations/0010_one_revenue_rudder_traits.sql by `python -m footfall.ch_cluster`
ALTER TABLE events_local ON CLUSTER '{cluster}' MODIFY COLUMN ff_revenue Float64 MATERIALIZED
        if(type = 'track',
            coalesce(JSONExtract(properties, 'revenue', 'Nullable(Float64)'),
                     JSONExtract(properties, 'total', 'Nullable(Float64)'),
                     JSONExtract(properties, 'value', 'Nullable(Float64)'), 0.),
            0.);
ALTER TABLE events ON CLUSTER '{cluster}' MODIFY COLUMN ff_revenue Float64 MATERIALIZED
        if(type = 'track',
            coalesce(JSONExtract(properties, 'revenue', 'Nullable(Float64)'),
                     JSONExtract(properties, 'total', 'Nullable(Float64)'),
                     JSONExtract(properties, 'value', 'Nullable(Float64)'), 0.),
            0.);
ALTER TABLE events_local ON CLUSTER '{cluster}' MATERIALIZE COLUMN ff_revenue SETTINGS mutations_sync = 2;
ALTER TABLE events_local ON CLUSTER '{cluster}' UPDATE traits = JSONExtractRaw(context, 'traits')
    WHERE type = 'identify' AND traits IN ('', '{}', 'null')
        AND JSONType(context, 'traits') = 'Object'
    SETTINGS mutations_sync = 2;
