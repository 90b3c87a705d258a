-- One revenue field for every path (issue 14). The tracker and the SDKs send properties.revenue,
-- Segment libraries revenue, total or value, and the CSV import stores its value_column as
-- properties.value: attribution read only `revenue`, so offline purchases counted with zero
-- revenue. ff_revenue (0007) becomes the first of revenue, total, value that holds a number
-- (a JSON number or a numeric string), in that order; 0 when none does. It is
-- the one definition: ClickHouse computes it for each event at insert, whoever sent it, and the
-- MATERIALIZE below recomputes it for the events already stored.
ALTER TABLE events
    MODIFY COLUMN ff_revenue Float64 MATERIALIZED
        if(type = 'track',
            coalesce(JSONExtract(properties, 'revenue', 'Nullable(Float64)'),
                     JSONExtract(properties, 'total', 'Nullable(Float64)'),
                     JSONExtract(properties, 'value', 'Nullable(Float64)'), 0.),
            0.);
ALTER TABLE events MATERIALIZE COLUMN ff_revenue SETTINGS mutations_sync = 2;
-- RudderStack SDKs send an identify's traits only in context.traits (no top-level traits); the
-- API now reads them from there (eventschema/validation.py). Identify events stored before that
-- get the same: their context.traits become their traits.
ALTER TABLE events UPDATE traits = JSONExtractRaw(context, 'traits')
    WHERE type = 'identify' AND traits IN ('', '{}', 'null')
        AND JSONType(context, 'traits') = 'Object'
    SETTINGS mutations_sync = 2;
