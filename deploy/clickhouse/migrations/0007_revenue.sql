-- properties.revenue stored per event at insert (query speed): attribution sums the revenue of
-- conversions, and reading the properties JSON for it cost about 0.4 s of a 1 s report at 10M
-- events (the column is the table's largest, and conversions sit in every granule). Only track
-- events carry an event name, so only they can be conversions; other types store 0 and skip the
-- parse. A report asking for another revenue property still reads the JSON.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS ff_revenue Float64 MATERIALIZED
        if(type = 'track', JSONExtractFloat(properties, 'revenue'), 0.);
ALTER TABLE events MATERIALIZE COLUMN ff_revenue SETTINGS mutations_sync = 2;
