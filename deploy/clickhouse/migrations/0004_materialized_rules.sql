-- Per-event rule results stored at insert (query speed): the channel, touch flag, referrer host
-- and site section of each event are pure functions of the event's own columns, yet computing
-- them at query time (regexes, URL parsing, JSON) dominated the reports (3 s per 5M rows for the
-- channel alone). MATERIALIZED columns are computed on insert and not part of SELECT *; the
-- MATERIALIZE COLUMN mutations back-fill events stored before this migration (until a part is
-- rewritten, reads compute the expression for it, so answers are the same meanwhile).
-- A later migration that redefines one of the footfall_ rules must MODIFY the column with the
-- same expression and MATERIALIZE it again.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS ff_channel LowCardinality(String) MATERIALIZED
        footfall_channel(utm_source, utm_medium, page_referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid),
    ADD COLUMN IF NOT EXISTS ff_is_touch UInt8 MATERIALIZED
        footfall_is_touch(utm_source, utm_medium, utm_campaign, page_referrer, page_url, gclid, gbraid, wbraid, msclkid, fbclid, ttclid),
    ADD COLUMN IF NOT EXISTS ff_ref_host String MATERIALIZED footfall_ref_host(page_referrer, page_url),
    ADD COLUMN IF NOT EXISTS ff_section LowCardinality(String) MATERIALIZED JSONExtractString(properties, 'section');
ALTER TABLE events MATERIALIZE COLUMN ff_channel SETTINGS mutations_sync = 2;
ALTER TABLE events MATERIALIZE COLUMN ff_is_touch SETTINGS mutations_sync = 2;
ALTER TABLE events MATERIALIZE COLUMN ff_ref_host SETTINGS mutations_sync = 2;
ALTER TABLE events MATERIALIZE COLUMN ff_section SETTINGS mutations_sync = 2;
